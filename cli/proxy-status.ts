/** `mast proxy-status`: every proxy connected to mastd, its config version and SYNCED / STALE / NACK. */
import { syncState, type ProxyStatus } from '../runtime/control/push-server';
import { parse, UsageError } from './args';
import { LOCAL_MONITORING_URL } from '../api/well-known';
import { USAGE as USAGES } from './usage';

export { syncState };

const USAGE = USAGES['proxy-status'];

export async function runProxyStatus(args: string[]): Promise<number> {
  let opts;
  try {
    opts = parse(args, { mastd: { type: 'string', default: LOCAL_MONITORING_URL }, output: { type: 'string', default: 'text' } }, USAGE);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`mast proxy-status: ${err.message}`);
    return 2;
  }
  let body: { version: string | null; proxies: ProxyStatus[] };
  try {
    const res = await fetch(`${opts.mastd.replace(/\/$/, '')}/debug/syncz`);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = (await res.json()) as typeof body;
  } catch (err) {
    console.error(`mast proxy-status: cannot reach mastd at ${opts.mastd}: ${(err as Error).message}`);
    return 2;
  }
  const rows = body.proxies.map((p) => ({
    name: p.id,
    mode: p.identity.mode,
    namespace: p.identity.namespace,
    version: p.acked ?? '-',
    status: syncState(p, body.version),
    error: p.nacked?.error,
  }));
  if (opts.output === 'json') console.log(JSON.stringify({ version: body.version, proxies: rows }, null, 2));
  else {
    const header = ['NAME', 'MODE', 'NAMESPACE', 'VERSION', 'STATUS'];
    const table = [header, ...rows.map((r) => [r.name, r.mode, r.namespace, r.version, r.status + (r.error ? ` (${r.error})` : '')])];
    const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)));
    for (const row of table)
      console.log(
        row
          .map((c, i) => c.padEnd(widths[i]))
          .join('  ')
          .trimEnd(),
      );
    console.log(`mastd snapshot ${body.version ?? 'none'}, ${rows.length} proxies`);
  }
  return rows.some((r) => r.status !== 'SYNCED') ? 1 : 0;
}
