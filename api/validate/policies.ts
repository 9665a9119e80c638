/** DestinationRules, AuthorizationPolicies and ServiceEntries against the registry. */
import { hostNeighbours } from './host-pairs';
import { finding, type Finding } from '../findings';
import { fqdn, hostMatches, namespaceOf } from '../hosts';
import type { Registry } from '../registry';
import type { AuthorizationPolicy, DestinationRule, ServiceEntry } from '../resources';
import { isToken } from '../tokens';
import { exportScopes, scopesOverlap, visibleIn } from '../visibility';

/** Namespaces whose policies apply to the whole mesh (mast's, and Istio's for migrated YAML). */
export const ROOT_NAMESPACES = ['mast-system', 'istio-system'];

type Tls = { mode?: string; caCertificates?: string; credentialName?: string; insecureSkipVerify?: boolean } | undefined;

/** What mast-proxy checks the server's certificate against when the rule names no CA file. */
const checkedBy = (tls: Tls) =>
  tls?.credentialName
    ? `mast-proxy checks it against the CA of the Secret "${tls.credentialName}" at a gateway, the system roots at a sidecar`
    : 'mast-proxy checks it against the system roots';

/** TLS origination without a CA does not verify the server (credentialName counts only with a workloadSelector). */
export function checkTlsVerification(dr: DestinationRule): Finding[] {
  const verifies = (tls: Tls) =>
    !!tls?.caCertificates || tls?.insecureSkipVerify === true || (!!tls?.credentialName && !!dr.spec.workloadSelector);
  const unverified = (tls: Tls) => (tls?.mode === 'SIMPLE' || tls?.mode === 'MUTUAL') && !verifies(tls);
  const out: Finding[] = [];
  const policy = dr.spec.trafficPolicy;
  if (unverified(policy?.tls))
    out.push(
      finding(
        'MAST0219',
        dr,
        'spec.trafficPolicy.tls',
        `mode ${policy!.tls!.mode} without caCertificates: Istio does not verify the server's certificate (${checkedBy(policy?.tls)})`,
      ),
    );
  policy?.portLevelSettings?.forEach((p, i) => {
    if (unverified(p.tls))
      out.push(
        finding(
          'MAST0220',
          dr,
          `spec.trafficPolicy.portLevelSettings[${i}].tls`,
          `mode ${p.tls!.mode} on port ${p.port?.number} without caCertificates: Istio does not verify the server's certificate (${checkedBy(p.tls)})`,
        ),
      );
  });
  return out;
}

/** A DestinationRule for a host nobody serves does nothing. */
export function checkDestinationRuleHost(dr: DestinationRule, registry: Registry): Finding[] {
  if (isToken(dr.spec.host)) return [];
  const ns = namespaceOf(dr);
  const host = fqdn(dr.spec.host, ns);
  const known = registry.services.some((s) => visibleIn(s.exportTo, ns) && (hostMatches(s.host, host) || hostMatches(host, s.host)));
  return known ? [] : [finding('MAST0221', dr, 'spec.host', `host "${dr.spec.host}" (${host}) matches no Service or ServiceEntry`)];
}

/** Subsets must select at least one workload of the service they refine. */
export function checkSubsetWorkloads(dr: DestinationRule, registry: Registry): Finding[] {
  if (isToken(dr.spec.host)) return [];
  const host = fqdn(dr.spec.host, namespaceOf(dr));
  const services = registry.services.filter((s) => s.host === host && (s.selector !== undefined || s.source === 'ServiceEntry'));
  if (services.length === 0) return [];
  const out: Finding[] = [];
  dr.spec.subsets?.forEach((subset, i) => {
    if (!subset.labels || Object.values(subset.labels).some(isToken)) return;
    const matched = services.some((s) => registry.select(s.namespace, { ...(s.selector ?? {}), ...subset.labels }).length > 0);
    if (!matched)
      out.push(
        finding(
          'MAST0205',
          dr,
          `spec.subsets[${i}].labels`,
          `subset "${subset.name}" (labels ${JSON.stringify(subset.labels)}) selects no workload of ${dr.spec.host}`,
        ),
      );
  });
  return out;
}

const globMatches = (pattern: string, ns: string) =>
  pattern === '*' ||
  pattern === ns ||
  (pattern.startsWith('*') && ns.endsWith(pattern.slice(1))) ||
  (pattern.endsWith('*') && ns.startsWith(pattern.slice(0, -1)));

/** What a policy's rules would have done, for a finding that says it does nothing: `DENY (to ports 9000; from ipBlocks 1.2.3.4)`. */
function whatItEnforces(ap: AuthorizationPolicy): string {
  const action = ap.spec.action ?? 'ALLOW';
  const rules = ap.spec.rules ?? [];
  if (rules.length === 0) return action === 'ALLOW' ? 'ALLOW with no rules (deny all)' : `${action} with no rules`;
  const fields = (o: object | undefined) =>
    Object.entries(o ?? {})
      .filter(([, v]) => Array.isArray(v) && v.length)
      .map(([k, v]) => `${k} ${(v as string[]).join(', ')}`);
  const parts = rules.flatMap((r) => [
    ...(r.from ?? []).flatMap((f) => fields(f.source)).map((s) => `from ${s}`),
    ...(r.to ?? []).flatMap((t) => fields(t.operation)).map((s) => `to ${s}`),
    ...(r.when ?? []).map((w) => `when ${w.key}`),
  ]);
  const shown = [...new Set(parts)];
  return `${action}${shown.length ? ` (${shown.slice(0, 4).join('; ')}${shown.length > 4 ? '; …' : ''})` : ' (every request)'}`;
}

export function checkAuthorizationPolicy(ap: AuthorizationPolicy, registry: Registry): Finding[] {
  const out: Finding[] = [];
  const ns = namespaceOf(ap);
  const meshWide = ROOT_NAMESPACES.includes(ns);
  const labels = ap.spec.selector?.matchLabels;
  // Only an input that describes workloads can show that a selector matches none of them.
  if (registry.knowsWorkloads && !(meshWide && !labels) && registry.select(meshWide ? undefined : ns, labels).length === 0) {
    const where = labels
      ? `selector ${JSON.stringify(labels)} matches no workload${meshWide ? ' in the mesh' : ` in ${ns}`}`
      : `namespace ${ns} has no workloads`;
    out.push(
      finding(
        'MAST0222',
        ap,
        labels ? 'spec.selector' : 'metadata.namespace',
        `${where}: nothing enforces its ${whatItEnforces(ap)} on the workloads it was written for`,
      ),
    );
  }
  ap.spec.rules?.forEach((rule, r) =>
    rule.from?.forEach((from, f) => {
      for (const field of ['namespaces', 'notNamespaces'] as const)
        from.source?.[field]?.forEach((pattern, i) => {
          if (!isToken(pattern) && ![...registry.namespaces].some((n) => globMatches(pattern, n)))
            out.push(finding('MAST0223', ap, `spec.rules[${r}].from[${f}].source.${field}[${i}]`, `no namespace matches "${pattern}"`));
        });
    }),
  );
  return out;
}

/** Without addresses, a TCP port of a ServiceEntry can only be told apart by port: it captures all traffic to that port. */
export function checkServiceEntryAddresses(se: ServiceEntry): Finding[] {
  if (se.spec.addresses?.length) return [];
  const i = (se.spec.ports ?? []).findIndex((p) => !p.protocol || p.protocol.toUpperCase() === 'TCP');
  return i < 0
    ? []
    : [
        finding(
          'MAST0224',
          se,
          `spec.ports[${i}].protocol`,
          `port ${se.spec.ports![i].number} is ${se.spec.ports![i].protocol || 'unset (TCP)'} and the entry has no addresses: set addresses or an application protocol`,
        ),
      ];
}

/** One host and port declared with two protocols by ServiceEntries visible together. */
export function checkServiceEntryProtocols(entries: readonly ServiceEntry[]): Finding[] {
  const out: Finding[] = [];
  const neighbours = hostNeighbours(entries, (se) => (Array.isArray(se.spec.hosts) ? se.spec.hosts : []));
  for (const a of entries)
    for (const b of neighbours(a)) {
      if (a === b || !scopesOverlap(exportScopes(a.spec.exportTo, namespaceOf(a)), exportScopes(b.spec.exportTo, namespaceOf(b)))) continue;
      const clash = (a.spec.ports ?? []).find((pa) =>
        (b.spec.ports ?? []).some(
          (pb) => pa.number === pb.number && (pa.protocol ?? '').toUpperCase() !== (pb.protocol ?? '').toUpperCase(),
        ),
      );
      const host = a.spec.hosts.find((h) => b.spec.hosts.some((k) => hostMatches(h, k) || hostMatches(k, h)));
      if (clash && host)
        out.push(
          finding(
            'MAST0225',
            a,
            'spec.ports',
            `host "${host}" port ${clash.number} is ${clash.protocol} here but another protocol in ServiceEntry ${namespaceOf(b)}/${b.metadata.name}`,
          ),
        );
    }
  return out;
}
