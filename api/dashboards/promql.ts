/**
 * The PromQL parts mast's dashboards are written from: selectors, rates over Grafana's
 * `$__rate_interval`, success rates, quantiles of Istio's histograms, shares. One place, so every
 * panel asks the same question the same way.
 */

/** A label matcher: `['reporter', '=', 'source']`. */
export type Matcher = readonly [label: string, op: '=' | '!=' | '=~' | '!~', value: string];

export const selector = (m: readonly Matcher[]) => `{${m.map(([k, op, v]) => `${k}${op}"${v}"`).join(', ')}}`;

export const rate = (metric: string, m: readonly Matcher[]) => `rate(${metric}${selector(m)}[$__rate_interval])`;

export const sumBy = (by: readonly string[], expr: string) => (by.length ? `sum by (${by.join(', ')}) (${expr})` : `sum(${expr})`);

/** Requests per second, grouped. */
export const requests = (m: readonly Matcher[], by: readonly string[] = []) => sumBy(by, rate('istio_requests_total', m));

/** The share of requests not answered with a 5xx (0..1), per group: what Istio's dashboards call success. */
export const successRate = (m: readonly Matcher[], by: readonly string[] = []) =>
  `${requests([...m, ['response_code', '!~', '5..']], by)} / ${requests(m, by)}`;

/** A quantile of one of Istio's histograms, per group; durations are in ms and shown in seconds. */
export function quantile(q: number, histogram: string, m: readonly Matcher[], by: readonly string[] = []): string {
  const expr = `histogram_quantile(${q}, ${sumBy(['le', ...by], rate(`${histogram}_bucket`, m))})`;
  return histogram === 'istio_request_duration_milliseconds' ? `${expr} / 1000` : expr;
}

/**
 * The share of requests (0..1) that came over mTLS, per group, as the server saw them: a group with
 * none answers 0, not nothing (`or` a zero of the same groups).
 */
export function mtlsShare(m: readonly Matcher[], by: readonly string[]): string {
  const mtls = requests([...m, ['connection_security_policy', '=', 'mutual_tls']], by);
  return `(${mtls} or 0 * ${requests(m, by)}) / ${requests(m, by)}`;
}

/** `{{a}}.{{b}}` legends. */
export const legend = (...labels: readonly string[]) => labels.map((l) => `{{${l}}}`).join(' ');

export const SOURCE: Matcher = ['reporter', '=', 'source'];
export const DESTINATION: Matcher = ['reporter', '=', 'destination'];
