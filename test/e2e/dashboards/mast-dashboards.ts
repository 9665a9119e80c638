/**
 * mast's own dashboards (dashboards/*.json) as Grafana runs them, for the e2e: each variable's
 * options read from Prometheus by its own query (`label_values`, `query_result` with its regex),
 * the value a user picks among them, every panel query interpolated (`$__rate_interval`, the
 * variables) and asked over the dashboard's time range at Grafana's step (tables: an instant
 * query at its end). Which views (variable values) show what, for the bookinfo traffic: VIEWS.
 */
import type { Prometheus, RangeSeries } from '../../support/prometheus';

/** The scrape interval the test's Prometheus uses, which the data source is told (Grafana's "Scrape interval"). */
export const SCRAPE_SECONDS = 1;

/**
 * Grafana's `$__interval` is the time range over the panel's data points, never below the data
 * source's scrape interval: a few minutes over ~1000 points is below it, so one scrape interval.
 * `$__rate_interval` is max(`$__interval` + scrape interval, 4 × scrape interval).
 */
export function grafanaIntervals(rangeSeconds: number, maxDataPoints = 1000): { interval: number; rateInterval: number } {
  const interval = Math.max(Math.ceil(rangeSeconds / maxDataPoints), SCRAPE_SECONDS);
  return { interval, rateInterval: Math.max(interval + SCRAPE_SECONDS, 4 * SCRAPE_SECONDS) };
}

/** `$name` and `${name}` replaced as Grafana's Prometheus data source does for single values (no regex escaping needed here). */
export function interpolate(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare!;
    return name in values ? values[name] : whole;
  });
}

export interface QueryVariable {
  readonly name: string;
  readonly type: string;
  /** A query variable's: Grafana's `{ query, refId }`. */
  readonly query?: unknown;
  readonly regex?: string;
}

/** A variable's options, as Grafana lists them: its query's answer, through its regex. */
export async function variableOptions(
  prometheus: Prometheus,
  v: QueryVariable,
  values: Readonly<Record<string, string>>,
): Promise<string[]> {
  const query = typeof v.query === 'object' && v.query ? String((v.query as { query: unknown }).query) : '';
  const definition = interpolate(query, values);
  const labelValues = /^label_values\((?:(.*),)?\s*(\w+)\)$/.exec(definition);
  if (labelValues) return prometheus.labelValues(labelValues[2], labelValues[1]);
  const queryResult = /^query_result\((.*)\)$/.exec(definition);
  if (!queryResult) throw new Error(`variable ${v.name}: a query Grafana's Prometheus data source does not know: ${definition}`);
  // Grafana formats each series as `name{label="value", ...} value timestamp` and applies the regex to that text.
  const answer = await prometheus.query(queryResult[1]);
  const regex = new RegExp(/^\/(.*)\/$/.exec(v.regex ?? '')?.[1] ?? '(.*)');
  const texts = answer.map(
    (s) =>
      `${s.metric.__name__ ?? ''}{${Object.entries(s.metric)
        .filter(([k]) => k !== '__name__')
        .map(([k, val]) => `${k}="${val}"`)
        .join(', ')}} ${s.value}`,
  );
  return [...new Set(texts.map((t) => regex.exec(t)?.[1]).filter((x): x is string => x !== undefined))];
}

/** What one panel query must answer in a view. */
export interface Expect {
  /**
   * `positive`: some point above 0; `ratio`: some point, all within 0..1; `count`: some point, none
   * negative; `empty`: no series, for the reason `why` (what mast local does not have).
   */
  readonly value: 'positive' | 'ratio' | 'count' | 'empty';
  readonly why?: string;
  /** For each, a series that has all these labels (and whose values are as `value` says). */
  readonly labels?: ReadonlyArray<Readonly<Record<string, string>>>;
  /** Series (by labels) whose highest point must be exactly this value (an mTLS share of 1 or 0, ...). */
  readonly peaks?: ReadonlyArray<readonly [Readonly<Record<string, string>>, number]>;
}

/** A view: the dashboard's variables set to these values, and what these panels' queries answer then. */
export interface View {
  readonly dashboard: string;
  readonly name: string;
  readonly variables: Readonly<Record<string, string>>;
  /** By panel title; an array: per query of the panel (undefined: that query is another view's). */
  readonly panels: Readonly<Record<string, Expect | ReadonlyArray<Expect | undefined>>>;
}

/** What went wrong with one panel query's answer (empty: nothing). */
export function problems(answer: readonly RangeSeries[], e: Expect): string[] {
  if (e.value === 'empty') return answer.length ? [`series, where none was expected (${e.why})`] : [];
  if (!answer.length) return ['no series'];
  const has = (s: RangeSeries, l: Readonly<Record<string, string>>) => Object.entries(l).every(([k, v]) => s.metric[k] === v);
  const checked = e.labels?.length ? answer.filter((s) => e.labels!.some((l) => has(s, l))) : answer;
  const out: string[] = [];
  for (const l of e.labels ?? []) if (!answer.some((s) => has(s, l))) out.push(`no series with ${JSON.stringify(l)}`);
  for (const s of checked) {
    const points = s.values.filter(Number.isFinite);
    const name = JSON.stringify(s.metric);
    if (!points.length) out.push(`${name}: no point (only gaps)`);
    else if (points.some((v) => v < 0)) out.push(`${name}: a negative value`);
    else if (e.value === 'ratio' && points.some((v) => v > 1)) out.push(`${name}: a ratio above 1`);
    else if (e.value === 'positive' && !points.some((v) => v > 0)) out.push(`${name}: never above 0`);
  }
  for (const [labels, peak] of e.peaks ?? [])
    for (const s of answer.filter((x) => has(x, labels))) {
      const highest = Math.max(...s.values.filter(Number.isFinite));
      if (highest !== peak) out.push(`${JSON.stringify(s.metric)}: peaks at ${highest}, not ${peak}`);
    }
  return out;
}
