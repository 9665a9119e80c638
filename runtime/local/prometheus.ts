/**
 * What a Prometheus needs to scrape `mast local`: its proxies as HTTP service-discovery targets
 * (the admin port's `/prometheus/targets`, Prometheus' `http_sd_configs` format, so workloads that
 * come and go are followed without editing a file), and a whole `prometheus.yml` that reads them
 * (the admin port's `/prometheus.yml`). Pure.
 */

export interface ScrapedProxy {
  /** `<name>.<namespace>`, as mast local names its proxies. */
  readonly id: string;
  readonly host: string;
  readonly adminPort: number;
}

/** One group of Prometheus' HTTP service discovery: targets and the labels they get. */
export interface TargetGroup {
  readonly targets: string[];
  readonly labels: Record<string, string>;
}

/** Where every proxy serves Istio's metrics, as Istio's sidecars do on their status port. */
export const PROXY_METRICS_PATH = '/stats/prometheus';
/** The admin port's paths for Prometheus. */
export const PROMETHEUS_PATHS = { targets: '/prometheus/targets', config: '/prometheus.yml' } as const;

/**
 * A target group per proxy, labelled as the usual Kubernetes pod job labels a pod (`namespace`,
 * `pod`), so queries written for a cluster read the same. Sorted by namespace and pod, for a stable answer.
 */
export function scrapeTargets(proxies: readonly ScrapedProxy[]): TargetGroup[] {
  return proxies
    .filter((p) => p.adminPort > 0)
    .map((p) => {
      const dot = p.id.lastIndexOf('.');
      const [pod, namespace] = dot < 0 ? [p.id, 'default'] : [p.id.slice(0, dot), p.id.slice(dot + 1)];
      const host = p.host.includes(':') ? `[${p.host}]` : p.host;
      return { targets: [`${host}:${p.adminPort}`], labels: { namespace, pod } };
    })
    .sort((a, b) => `${a.labels.namespace}/${a.labels.pod}`.localeCompare(`${b.labels.namespace}/${b.labels.pod}`));
}

export interface PrometheusConfigOptions {
  /** The admin port's base URL, e.g. `http://127.0.0.1:15000`. */
  readonly admin: string;
  /** @default '5s' */
  readonly scrapeInterval?: string;
  /** How often the target list is read again. @default '5s' */
  readonly refreshInterval?: string;
}

/**
 * A `prometheus.yml` for mast local: the proxies (found through the admin port), and mastd's own
 * metrics (the admin port's `/metrics`) under the job Istio's control-plane dashboard reads.
 */
export function prometheusConfig(o: PrometheusConfigOptions): string {
  const every = o.scrapeInterval ?? '5s';
  const admin = new URL(o.admin);
  return `# Prometheus for mast local: every proxy's Istio metrics, and mastd's.
global:
  scrape_interval: ${every}
  evaluation_interval: ${every}
scrape_configs:
  - job_name: mast-proxies
    metrics_path: ${PROXY_METRICS_PATH}
    http_sd_configs:
      - url: ${new URL(PROMETHEUS_PATHS.targets, admin).href}
        refresh_interval: ${o.refreshInterval ?? '5s'}
  - job_name: mastd
    metrics_path: /metrics
    static_configs:
      - targets: ['${admin.host}']
`;
}
