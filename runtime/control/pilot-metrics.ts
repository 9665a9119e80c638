/**
 * mastd's metrics in one prom-client registry: under the names Istio's control-plane dashboard reads
 * (`pilot_*`, `citadel_*`), where they mean the same, next to mastd's own `mastd_*` and prom-client's
 * default `process_*`/`nodejs_*`. The histograms are observed where the work happens (the push
 * server); the counters and gauges are read at scrape time from where mastd keeps them.
 * mast pushes a proxy's whole config (or a delta of it) at once: one push counts for each of the
 * xDS types Istio would send (listeners, routes, clusters, endpoints).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BUILD_INFO_HELP, MAST_VERSION } from '../contract/build-info';
import type { ConfigEvents } from './config-events';

/** Istio's `pilot_proxy_convergence_time` buckets, in seconds. */
export const CONVERGENCE_BUCKETS_S = [0.1, 0.5, 1, 3, 5, 10, 20, 30];
/** Istio's `pilot_xds_push_time` buckets, in seconds. */
export const PUSH_TIME_BUCKETS_S = [0.01, 0.1, 0.5, 1, 3, 5, 10, 20, 30];
/** Istio's `pilot_xds_config_size_bytes` buckets: 10 kB, 1 MB (4 MB is gRPC's default limit, 40 MB about the most a proxy takes). */
export const CONFIG_SIZE_BUCKETS = [1, 10_000, 1_000_000, 4_000_000, 10_000_000, 40_000_000];
/** mastd's own `mastd_convergence_ms` buckets. */
const CONVERGENCE_BUCKETS_MS = [10, 50, 100, 250, 500, 1000, 5000];

/**
 * The histograms the push server observes into; in no registry until `mastdRegistry` takes them
 * (a push server can run without one).
 */
export function pushHistograms() {
  const histogram = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, buckets, registers: [] });
  return {
    /** Time from a snapshot's publication to every proxy's ACK. */
    convergence: histogram(
      'pilot_proxy_convergence_time',
      'Seconds from a config change to every proxy having acknowledged it.',
      CONVERGENCE_BUCKETS_S,
    ),
    convergenceMs: histogram(
      'mastd_convergence_ms',
      'Milliseconds from a snapshot to every proxy having acknowledged it.',
      CONVERGENCE_BUCKETS_MS,
    ),
    /** Seconds to compile, encode and write one proxy's push. */
    pushTime: histogram('pilot_xds_push_time', 'Seconds to build and send one proxy its config.', PUSH_TIME_BUCKETS_S),
    /** Bytes of each push (a whole config or a delta). */
    configSize: histogram('pilot_xds_config_size_bytes', 'Size of the configs pushed to proxies, in bytes.', CONFIG_SIZE_BUCKETS),
  };
}
export type PushHistograms = ReturnType<typeof pushHistograms>;

/**
 * Why mastd pushed, under Istio's `pilot_push_triggers` reasons: a config change (new keys of a
 * RequestAuthentication's JWKS too), or endpoints' readiness (`mast local`'s supervisor).
 */
export type PushTrigger = 'config' | 'endpoint';

/** The push server's counts (PushServer.counters). */
export interface PushCounters {
  readonly pushes: number;
  readonly pushErrors: number;
  readonly acks: number;
  readonly nacks: number;
  readonly rejectedPeers: number;
  readonly certificates: number;
  readonly overCap: number;
}

/** Where mastd keeps what its counters and gauges report, read at each scrape. */
export interface MastdMetricSources {
  readonly counters: PushCounters;
  readonly histograms: PushHistograms;
  readonly connected: () => number;
  readonly rejectedResources: () => number;
  readonly triggers: ReadonlyMap<PushTrigger, number>;
  /** Updates or refreshes that failed inside mastd (the last good snapshot kept). */
  readonly internalErrors: () => number;
  readonly events: ConfigEvents;
  /** The JWKS fetcher's fetches and failures by URI. */
  readonly jwks: () => ReadonlyArray<{ readonly uri: string; readonly fetches: number; readonly failures: number }>;
}

/** A family's one value, or its values by labels. */
type Samples = number | ReadonlyArray<readonly [Record<string, string>, number]>;

/** A metric whose value is read at scrape time from where mastd counts it. */
function scraped(
  kind: 'counter' | 'gauge',
  registry: Registry,
  name: string,
  help: string,
  read: () => Samples,
  labelNames: string[],
): void {
  const options = { name, help, labelNames, registers: [registry] };
  const fill = (put: (labels: Record<string, string>, n: number) => void, putOne: (n: number) => void) => {
    const v = read();
    if (typeof v === 'number') putOne(v);
    else for (const [labels, n] of v) put(labels, n);
  };
  if (kind === 'counter')
    new Counter({
      ...options,
      collect() {
        this.reset();
        fill(
          (l, n) => this.inc(l, n),
          (n) => this.inc(n),
        );
      },
    });
  else
    new Gauge({
      ...options,
      collect() {
        this.reset();
        fill(
          (l, n) => this.set(l, n),
          (n) => this.set(n),
        );
      },
    });
}

/** A counter whose value is read at scrape time from where mastd counts it. */
export const scrapedCounter = (registry: Registry, name: string, help: string, read: () => Samples, labelNames: string[] = []) =>
  scraped('counter', registry, name, help, read, labelNames);

/** A gauge whose value is read at scrape time. */
export const scrapedGauge = (registry: Registry, name: string, help: string, read: () => Samples, labelNames: string[] = []) =>
  scraped('gauge', registry, name, help, read, labelNames);

const XDS_TYPES = ['cds', 'eds', 'lds', 'rds'];

/** mastd's registry: its `mastd_*`, `pilot_*` and `citadel_*` families, `istio_build`, and the process's default metrics. */
export function mastdRegistry(s: MastdMetricSources): Registry {
  const registry = new Registry();
  const counter = (name: string, help: string, read: () => Samples, labels?: string[]) =>
    scrapedCounter(registry, name, help, read, labels);
  const gauge = (name: string, help: string, read: () => Samples) => scrapedGauge(registry, name, help, read);
  const c = s.counters;
  counter('mastd_pushes_total', 'Configs (whole or deltas) pushed to proxies.', () => c.pushes);
  counter(
    'mastd_push_errors_total',
    'Push streams closed for what a proxy sent (malformed, oversized), and certificate requests that failed.',
    () => c.pushErrors,
  );
  counter('mastd_acks_total', 'Configs proxies acknowledged.', () => c.acks);
  counter('mastd_nacks_total', 'Configs proxies rejected.', () => c.nacks);
  counter('mastd_rejected_proxies_total', 'Push streams refused (credentials, identity, over the cap).', () => c.rejectedPeers);
  counter('mastd_push_streams_over_cap_total', 'Push streams refused because their identity holds too many.', () => c.overCap);
  counter('mastd_certificates_issued_total', 'Workload certificates issued.', () => c.certificates);
  gauge('mastd_connected_proxies', 'Proxies connected to this mastd.', s.connected);
  gauge('mastd_rejected_resources', 'Resources of the current config rejected by validation.', s.rejectedResources);
  registry.registerMetric(s.histograms.convergenceMs);
  const byUri = (field: 'fetches' | 'failures') => () => s.jwks().map((j) => [{ uri: j.uri }, j[field]] as const);
  counter('mastd_jwks_fetches_total', 'Fetches of a RequestAuthentication jwksUri.', byUri('fetches'), ['uri']);
  counter('mastd_jwks_fetch_failures_total', 'Failed fetches of a RequestAuthentication jwksUri.', byUri('failures'), ['uri']);

  // Istio's control-plane families, as its dashboards read them.
  new Gauge({ name: 'istio_build', help: BUILD_INFO_HELP, labelNames: ['component', 'tag'], registers: [registry] }).set(
    { component: 'pilot', tag: MAST_VERSION },
    1,
  );
  counter(
    'pilot_xds_pushes',
    'Pushes to proxies, by xDS type (a mast push carries every type).',
    () => XDS_TYPES.map((type) => [{ type }, c.pushes] as const),
    ['type'],
  );
  counter('pilot_total_xds_rejects', 'Configs proxies rejected (NACKs).', () => c.nacks);
  counter(
    'pilot_total_xds_internal_errors',
    'Config updates mastd failed to turn into a snapshot (it kept the last good one).',
    s.internalErrors,
  );
  gauge('pilot_xds', 'Proxies connected to this control plane.', s.connected);
  counter(
    'pilot_push_triggers',
    'Snapshots pushed, by what caused them.',
    () => (['config', 'endpoint'] as const).map((type) => [{ type }, s.triggers.get(type) ?? 0] as const),
    ['type'],
  );
  registry.registerMetric(s.histograms.convergence);
  registry.registerMetric(s.histograms.pushTime);
  registry.registerMetric(s.histograms.configSize);
  const events = (counts: ReadonlyMap<string, number>) => () =>
    [...counts].map(([key, n]) => {
      const [type, event] = key.split(' ');
      return [{ type, event }, n] as const;
    });
  counter('pilot_k8s_cfg_events', 'Mesh config objects added, updated and deleted, by kind.', events(s.events.config), ['type', 'event']);
  counter(
    'pilot_k8s_reg_events',
    'Service registry objects (Services, Pods, Endpoints, ...) added, updated and deleted, by kind.',
    events(s.events.registry),
    ['type', 'event'],
  );
  counter('citadel_server_success_cert_issuance_count', 'Workload certificates issued.', () => c.certificates);

  // process_cpu_seconds_total, process_resident_memory_bytes, nodejs_heap_size_used_bytes, ...: the dashboard's resource panels.
  const defaults = processMetrics();
  for (const { name } of defaults.getMetricsAsArray()) registry.registerMetric(defaults.getSingleMetric(name)!);
  return registry;
}

let processRegistry: Registry | undefined;

/**
 * prom-client's default metrics, made once per process and shared by every mastd registry in it
 * (tests and `mast local` make several): each set starts an event loop monitor and a GC observer
 * that are never stopped.
 */
function processMetrics(): Registry {
  if (!processRegistry) collectDefaultMetrics({ register: (processRegistry = new Registry()) });
  return processRegistry;
}
