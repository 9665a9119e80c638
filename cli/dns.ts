/** `mast dns check`: exit 0 when every Gateway host points at the NLB, 1 on drift, 2 on errors. */
import { Route53Client } from '@aws-sdk/client-route-53';
import { InputNotFoundError, loadFiles } from '../api';
import { GATEWAY_POD_LABELS } from '../api/well-known';
import { checkDns, type HostStatus } from './dns/check';
import { gatewayHosts } from '../lib/gateway-hosts';
import { FILE_OPTION, parse, UsageError } from './args';
import { USAGE as USAGES } from './usage';

const USAGE = USAGES.dns;

export async function runDns(args: string[], client?: Route53Client): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub !== 'check') throw new UsageError(`unknown subcommand "${sub ?? ''}"\nUsage: ${USAGE}`);
    const opts = parse(
      rest,
      {
        file: FILE_OPTION,
        'zone-id': { type: 'string' },
        nlb: { type: 'string' },
        region: { type: 'string' },
      },
      USAGE,
    );
    if (!opts.file?.length || !opts['zone-id'] || !opts.nlb)
      throw new UsageError(`-f, --zone-id and --nlb are required (the NLB name is the stack output NlbDnsName)\nUsage: ${USAGE}`);
    const loaded = loadFiles(opts.file);
    const hosts = gatewayHosts(loaded.objects, GATEWAY_POD_LABELS);
    if (hosts.length === 0) throw new UsageError(`no Gateway hosts in ${opts.file.join(', ')}`);
    const results = await checkDns({
      client: client ?? new Route53Client({ region: opts.region ?? 'us-east-1' }),
      hostedZoneId: opts['zone-id'],
      hosts,
      nlbDnsName: opts.nlb,
    });
    for (const r of results) console.log(describe(r));
    const drift = results.filter((r) => r.status !== 'ok').length;
    console.log(drift ? `${drift} of ${results.length} hosts drifted` : `all ${results.length} hosts point at ${opts.nlb}`);
    return drift ? 1 : 0;
  } catch (err) {
    console.error(`mast dns: ${explain(err)}`);
    return 2;
  }
}

function describe(r: HostStatus): string {
  if (r.status === 'ok') return `ok       ${r.host} (${r.record})`;
  if (r.status === 'missing') return `missing  ${r.host}: no CNAME or alias record in the zone`;
  return `drift    ${r.host}: ${r.record} points at ${r.target}`;
}

function explain(err: unknown): string {
  const e = err as { name?: string; message?: string };
  if (err instanceof UsageError || err instanceof InputNotFoundError) return e.message!;
  if (e.name === 'CredentialsProviderError' || /credential/i.test(e.message ?? ''))
    return `no AWS credentials found (${e.message}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`;
  if (e.name === 'NoSuchHostedZone') return `hosted zone not found: ${e.message}`;
  if (e.name === 'AccessDenied' || e.name === 'AccessDeniedException') return `access denied listing the zone's records: ${e.message}`;
  return `${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
}
