/**
 * Trust domain migration in AuthorizationPolicy (Istio's trust domain bundle): the mesh's trust
 * domain and its aliases count as one. A principal `<td>/ns/<ns>/sa/<sa>` whose trust domain is one
 * of them, or `cluster.local` (a name for the mesh's own, whatever it is), stands for that identity in
 * every one of them; a principal of another trust domain, `*` or one not of that form stays as
 * written. Patterns count as Istio counts them (`old*` or `*-td` in the policy, or in the bundle,
 * match by prefix or suffix); a `*suffix` trust domain stays as written where it covers one of the
 * bundle's, any other is replaced by each of the bundle's. Pure.
 */
import { DEFAULT_TRUST_DOMAIN } from '../../api';

/** The mesh's trust domain first, then its aliases. */
export type TrustDomainBundle = readonly string[];

/** `values` with each principal written once per trust domain of the bundle, where Istio does so. */
export function expandPrincipals(values: readonly string[], bundle: TrustDomainBundle): string[] {
  // The default mesh (cluster.local, no alias) changes nothing: skip the work.
  if (bundle.length === 1 && bundle[0] === DEFAULT_TRUST_DOMAIN) return [...values];
  const out: string[] = [];
  for (const principal of values) {
    const parts = principal.split('/');
    const td = parts[0];
    const enforced = parts.length === 5 && td !== '*';
    if (!enforced || !(bundle.some((b) => sameDomain(td, b)) || td === DEFAULT_TRUST_DOMAIN)) {
      out.push(principal);
      continue;
    }
    const rest = parts.slice(1).join('/');
    for (const b of bundle) {
      const next = suffixMatch(b, td) ? principal : `${b}/${rest}`;
      if (!out.includes(next)) out.push(next);
    }
  }
  return out;
}

/** Istio's trust domain match: equal, `*`, or a prefix (`old*`) or suffix (`*-td`) pattern on either side. */
function sameDomain(a: string, b: string): boolean {
  return a === b || b === '*' || prefixMatch(a, b) || prefixMatch(b, a) || suffixMatch(a, b) || suffixMatch(b, a);
}

const prefixMatch = (a: string, pattern: string) => pattern.endsWith('*') && a.startsWith(pattern.slice(0, -1));
const suffixMatch = (a: string, pattern: string) => pattern.startsWith('*') && a.endsWith(pattern.slice(1));
