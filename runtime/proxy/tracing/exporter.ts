/**
 * Spans leave the proxy in batches, off the request path (../otlp/batcher.ts: a bounded queue, drops
 * counted, one export in flight): as OTLP/HTTP with JSON bodies (`POST /v1/traces`,
 * `application/json`) when the provider has `http`, else as OTLP/gRPC (protobuf: ../otlp/protobuf.ts,
 * ../otlp/grpc.ts), as Istio configures Envoy's OpenTelemetry tracer.
 */
import { answerOnce, BatchExporter, type BatchCounters, type Count, type ExporterOptions } from '../otlp/batcher';
import { encodeTraceRequest } from '../otlp/protobuf';
import type { OtlpAttribute, OtlpSpan } from './span';

export type { Count, ExporterOptions } from '../otlp/batcher';

/** Sends one body; calls back whether the collector took it (2xx). Never throws. */
export type Post = (body: string, done: (ok: boolean) => void) => void;

export const SPANS_EXPORTED = 'mast_tracing_spans_exported_total';
export const SPANS_DROPPED_QUEUE_FULL = 'mast_tracing_spans_dropped_total{reason="queue_full"}';
export const SPANS_DROPPED_EXPORT_FAILED = 'mast_tracing_spans_dropped_total{reason="export_failed"}';
/** The span counters, whatever the protocol. */
export const SPAN_COUNTERS: BatchCounters = {
  exported: SPANS_EXPORTED,
  queueFull: SPANS_DROPPED_QUEUE_FULL,
  exportFailed: SPANS_DROPPED_EXPORT_FAILED,
};

/** The instrumentation scope of mast-proxy's spans. */
const SCOPE = 'mast-proxy';

const resourceOf = (serviceName: string): OtlpAttribute[] => [{ key: 'service.name', value: { stringValue: serviceName } }];

/** OTLP/HTTP JSON. */
export class SpanExporter extends BatchExporter<OtlpSpan, string> {
  private readonly resource: { attributes: OtlpAttribute[] };

  constructor(serviceName: string, post: Post, count: Count, o: ExporterOptions = {}) {
    super((spans) => this.body(spans), post, count, SPAN_COUNTERS, o);
    this.resource = { attributes: resourceOf(serviceName) };
  }

  /** ExportTraceServiceRequest in OTLP's JSON mapping. */
  body(spans: readonly OtlpSpan[]): string {
    return JSON.stringify({ resourceSpans: [{ resource: this.resource, scopeSpans: [{ scope: { name: SCOPE }, spans }] }] });
  }
}

/** OTLP/gRPC: the same request in protobuf, each batch one `TraceService/Export` call. */
export function grpcSpanExporter(
  serviceName: string,
  send: (body: Uint8Array, done: (ok: boolean) => void) => void,
  count: Count,
  o: ExporterOptions = {},
): BatchExporter<OtlpSpan, Uint8Array> {
  const resource = resourceOf(serviceName);
  return new BatchExporter((spans) => encodeTraceRequest(spans, resource, SCOPE), send, count, SPAN_COUNTERS, o);
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
    const once = answerOnce(done);
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
