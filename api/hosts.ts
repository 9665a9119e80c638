/** Host names as Istio reads them: short names, FQDNs, wildcards, `namespace/host`. */

export const CLUSTER_DOMAIN = 'cluster.local';
export const DEFAULT_NAMESPACE = 'default';
export const MESH_GATEWAY = 'mesh';

/** A short name (no dot) is a Service in the given namespace; anything else is taken as written. */
export function fqdn(host: string, namespace: string): string {
  if (host.includes('.') || host.includes('*')) return host.toLowerCase();
  return `${host}.${namespace}.svc.${CLUSTER_DOMAIN}`.toLowerCase();
}

/** `ns/name` → { namespace: ns, name }; a bare name lives in `namespace`. */
export function splitRef(ref: string, namespace: string): { namespace: string; name: string } {
  const slash = ref.indexOf('/');
  return slash < 0 ? { namespace, name: ref } : { namespace: ref.slice(0, slash), name: ref.slice(slash + 1) };
}

/** Gateway server hosts may be `namespace/host`, `./host` or `* /host`; the host part only. */
export function stripNamespace(host: string): string {
  const slash = host.indexOf('/');
  return slash < 0 ? host : host.slice(slash + 1);
}

/** Does `pattern` (maybe a wildcard such as `*.example.com` or `*`) cover `host`? */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p === '*' || p === h) return true;
  if (p.startsWith('*')) {
    const suffix = p.slice(1);
    if (h.startsWith('*')) return h.slice(1).endsWith(suffix);
    return h.endsWith(suffix) && h.length > suffix.length;
  }
  return false;
}

/** Two host patterns overlap when either covers the other. */
export function hostsOverlap(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/i;

/** A DNS name, optionally starting with `*.` (or the lone `*` when `allowStar`). */
export function isValidHost(host: string, allowStar = true): boolean {
  if (host === '*') return allowStar;
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => label.length <= 63 && LABEL.test(label));
}

export function namespaceOf(obj: { metadata?: { namespace?: string } }): string {
  return obj.metadata?.namespace || DEFAULT_NAMESPACE;
}

/** Every label of `selector` is present with the same value in `labels`. */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
