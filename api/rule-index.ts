/**
 * DestinationRules by the host they resolve to, built once per list of rules: exact hosts are
 * looked up, wildcard ones kept aside and matched. The analysis and the compiler both ask this
 * for every destination; a scan of every rule each time made them quadratic.
 */
import { fqdn, hostMatches, namespaceOf } from './hosts';
import type { DestinationRule } from './resources';

const indexes = new WeakMap<readonly DestinationRule[], { exact: Map<string, DestinationRule[]>; wildcard: DestinationRule[] }>();

/** The rules of `rules` whose host matches `host` (an FQDN): those naming it exactly, and the wildcards covering it. */
export function rulesForHost(rules: readonly DestinationRule[], host: string): { exact: DestinationRule[]; wildcard: DestinationRule[] } {
  let idx = indexes.get(rules);
  if (!idx) {
    idx = { exact: new Map(), wildcard: [] };
    for (const dr of rules) {
      const h = fqdn(dr.spec.host, namespaceOf(dr));
      if (h.includes('*')) idx.wildcard.push(dr);
      else idx.exact.set(h, [...(idx.exact.get(h) ?? []), dr]);
    }
    indexes.set(rules, idx);
  }
  return {
    exact: idx.exact.get(host.toLowerCase()) ?? [],
    wildcard: idx.wildcard.filter((dr) => hostMatches(fqdn(dr.spec.host, namespaceOf(dr)), host)),
  };
}
