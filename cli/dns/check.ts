/**
 * `mast dns check`: after a deploy, does every Gateway host have its record in the zone,
 * pointing at this environment's NLB? Reads the zone with ListResourceRecordSets.
 */
import {
  ListResourceRecordSetsCommand,
  type ListResourceRecordSetsCommandInput,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';

export type HostStatus =
  | { readonly host: string; readonly status: 'ok'; readonly record: string }
  | { readonly host: string; readonly status: 'missing' }
  | { readonly host: string; readonly status: 'wrong-target'; readonly record: string; readonly target: string };

export interface DnsCheckInput {
  readonly client: Route53Client;
  readonly hostedZoneId: string;
  readonly hosts: readonly string[];
  readonly nlbDnsName: string;
}

/** Route 53 writes names with a trailing dot, lowercase, `*` as `\052`; aliases to ELB get a `dualstack.` prefix. */
export const normalizeName = (name: string): string =>
  name
    .replace(/\\052/g, '*')
    .replace(/\.$/, '')
    .toLowerCase()
    .replace(/^dualstack\./, '');

export async function checkDns(input: DnsCheckInput): Promise<HostStatus[]> {
  const records = await listRecords(input.client, input.hostedZoneId);
  const nlb = normalizeName(input.nlbDnsName);
  return input.hosts.map((raw): HostStatus => {
    const host = normalizeName(raw);
    const candidates = records.filter(
      (r) => r.Name && normalizeName(r.Name) === host && (r.Type === 'CNAME' || ((r.Type === 'A' || r.Type === 'AAAA') && r.AliasTarget)),
    );
    if (candidates.length === 0) return { host, status: 'missing' };
    const targetOf = (r: ResourceRecordSet) => normalizeName(r.AliasTarget?.DNSName ?? r.ResourceRecords?.[0]?.Value ?? '');
    const good = candidates.find((r) => targetOf(r) === nlb);
    if (good) return { host, status: 'ok', record: good.Type! };
    return { host, status: 'wrong-target', record: candidates[0].Type!, target: targetOf(candidates[0]) };
  });
}

/** All record sets; Route 53 pages by next name/type/identifier (bounded, in case a page repeats). */
async function listRecords(client: Route53Client, hostedZoneId: string): Promise<ResourceRecordSet[]> {
  const records: ResourceRecordSet[] = [];
  let request: ListResourceRecordSetsCommandInput = { HostedZoneId: hostedZoneId };
  for (let page = 0; page < 10_000; page++) {
    const out = await client.send(new ListResourceRecordSetsCommand(request));
    records.push(...(out.ResourceRecordSets ?? []));
    if (!out.IsTruncated) return records;
    request = {
      HostedZoneId: hostedZoneId,
      StartRecordName: out.NextRecordName,
      StartRecordType: out.NextRecordType,
      StartRecordIdentifier: out.NextRecordIdentifier,
    };
  }
  throw new Error(`zone ${hostedZoneId} has more than 10,000 pages of records`);
}
