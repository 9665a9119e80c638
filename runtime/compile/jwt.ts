/**
 * The RequestAuthentications of one proxy, compiled to the JWT rules its listeners verify. As
 * Istio merges them (unlike PeerAuthentication, none overrides another): every policy in a root
 * namespace without a selector (mesh-wide), in the proxy's namespace without a selector, and any
 * whose selector matches the proxy's labels (a root-namespace selector selects across the mesh).
 * The keys go inline: an inline `jwks`, or what mastd fetched from `jwksUri` (the snapshot's
 * `jwks`); a rule whose keys are not there gets none, so its tokens are refused, never accepted
 * unverified. Pure.
 */
import { ROOT_NAMESPACES, namespaceOf, selects, type JwtRule, type RequestAuthentication } from '../../api';
import type { ProxyIdentity } from '../contract/push-protocol';
import type { FetchedJwks, Jwk, JwtConfig, JwtRuleConfig } from '../contract/jwt';
import { byKind, type MeshIndex } from './mesh-index';

/** Istio's token locations when a rule names none (Envoy's jwt_authn defaults). */
const DEFAULT_HEADER = { name: 'authorization', prefix: 'Bearer ' } as const;
const DEFAULT_PARAM = 'access_token';

/** The keys of an inline JWKS (validated on ingest; anything else gives no keys). */
export function parseJwks(text: string): Jwk[] {
  try {
    const keys = (JSON.parse(text) as { keys?: unknown }).keys;
    return Array.isArray(keys) ? keys.filter((k): k is Jwk => typeof k === 'object' && k !== null && typeof k.kty === 'string') : [];
  } catch {
    return [];
  }
}

/** The RequestAuthentications that apply to a proxy, in name order (for a stable config). */
export function requestAuthenticationsFor(index: MeshIndex, proxy: ProxyIdentity): RequestAuthentication[] {
  return (byKind(index, 'RequestAuthentication') as RequestAuthentication[])
    .filter((p) => ROOT_NAMESPACES.includes(namespaceOf(p)) || namespaceOf(p) === proxy.namespace)
    .filter((p) => !p.spec.selector?.matchLabels || selects(p.spec.selector.matchLabels, proxy.labels))
    .sort((a, b) => `${namespaceOf(a)}/${a.metadata.name}`.localeCompare(`${namespaceOf(b)}/${b.metadata.name}`));
}

export function compileJwtRule(rule: JwtRule, name: string, fetched: FetchedJwks | undefined): JwtRuleConfig {
  const keys = rule.jwks !== undefined ? parseJwks(rule.jwks) : rule.jwksUri !== undefined ? (fetched?.get(rule.jwksUri) ?? []) : [];
  const located = !!(rule.fromHeaders?.length || rule.fromParams?.length || rule.fromCookies?.length);
  return {
    name,
    issuer: rule.issuer,
    ...(rule.audiences?.length ? { audiences: [...rule.audiences] } : {}),
    keys,
    fromHeaders: located
      ? (rule.fromHeaders ?? []).map((h) => ({ name: h.name.toLowerCase(), ...(h.prefix ? { prefix: h.prefix } : {}) }))
      : [DEFAULT_HEADER],
    fromParams: located ? [...(rule.fromParams ?? [])] : [DEFAULT_PARAM],
    fromCookies: [...(rule.fromCookies ?? [])],
    ...(rule.forwardOriginalToken ? { forwardOriginalToken: true } : {}),
    ...(rule.outputPayloadToHeader ? { outputPayloadToHeader: rule.outputPayloadToHeader.toLowerCase() } : {}),
    ...(rule.outputClaimToHeaders?.length
      ? { outputClaimToHeaders: rule.outputClaimToHeaders.map((o) => ({ header: o.header.toLowerCase(), claim: o.claim })) }
      : {}),
  };
}

/** The JWT config of a proxy's listeners; undefined when no RequestAuthentication applies. */
export function jwtFor(index: MeshIndex, proxy: ProxyIdentity): JwtConfig | undefined {
  const rules = requestAuthenticationsFor(index, proxy).flatMap((p) =>
    (p.spec.jwtRules ?? []).map((r, i) => compileJwtRule(r, `${namespaceOf(p)}/${p.metadata.name}[${i}]`, index.snapshot.jwks)),
  );
  return rules.length ? { rules } : undefined;
}

/** Every `jwksUri` of the snapshot's RequestAuthentications: what mastd keeps fetched. */
export function jwksUris(resources: readonly { kind: string; spec?: unknown }[]): string[] {
  const uris = new Set<string>();
  for (const r of resources)
    if (r.kind === 'RequestAuthentication')
      for (const rule of (r.spec as RequestAuthentication['spec'] | undefined)?.jwtRules ?? []) if (rule.jwksUri) uris.add(rule.jwksUri);
  return [...uris].sort();
}
