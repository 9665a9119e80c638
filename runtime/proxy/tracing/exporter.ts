/**
 * Spans leave the proxy in batches, off the request path, as OTLP/HTTP with JSON bodies
 * (`POST /v1/traces`, `application/json`): a bounded queue (a span that finds it full is dropped
 * and counted), a batch sent when it reaches its size or when the flush interval passes, one
 * export in flight at a time. A collector that is down, slow or refusing costs spans (counted),
 * never a request's latency nor the proxy's memory.
 */
import type { OtlpAttribute, OtlpSpan } from './span';

export interface ExporterOptions {
  /** Spans held at most; more are dropped. @default 2048 */
  readonly maxQueue?: number;
  /** Spans per export request; a full batch is sent at once. @default 256 */
  readonly batchSize?: number;
  /** A partial batch waits at most this long. @default 1000 (Envoy's OpenTelemetry tracer: 5000) */
  readonly flushMs?: number;
}

/** Sends one body; calls back whether the collector took it (2xx). Never throws. */
export type Post = (body: string, done: (ok: boolean) => void) => void;

/** Counters named as the proxy's other metrics (`metrics.inc`). */
export type Count = (name: string, by: number) => void;

export const SPANS_EXPORTED = 'mast_tracing_spans_exported_total';
export const SPANS_DROPPED_QUEUE_FULL = 'mast_tracing_spans_dropped_total{reason="queue_full"}';
export const SPANS_DROPPED_EXPORT_FAILED = 'mast_tracing_spans_dropped_total{reason="export_failed"}';

export class SpanExporter {
  private queue: OtlpSpan[] = [];
  private inFlight = false;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly maxQueue: number;
  private readonly batchSize: number;
  private readonly flushMs: number;
  private readonly resource: { attributes: OtlpAttribute[] };

  constructor(
    serviceName: string,
    private readonly post: Post,
    private readonly count: Count,
    o: ExporterOptions = {},
  ) {
    this.maxQueue = o.maxQueue ?? 2048;
    this.batchSize = o.batchSize ?? 256;
    this.flushMs = o.flushMs ?? 1000;
    this.resource = { attributes: [{ key: 'service.name', value: { stringValue: serviceName } }] };
  }

  /** Spans waiting to be sent. */
  get pending(): number {
    return this.queue.length;
  }

  add(span: OtlpSpan): void {
    if (this.closed) return;
    if (this.queue.length >= this.maxQueue) return this.count(SPANS_DROPPED_QUEUE_FULL, 1);
    this.queue.push(span);
    if (this.queue.length >= this.batchSize) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.flushMs);
      // A pending batch never keeps a process alive (a drained proxy exits; close() sends what is left).
      this.timer.unref();
    }
  }

  /** One batch out, if none is in flight; the rest follows when it is answered. */
  flush(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batch = this.queue.length <= this.batchSize ? this.queue : this.queue.slice(0, this.batchSize);
    this.queue = batch === this.queue ? [] : this.queue.slice(this.batchSize);
    this.inFlight = true;
    this.post(this.body(batch), (ok) => {
      this.inFlight = false;
      this.count(ok ? SPANS_EXPORTED : SPANS_DROPPED_EXPORT_FAILED, batch.length);
      if (this.queue.length >= this.batchSize || (this.closed && this.queue.length)) this.flush();
      else if (this.queue.length && !this.timer) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.flush();
        }, this.flushMs);
        this.timer.unref();
      }
    });
  }

  /** ExportTraceServiceRequest in OTLP's JSON mapping. */
  body(spans: readonly OtlpSpan[]): string {
    return JSON.stringify({ resourceSpans: [{ resource: this.resource, scopeSpans: [{ scope: { name: 'mast-proxy' }, spans }] }] });
  }

  /** No more spans taken; what is queued is sent (best effort). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }
}

/** Export requests time out after this long (a hung collector holds one request, never more). */
const POST_TIMEOUT_MS = 5000;

/**
 * OTLP/HTTP to `http://host:port/path` with `node:http`, loaded on the first export (a proxy that
 * never traces loads no HTTP client), one keep-alive connection.
 */
export function httpPost(endpoint: { readonly host: string; readonly port: number; readonly path: string }): Post {
  let agent: import('node:http').Agent | undefined;
  return (body, done) => {
    let answered = false;
    const once = (ok: boolean) => {
      if (!answered) {
        answered = true;
        done(ok);
      }
    };
    try {
      const http = require('node:http') as typeof import('node:http');
      agent ??= new http.Agent({ keepAlive: true, maxSockets: 1 });
      const req = http.request(
        {
          host: endpoint.host,
          port: endpoint.port,
          path: endpoint.path,
          method: 'POST',
          agent,
          timeout: POST_TIMEOUT_MS,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => once((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300));
          res.on('error', () => once(false));
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => once(false));
      req.end(body);
    } catch {
      once(false);
    }
  };
}
