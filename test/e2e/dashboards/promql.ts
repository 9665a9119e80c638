/**
 * The PromQL of Istio's dashboard panels, built from their parts (metric, matchers, grouping,
 * aggregation), and what a panel's answer must hold. The panels themselves: dashboard-queries.ts.
 */
/** Long enough to hold the whole test's traffic; Prometheus scrapes every second. */
export const WINDOW = '3m';

export const DASHBOARDS = {
  mesh: 'Istio Mesh Dashboard',
  service: 'Istio Service Dashboard',
  workload: 'Istio Workload Dashboard',
  /** Only the panels mast's control plane feeds (docs/observability.md lists the others and why). */
  controlPlane: 'Istio Control Plane Dashboard',
  /** Not a dashboard: the queries Istio's task "Querying Metrics from Prometheus" has its reader try. */
  queryingTask: 'Istio task querying-metrics',
} as const;

/** What a panel's answer must hold. */
export type Expectation =
  /** At least one series; every value finite and in range; for each label set, a series that has all of them. */
  | {
      readonly kind: 'series';
      /** `count`: finite and not negative (a counter of rejections may well be 0). */
      readonly value: 'positive' | 'ratio' | 'count';
      readonly labels: ReadonlyArray<Readonly<Record<string, string>>>;
    }
  /** No series, on Istio too (the reason says why): the panel is kept to show mast answers it as Istio does. */
  | { readonly kind: 'empty'; readonly why: string };

export interface PanelQuery {
  readonly dashboard: (typeof DASHBOARDS)[keyof typeof DASHBOARDS];
  readonly row: string;
  readonly panel: string;
  /** Which of the panel's queries: its legend's distinguishing part (`P90`, `mTLS`, ...). */
  readonly series: string;
  readonly query: string;
  readonly expect: Expectation;
}

export type Matchers = ReadonlyArray<readonly [string, '=' | '!=' | '=~' | '!~', string]>;
export const selector = (m: Matchers) => m.map(([k, op, v]) => `${k}${op}"${v}"`).join(',');
export const rate = (metric: string, m: Matchers) => `rate(${metric}{${selector(m)}}[${WINDOW}])`;
export const sum = (by: readonly string[], expr: string) => `sum${by.length ? ` by (${by.join(',')})` : ''} (${expr})`;
/** Requests that did not end in a 5xx over all requests, per group (the dashboards' success rate). */
export const successRate = (m: Matchers, by: readonly string[]) =>
  `${sum(by, rate('istio_requests_total', [...m, ['response_code', '!~', '5..']]))} / ${sum(by, rate('istio_requests_total', m))}`;
export const quantile = (q: number, histogram: string, m: Matchers, by: readonly string[]) =>
  `histogram_quantile(${q}, ${sum(['le', ...by], rate(`${histogram}_bucket`, m))})`;
/** Durations in seconds, as the dashboards show Istio's millisecond histogram. */
export const seconds = (q: number, m: Matchers, by: readonly string[]) =>
  `${quantile(q, 'istio_request_duration_milliseconds', m, by)} / 1000`;

export const BOTH: Matchers = [['reporter', '=~', 'source|destination']];
export const MTLS: Matchers = [['connection_security_policy', '=', 'mutual_tls']];
export const NOT_MTLS: Matchers = [['connection_security_policy', '!=', 'mutual_tls']];
export const positive = (...labels: Array<Record<string, string>>): Expectation => ({ kind: 'series', value: 'positive', labels });
export const ratio = (...labels: Array<Record<string, string>>): Expectation => ({ kind: 'series', value: 'ratio', labels });
