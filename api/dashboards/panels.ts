/** The panel shapes every mast dashboard uses: a stat, a time series, and the P50/P90/P99 of request durations. */
import type { PanelSpec, Query } from './grafana';
import { type Matcher, quantile } from './promql';

export const stat = (title: string, description: string, unit: PanelSpec['unit'], expr: string): PanelSpec => ({
  title,
  kind: 'stat',
  description,
  unit,
  queries: [{ expr }],
});

export const series = (title: string, description: string, unit: PanelSpec['unit'], queries: readonly Query[]): PanelSpec => ({
  title,
  kind: 'timeseries',
  description,
  unit,
  queries,
});

/** P50, P90 and P99 of `istio_request_duration_milliseconds` for `m`, by `by`, each legend led by its quantile. */
export const durations = (m: readonly Matcher[], by: readonly string[], byLegend: string): Query[] =>
  [0.5, 0.9, 0.99].map((q) => ({
    expr: quantile(q, 'istio_request_duration_milliseconds', m, by),
    legend: `P${q * 100} ${byLegend}`.trim(),
  }));
