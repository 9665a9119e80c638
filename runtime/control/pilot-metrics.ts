/**
 * mastd's metrics under the names Istio's control-plane dashboard reads (`pilot_*`, `citadel_*`),
 * where they mean the same, next to mastd's own `mastd_*`; every family with `# HELP` and `# TYPE`.
 * mast pushes a proxy's whole config (or a delta of it) at once: one push counts for each of the
 * xDS types Istio would send (listeners, routes, clusters, endpoints).
 */

import { buildInfoLines } from '../contract/build-info';

/** Istio's `pilot_proxy_convergence_time` buckets, in seconds. */
export const CONVERGENCE_BUCKETS_S = [0.1, 0.5, 1, 3, 5, 10, 20, 30];
/** Istio's `pilot_xds_push_time` buckets, in seconds. */
export const PUSH_TIME_BUCKETS_S = [0.01, 0.1, 0.5, 1, 3, 5, 10, 20, 30];
/** Istio's `pilot_xds_config_size_bytes` buckets: 10 kB, 1 MB (4 MB is gRPC's default limit, 40 MB about the most a proxy takes). */
export const CONFIG_SIZE_BUCKETS = [1, 10_000, 1_000_000, 4_000_000, 10_000_000, 40_000_000];

/** A Prometheus histogram's counts, cumulative as the exposition needs them. */
export class Histogram {
  readonly counts: number[];
  sum = 0;
  n = 0;
  constructor(readonly buckets: readonly number[]) {
    this.counts = new Array<number>(buckets.length).fill(0);
  }
  observe(value: number): void {
    this.sum += value;
    this.n++;
    this.buckets.forEach((le, i) => {
      if (value <= le) this.counts[i]++;
    });
  }
  lines(name: string): string[] {
    return [
      ...this.buckets.map((le, i) => `${name}_bucket{le="${le}"} ${this.counts[i]}`),
      `${name}_bucket{le="+Inf"} ${this.n}`,
      `${name}_sum ${this.sum}`,
      `${name}_count ${this.n}`,
    ];
  }
}

/** Time from a snapshot's publication to every proxy's ACK, observed in ms, kept in seconds. */
export class ConvergenceHistogram extends Histogram {
  constructor() {
    super(CONVERGENCE_BUCKETS_S);
  }
  override observe(ms: number): void {
    super.observe(ms / 1000);
  }
}

/**
 * Why mastd pushed, under Istio's `pilot_push_triggers` reasons: a config change (new keys of a
 * RequestAuthentication's JWKS too), or endpoints' readiness (`mast local`'s supervisor).
 */
export type PushTrigger = 'config' | 'endpoint';

export interface PilotSources {
  readonly pushes: number;
  readonly nacks: number;
  readonly certificates: number;
  readonly connected: number;
  readonly convergence: ConvergenceHistogram;
  /** Seconds to compile, encode and write one proxy's push. */
  readonly pushTime: Histogram;
  /** Bytes of each push (a whole config or a delta). */
  readonly configSize: Histogram;
  readonly triggers: ReadonlyMap<PushTrigger, number>;
  /** Updates or refreshes that failed inside mastd (the last good snapshot kept). */
  readonly internalErrors: number;
  /** `pilot_k8s_cfg_events` / `pilot_k8s_reg_events` lines (config-events.ts). */
  readonly events: readonly string[];
}

const XDS_TYPES = ['cds', 'eds', 'lds', 'rds'];

/** The `pilot_*` / `citadel_*` families, and `istio_build` as Istio's control plane reports it. */
export function pilotMetricLines(m: PilotSources): string[] {
  return [
    ...buildInfoLines('pilot'),
    '# HELP pilot_xds_pushes Pushes to proxies, by xDS type (a mast push carries every type).',
    '# TYPE pilot_xds_pushes counter',
    ...XDS_TYPES.map((t) => `pilot_xds_pushes{type="${t}"} ${m.pushes}`),
    '# HELP pilot_total_xds_rejects Configs proxies rejected (NACKs).',
    '# TYPE pilot_total_xds_rejects counter',
    `pilot_total_xds_rejects ${m.nacks}`,
    '# HELP pilot_total_xds_internal_errors Config updates mastd failed to turn into a snapshot (it kept the last good one).',
    '# TYPE pilot_total_xds_internal_errors counter',
    `pilot_total_xds_internal_errors ${m.internalErrors}`,
    '# HELP pilot_xds Proxies connected to this control plane.',
    '# TYPE pilot_xds gauge',
    `pilot_xds ${m.connected}`,
    '# HELP pilot_push_triggers Snapshots pushed, by what caused them.',
    '# TYPE pilot_push_triggers counter',
    ...(['config', 'endpoint'] as const).map((t) => `pilot_push_triggers{type="${t}"} ${m.triggers.get(t) ?? 0}`),
    '# HELP pilot_proxy_convergence_time Seconds from a config change to every proxy having acknowledged it.',
    '# TYPE pilot_proxy_convergence_time histogram',
    ...m.convergence.lines('pilot_proxy_convergence_time'),
    '# HELP pilot_xds_push_time Seconds to build and send one proxy its config.',
    '# TYPE pilot_xds_push_time histogram',
    ...m.pushTime.lines('pilot_xds_push_time'),
    '# HELP pilot_xds_config_size_bytes Size of the configs pushed to proxies, in bytes.',
    '# TYPE pilot_xds_config_size_bytes histogram',
    ...m.configSize.lines('pilot_xds_config_size_bytes'),
    ...m.events,
    '# HELP citadel_server_success_cert_issuance_count Workload certificates issued.',
    '# TYPE citadel_server_success_cert_issuance_count counter',
    `citadel_server_success_cert_issuance_count ${m.certificates}`,
  ];
}

/**
 * The process's own figures under the names Prometheus' Node.js client (prom-client) gives them, so
 * the control-plane dashboard's resource panels read mastd's CPU and memory.
 */
export function processMetricLines(): string[] {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return [
    '# HELP process_cpu_seconds_total User and system CPU time spent, in seconds.',
    '# TYPE process_cpu_seconds_total counter',
    `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
    '# HELP process_resident_memory_bytes Resident memory size, in bytes.',
    '# TYPE process_resident_memory_bytes gauge',
    `process_resident_memory_bytes ${memory.rss}`,
    '# HELP process_start_time_seconds Start time of the process since the Unix epoch, in seconds.',
    '# TYPE process_start_time_seconds gauge',
    `process_start_time_seconds ${Math.round(Date.now() / 1000 - process.uptime())}`,
    '# HELP nodejs_heap_size_used_bytes V8 heap in use, in bytes.',
    '# TYPE nodejs_heap_size_used_bytes gauge',
    `nodejs_heap_size_used_bytes ${memory.heapUsed}`,
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
