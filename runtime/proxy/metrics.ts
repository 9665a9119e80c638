/**
 * Istio's standard metrics (and mast's own counters) kept as plain numbers keyed by a precomputed
 * label tuple; rendered to Prometheus text, with `# HELP` and `# TYPE` for every family, only on scrape.
 */
import { buildInfoLines } from '../contract/build-info';
import { FAMILY_HELP, helpOf, ISTIO_TCP, type PeerLabels, peerLabelText, type RequestLabels, requestLabelText } from './metric-labels';

/**
 * A series whose families carry different labels (Telemetry `metrics` overrides, metric-overrides.ts):
 * each family's label text in its order (HTTP: requests, duration, request bytes, response bytes;
 * TCP: ISTIO_TCP's), null where the family is not reported.
 */
export interface ShapedLabels {
  readonly shaped: ReadonlyArray<string | null>;
}
const isShaped = (l: object): l is ShapedLabels => 'shaped' in l;
/** Shaped labels whose families all have the same text are a plain series (the one it would be without overrides). */
const uniform = (l: ShapedLabels) => l.shaped.every((t) => t !== null && t === l.shaped[0]);
/** The key of a shaped series: its one text when uniform, else its texts, told apart from any plain label text (which has no NUL). */
const shapedKey = (l: ShapedLabels) => (uniform(l) ? (l.shaped[0] as string) : l.shaped.map((t) => t ?? '').join('\0'));
const textsOf = (l: ShapedLabels) => (uniform(l) ? undefined : l.shaped);
/** A family's label text in a series (undefined: not reported). */
const textOf = (s: { labels: string; texts?: ReadonlyArray<string | null> }, family: number): string | undefined =>
  s.texts ? (s.texts[family] ?? undefined) : s.labels;

export type { PeerLabels, RequestLabels } from './metric-labels';

/**
 * Envoy's default histogram buckets, which Istio keeps for its histograms (durations in ms and
 * sizes in bytes alike) unless a pod sets `sidecar.istio.io/statsHistogramBuckets`.
 */
export const DEFAULT_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

class Histogram {
  /** Per bucket, not cumulative (one increment per observation); cumulated when rendered. */
  readonly counts = new Float64Array(DEFAULT_BUCKETS.length);
  sum = 0;
  n = 0;
  observe(v: number): void {
    this.sum += v;
    this.n++;
    const b = DEFAULT_BUCKETS;
    for (let i = 0; i < b.length; i++)
      if (v <= b[i]) {
        this.counts[i]++;
        return;
      }
  }
  add(h: HistogramData): void {
    this.sum += h.sum;
    this.n += h.n;
    h.counts.forEach((c, i) => (this.counts[i] += c));
  }
}

export interface Series {
  labels: string;
  texts?: ReadonlyArray<string | null>;
  requests: number;
  /** gRPC messages (Istio's two message counters); counted only for gRPC requests whose messages were counted. */
  requestMessages: number;
  responseMessages: number;
  /** Whether a gRPC request with counted messages is in this series (the message families have a sample). */
  grpc: boolean;
  duration: Histogram;
  requestBytes: Histogram;
  responseBytes: Histogram;
}

/** One TCP series: Istio's four TCP counters under one label set. */
export interface TcpSeries {
  readonly labels: string;
  readonly texts?: ReadonlyArray<string | null>;
  opened: number;
  closed: number;
  sent: number;
  received: number;
}

const newSeries = (labels: string, texts?: ReadonlyArray<string | null>): Series => ({
  labels,
  ...(texts ? { texts } : {}),
  requests: 0,
  requestMessages: 0,
  responseMessages: 0,
  grpc: false,
  duration: new Histogram(),
  requestBytes: new Histogram(),
  responseBytes: new Histogram(),
});
const newTcp = (labels: string, texts?: ReadonlyArray<string | null>): TcpSeries => ({
  labels,
  ...(texts ? { texts } : {}),
  opened: 0,
  closed: 0,
  sent: 0,
  received: 0,
});

export class Metrics {
  private readonly series = new Map<string, Series>();
  private readonly tcp = new Map<string, TcpSeries>();
  /** mast's own counters, by name with its labels (`name{a="b"}`). */
  readonly counters = new Map<string, number>();

  /** Series by a caller's group object (e.g. the cluster), then a caller's short key: no label strings per request. */
  private readonly byGroup = new WeakMap<object, Map<string, Series>>();
  private readonly tcpByGroup = new WeakMap<object, Map<string, TcpSeries>>();

  /**
   * Records a request. `key` tells the series of `group` apart (response code, flags, peer...);
   * `labels` is called only the first time the pair is seen, and pairs with the same labels share a series.
   */
  recordIn(
    group: object,
    key: string,
    labels: () => RequestLabels | ShapedLabels,
    durationMs: number,
    requestBytes: number,
    responseBytes: number,
    grpcMessages?: { readonly request: number; readonly response: number },
  ): void {
    this.observe(this.seriesIn(group, key, labels), durationMs, requestBytes, responseBytes, grpcMessages);
  }

  /** The series of `key` in `group`, made with `labels` the first time (series are kept for the process's life). */
  seriesIn(group: object, key: string, labels: () => RequestLabels | ShapedLabels): Series {
    let inGroup = this.byGroup.get(group);
    if (!inGroup) this.byGroup.set(group, (inGroup = new Map()));
    let s = inGroup.get(key);
    if (!s) {
      const l = labels();
      const text = isShaped(l) ? shapedKey(l) : requestLabelText(l);
      s = this.series.get(text);
      if (!s) this.series.set(text, (s = newSeries(text, isShaped(l) ? textsOf(l) : undefined)));
      inGroup.set(key, s);
    }
    return s;
  }

  /** A request in a series seriesIn gave. */
  observe(
    s: Series,
    durationMs: number,
    requestBytes: number,
    responseBytes: number,
    grpcMessages?: { readonly request: number; readonly response: number },
  ): void {
    s.requests++;
    if (grpcMessages) {
      s.grpc = true;
      s.requestMessages += grpcMessages.request;
      s.responseMessages += grpcMessages.response;
    }
    s.duration.observe(durationMs);
    s.requestBytes.observe(requestBytes);
    s.responseBytes.observe(responseBytes);
  }

  /** The TCP series of `key` in `group` (one per connection's labels), made with `labels` the first time. */
  tcpSeries(group: object, key: string, labels: () => (PeerLabels & { readonly responseFlags: string }) | ShapedLabels): TcpSeries {
    let inGroup = this.tcpByGroup.get(group);
    if (!inGroup) this.tcpByGroup.set(group, (inGroup = new Map()));
    let s = inGroup.get(key);
    if (!s) {
      const l = labels();
      const text = isShaped(l) ? shapedKey(l) : `${peerLabelText(l)},request_protocol="tcp",response_flags="${l.responseFlags}"`;
      s = this.tcp.get(text);
      if (!s) this.tcp.set(text, (s = newTcp(text, isShaped(l) ? textsOf(l) : undefined)));
      inGroup.set(key, s);
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
        ...(s.texts ? { texts: s.texts } : {}),
        requests: s.requests,
        ...(s.grpc ? { messages: [s.requestMessages, s.responseMessages] as [number, number] } : {}),
        duration: h(s.duration),
        requestBytes: h(s.requestBytes),
        responseBytes: h(s.responseBytes),
      })),
      tcp: [...this.tcp.values()].map((s) => ({ ...s })),
      counters: [...this.counters.entries()],
    };
  }

  /** Prometheus text; with `others`, their series and counters are added to this process's. */
  render(others: readonly MetricsSnapshot[] = []): string {
    const all = [this.snapshot(), ...others];
    const series = new Map<string, Series>();
    const tcp = new Map<string, TcpSeries>();
    const counters = new Map<string, number>();
    for (const m of all) {
      for (const s of m.series) {
        let mine = series.get(s.labels);
        if (!mine) series.set(s.labels, (mine = newSeries(s.labels, s.texts)));
        mine.requests += s.requests;
        if (s.messages) {
          mine.grpc = true;
          mine.requestMessages += s.messages[0];
          mine.responseMessages += s.messages[1];
        }
        mine.duration.add(s.duration);
        mine.requestBytes.add(s.requestBytes);
        mine.responseBytes.add(s.responseBytes);
      }
      for (const s of m.tcp ?? []) {
        let mine = tcp.get(s.labels);
        if (!mine) tcp.set(s.labels, (mine = newTcp(s.labels, s.texts)));
        mine.opened += s.opened;
        mine.closed += s.closed;
        mine.sent += s.sent;
        mine.received += s.received;
      }
      for (const [name, v] of m.counters) counters.set(name, (counters.get(name) ?? 0) + v);
    }
    const out: string[] = [...buildInfoLines('proxy')];
    const family = (name: string, type: 'counter' | 'histogram') =>
      out.push(`# HELP ${name} ${FAMILY_HELP[name]}`, `# TYPE ${name} ${type}`);
    // Istio's families are declared even before their first sample: a scrape always says what the proxy exports.
    {
      family('istio_requests_total', 'counter');
      for (const s of series.values()) {
        const labels = textOf(s, 0);
        if (labels !== undefined) out.push(`istio_requests_total{${labels}} ${s.requests}`);
      }
      const hist = (name: string, index: number, pick: (s: Series) => Histogram) => {
        family(name, 'histogram');
        for (const s of series.values()) {
          const labels = textOf(s, index);
          if (labels === undefined) continue;
          // A series whose every label was removed has none: no comma before `le`.
          const sep = labels ? ',' : '';
          const h = pick(s);
          let cumulative = 0;
          DEFAULT_BUCKETS.forEach((b, i) => out.push(`${name}_bucket{${labels}${sep}le="${b}"} ${(cumulative += h.counts[i])}`));
          out.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${h.n}`, `${name}_sum{${labels}} ${h.sum}`, `${name}_count{${labels}} ${h.n}`);
        }
      };
      hist('istio_request_duration_milliseconds', 1, (s) => s.duration);
      hist('istio_request_bytes', 2, (s) => s.requestBytes);
      hist('istio_response_bytes', 3, (s) => s.responseBytes);
      // gRPC's message counters: samples for the series of gRPC requests only, as Istio's (its grpc_stats counts).
      const messages = (name: string, index: number, pick: (s: Series) => number) => {
        family(name, 'counter');
        for (const s of series.values()) {
          const labels = s.grpc ? textOf(s, index) : undefined;
          if (labels !== undefined) out.push(`${name}{${labels}} ${pick(s)}`);
        }
      };
      messages('istio_request_messages_total', 4, (s) => s.requestMessages);
      messages('istio_response_messages_total', 5, (s) => s.responseMessages);
    }
    ISTIO_TCP.forEach(([name, pick], i) => {
      family(name, 'counter');
      for (const s of tcp.values()) {
        const labels = textOf(s, i);
        if (labels !== undefined) out.push(`${name}{${labels}} ${pick(s)}`);
      }
    });
    // mast's own counters: one HELP and TYPE per family, its series (label sets) under it.
    const families = new Map<string, string[]>();
    for (const [name, v] of counters) {
      const brace = name.indexOf('{');
      const base = brace < 0 ? name : name.slice(0, brace);
      let lines = families.get(base);
      if (!lines) families.set(base, (lines = []));
      lines.push(`${name} ${v}`);
    }
    for (const [base, lines] of families) out.push(`# HELP ${base} ${helpOf(base)}`, `# TYPE ${base} counter`, ...lines);
    return out.length ? `${out.join('\n')}\n` : '';
  }
}

type HistogramData = { counts: number[]; sum: number; n: number };
export interface MetricsSnapshot {
  readonly series: Array<{
    labels: string;
    texts?: ReadonlyArray<string | null>;
    requests: number;
    /** gRPC messages from clients and from servers, in a series with gRPC requests. */
    messages?: [number, number];
    duration: HistogramData;
    requestBytes: HistogramData;
    responseBytes: HistogramData;
  }>;
  /** Absent from a process of an older version (its workers are the same bundle: only in tests). */
  readonly tcp?: TcpSeries[];
  readonly counters: Array<[string, number]>;
}

export const totalRequests = (m: MetricsSnapshot): number => m.series.reduce((n, s) => n + s.requests, 0);
