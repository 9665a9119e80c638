/**
 * The public hostnames of an environment come from its Gateway resources (one source
 * of truth): every server host, `namespace/` stripped. Each becomes a DNS record in
 * the zone: a CNAME to the NLB, or an alias at the zone apex, where a CNAME is illegal.
 */
import { isToken, selects, stripNamespace, type KubeObject } from '../api';

export type RecordPlan = { readonly host: string; readonly type: 'CNAME' | 'ALIAS' };

export class DnsPlanError extends Error {
  constructor(
    readonly code: 'MAST_DNS_BARE_WILDCARD' | 'MAST_DNS_OUTSIDE_ZONE',
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** Server hosts of the Gateways selecting the given gateway labels, deduplicated, in order. */
export function gatewayHosts(objects: readonly KubeObject[], gatewayLabels: Record<string, string>): string[] {
  const hosts: string[] = [];
  for (const obj of objects) {
    if (obj.kind !== 'Gateway' || !String(obj.apiVersion).startsWith('networking.istio.io/')) continue;
    const spec = obj.spec as { selector?: Record<string, string>; servers?: Array<{ hosts?: string[] }> } | undefined;
    if (!selects(spec?.selector ?? {}, gatewayLabels)) continue;
    for (const server of spec?.servers ?? []) for (const h of server.hosts ?? []) hosts.push(stripNamespace(h).toLowerCase());
  }
  return [...new Set(hosts)];
}

/** One record per host; a bare `*` or a host outside the zone is an error naming the host. */
export function planRecords(hosts: readonly string[], zoneName: string): RecordPlan[] {
  const zone = zoneName.toLowerCase().replace(/\.$/, '');
  return hosts
    .filter((h) => !isToken(h))
    .map((raw) => {
      const host = raw.replace(/\.$/, '');
      if (host === '*')
        throw new DnsPlanError(
          'MAST_DNS_BARE_WILDCARD',
          `Gateway host "*" cannot be published in zone ${zone}: name the hosts, or use a wildcard such as "*.${zone}"`,
        );
      if (host === zone) return { host, type: 'ALIAS' as const };
      if (!host.endsWith(`.${zone}`))
        throw new DnsPlanError('MAST_DNS_OUTSIDE_ZONE', `Gateway host "${host}" is outside the hosted zone ${zone}`);
      return { host, type: 'CNAME' as const };
    });
}
