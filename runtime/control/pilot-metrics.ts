/**
 * mastd's metrics under the names Istio's control-plane dashboard reads (`pilot_*`, `citadel_*`),
 * where they mean the same, next to mastd's own `mastd_*`; every family with `# HELP` and `# TYPE`.
 * mast pushes a proxy's whole config (or a delta of it) at once: one push counts for each of the
 * xDS types Istio would send (listeners, routes, clusters, endpoints).
 */

import { buildInfoLines } from '../contract/build-info';

/** Istio's `pilot_proxy_convergence_time` buckets, in seconds. */
export const CONVERGENCE_BUCKETS_S = [0.1, 0.5, 1, 3, 5, 10, 20, 30];

/** Time from a snapshot's publication to every proxy's ACK: cumulative, as a Prometheus histogram must be. */
export class ConvergenceHistogram {
  readonly counts = new Array<number>(CONVERGENCE_BUCKETS_S.length).fill(0);
  sum = 0;
  n = 0;
  observe(ms: number): void {
    const s = ms / 1000;
    this.sum += s;
    this.n++;
    CONVERGENCE_BUCKETS_S.forEach((le, i) => {
      if (s <= le) this.counts[i]++;
    });
  }
}

export interface PilotSources {
  readonly pushes: number;
  readonly nacks: number;
  readonly certificates: number;
  readonly connected: number;
  readonly convergence: ConvergenceHistogram;
}

const XDS_TYPES = ['cds', 'eds', 'lds', 'rds'];

/** The `pilot_*` / `citadel_*` families, and `istio_build` as Istio's control plane reports it. */
export function pilotMetricLines(m: PilotSources): string[] {
  const c = m.convergence;
  return [
    ...buildInfoLines('pilot'),
    '# HELP pilot_xds_pushes Pushes to proxies, by xDS type (a mast push carries every type).',
    '# TYPE pilot_xds_pushes counter',
    ...XDS_TYPES.map((t) => `pilot_xds_pushes{type="${t}"} ${m.pushes}`),
    '# HELP pilot_total_xds_rejects Configs proxies rejected (NACKs).',
    '# TYPE pilot_total_xds_rejects counter',
    `pilot_total_xds_rejects ${m.nacks}`,
    '# HELP pilot_xds Proxies connected to this control plane.',
    '# TYPE pilot_xds gauge',
    `pilot_xds ${m.connected}`,
    '# HELP pilot_proxy_convergence_time Seconds from a config change to every proxy having acknowledged it.',
    '# TYPE pilot_proxy_convergence_time histogram',
    ...CONVERGENCE_BUCKETS_S.map((le, i) => `pilot_proxy_convergence_time_bucket{le="${le}"} ${c.counts[i]}`),
    `pilot_proxy_convergence_time_bucket{le="+Inf"} ${c.n}`,
    `pilot_proxy_convergence_time_sum ${c.sum}`,
    `pilot_proxy_convergence_time_count ${c.n}`,
    '# HELP citadel_server_success_cert_issuance_count Workload certificates issued.',
    '# TYPE citadel_server_success_cert_issuance_count counter',
    `citadel_server_success_cert_issuance_count ${m.certificates}`,
  ];
}

/**
 * `# HELP` and `# TYPE` before each family of plain sample lines (`name{labels} value`), in the
 * order they come; a family's lines kept together. A name ending `_total` is a counter, else a gauge;
 * a histogram's `_bucket`/`_sum`/`_count` lines are declared once under their family.
 */
export function withHelp(samples: readonly string[], help: Readonly<Record<string, string>> = {}): string[] {
  const families = new Map<string, { type: string; lines: string[] }>();
  for (const line of samples) {
    if (line.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? '';
    const histogram =
      /_(bucket|sum|count)$/.test(name) && samples.some((l) => l.startsWith(`${name.replace(/_(bucket|sum|count)$/, '')}_bucket`));
    const family = histogram ? name.replace(/_(bucket|sum|count)$/, '') : name;
    let f = families.get(family);
    if (!f) families.set(family, (f = { type: histogram ? 'histogram' : name.endsWith('_total') ? 'counter' : 'gauge', lines: [] }));
    f.lines.push(line);
  }
  return [...families].flatMap(([name, f]) => [`# HELP ${name} ${help[name] ?? `mastd ${name}.`}`, `# TYPE ${name} ${f.type}`, ...f.lines]);
}
