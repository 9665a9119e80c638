/**
 * Istio-style telemetry kept as plain numbers keyed by a precomputed label tuple;
 * rendered to Prometheus text only on scrape.
 */

const BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];
const BUCKETS_BYTES = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000];

class Histogram {
  /** Per bucket, not cumulative (one increment per observation); cumulated when rendered. */
  readonly counts: Float64Array;
  sum = 0;
  n = 0;
  constructor(readonly buckets: number[]) {
    this.counts = new Float64Array(buckets.length);
  }
  observe(v: number): void {
    this.sum += v;
    this.n++;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++)
      if (v <= b[i]) {
        this.counts[i]++;
        return;
      }
  }
}

interface Series {
  labels: string;
  requests: number;
  duration: Histogram;
  requestBytes: Histogram;
  responseBytes: Histogram;
}

export interface RequestLabels {
  readonly reporter: 'source' | 'destination';
  readonly sourceWorkload: string;
  readonly sourceNamespace: string;
  readonly destinationService: string;
  readonly destinationServiceName: string;
  readonly destinationVersion: string;
  readonly responseCode: number;
  readonly responseFlags: string;
  /** A gRPC request's status (from the response's trailers or trailers-only head): `request_protocol="grpc"` and Istio's `grpc_response_status`. */
  readonly grpcStatus?: number;
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export class Metrics {
  private readonly series = new Map<string, Series>();
  readonly counters = new Map<string, number>();

  /** Series by a caller's group object (e.g. the cluster), then reporter, code and flags: no label strings per request. */
  private readonly byGroup = new WeakMap<object, Map<string, Series>>();

  /** Records a request; `labels` is called only the first time its series is seen in `group`. */
  recordIn(
    group: object,
    reporter: string,
    code: number,
    flags: string,
    labels: () => RequestLabels,
    durationMs: number,
    requestBytes: number,
    responseBytes: number,
    grpcStatus?: number,
  ): void {
    let inGroup = this.byGroup.get(group);
    if (!inGroup) this.byGroup.set(group, (inGroup = new Map()));
    let key = flags === '-' ? (code === 200 ? reporter : `${reporter}${code}`) : `${reporter}${code}${flags}`;
    if (grpcStatus !== undefined) key += `|grpc${grpcStatus}`;
    let s = inGroup.get(key);
    if (!s) inGroup.set(key, (s = this.seriesFor(labels())));
    this.observe(s, durationMs, requestBytes, responseBytes);
  }

  private observe(s: Series, durationMs: number, requestBytes: number, responseBytes: number): void {
    s.requests++;
    s.duration.observe(durationMs);
    s.requestBytes.observe(requestBytes);
    s.responseBytes.observe(responseBytes);
  }

  private seriesFor(l: RequestLabels): Series {
    const key = `${l.reporter}|${l.sourceWorkload}|${l.sourceNamespace}|${l.destinationService}|${l.destinationServiceName}|${l.destinationVersion}|${l.responseCode}|${l.responseFlags}|${l.grpcStatus ?? ''}`;
    let s = this.series.get(key);
    if (!s) {
      const labels =
        `reporter="${l.reporter}",source_workload="${esc(l.sourceWorkload)}",source_workload_namespace="${esc(l.sourceNamespace)}",` +
        `destination_service="${esc(l.destinationService)}",destination_service_name="${esc(l.destinationServiceName)}",destination_version="${esc(l.destinationVersion)}",` +
        `request_protocol="${l.grpcStatus === undefined ? 'http' : 'grpc'}",response_code="${l.responseCode}",response_flags="${esc(l.responseFlags)}"` +
        (l.grpcStatus === undefined ? '' : `,grpc_response_status="${l.grpcStatus}"`);
      s = {
        labels,
        requests: 0,
        duration: new Histogram(BUCKETS_MS),
        requestBytes: new Histogram(BUCKETS_BYTES),
        responseBytes: new Histogram(BUCKETS_BYTES),
      };
      this.series.set(key, s);
    }
    return s;
  }

  inc(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  /** Total of istio_requests_total, optionally for one response code. */
  requestCount(code?: number): number {
    let n = 0;
    for (const s of this.series.values()) if (code === undefined || s.labels.includes(`response_code="${code}"`)) n += s.requests;
    return n;
  }

  /** Plain data, for another process to merge (a gateway's workers report to the first process). */
  snapshot(): MetricsSnapshot {
    const h = (x: Histogram) => ({ counts: [...x.counts], sum: x.sum, n: x.n });
    return {
      series: [...this.series.values()].map((s) => ({
        labels: s.labels,
        requests: s.requests,
        duration: h(s.duration),
        requestBytes: h(s.requestBytes),
        responseBytes: h(s.responseBytes),
      })),
      counters: [...this.counters.entries()],
    };
  }

  /** Prometheus text; with `others`, their series and counters are added to this process's. */
  render(others: readonly MetricsSnapshot[] = []): string {
    const merged = others.length ? mergedSeries(this, others) : this.series;
    const counters = new Map(this.counters);
    for (const o of others) for (const [name, v] of o.counters) counters.set(name, (counters.get(name) ?? 0) + v);
    const out: string[] = ['# TYPE istio_requests_total counter'];
    for (const s of merged.values()) out.push(`istio_requests_total{${s.labels}} ${s.requests}`);
    const hist = (name: string, pick: (s: Series) => Histogram) => {
      out.push(`# TYPE ${name} histogram`);
      for (const s of merged.values()) {
        const h = pick(s);
        let cumulative = 0;
        h.buckets.forEach((b, i) => out.push(`${name}_bucket{${s.labels},le="${b}"} ${(cumulative += h.counts[i])}`));
        out.push(`${name}_bucket{${s.labels},le="+Inf"} ${h.n}`, `${name}_sum{${s.labels}} ${h.sum}`, `${name}_count{${s.labels}} ${h.n}`);
      }
    };
    hist('istio_request_duration_milliseconds', (s) => s.duration);
    hist('istio_request_bytes', (s) => s.requestBytes);
    hist('istio_response_bytes', (s) => s.responseBytes);
    for (const [name, v] of counters) out.push(`# TYPE ${name} counter`, `${name} ${v}`);
    return `${out.join('\n')}\n`;
  }
}

type HistogramData = { counts: number[]; sum: number; n: number };
export interface MetricsSnapshot {
  readonly series: Array<{
    labels: string;
    requests: number;
    duration: HistogramData;
    requestBytes: HistogramData;
    responseBytes: HistogramData;
  }>;
  readonly counters: Array<[string, number]>;
}

export const totalRequests = (m: MetricsSnapshot): number => m.series.reduce((n, s) => n + s.requests, 0);

/** This process's series plus others', summed by label set (fresh objects: nothing of ours is changed). */
function mergedSeries(own: Metrics, others: readonly MetricsSnapshot[]): Map<string, Series> {
  const out = new Map<string, Series>();
  const add = (
    labels: string,
    requests: number,
    parts: Array<[keyof Pick<Series, 'duration' | 'requestBytes' | 'responseBytes'>, HistogramData]>,
  ) => {
    let s = out.get(labels);
    if (!s)
      out.set(
        labels,
        (s = {
          labels,
          requests: 0,
          duration: new Histogram(BUCKETS_MS),
          requestBytes: new Histogram(BUCKETS_BYTES),
          responseBytes: new Histogram(BUCKETS_BYTES),
        }),
      );
    s.requests += requests;
    for (const [k, h] of parts) {
      s[k].sum += h.sum;
      s[k].n += h.n;
      h.counts.forEach((c, i) => (s![k].counts[i] += c));
    }
  };
  for (const m of [own.snapshot(), ...others])
    for (const s of m.series)
      add(s.labels, s.requests, [
        ['duration', s.duration],
        ['requestBytes', s.requestBytes],
        ['responseBytes', s.responseBytes],
      ]);
  return out;
}
