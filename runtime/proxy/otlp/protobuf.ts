/**
 * OTLP export requests in protobuf's binary form, for OTLP/gRPC: ExportLogsServiceRequest (access
 * log records, as Envoy's OpenTelemetry access logger sends them) and ExportTraceServiceRequest (spans,
 * as Envoy's OpenTelemetry tracer sends them without `http`). Written with @bufbuild/protobuf's
 * BinaryWriter, field by field, by the numbers of opentelemetry-proto's `.proto` files (no generated
 * code). The library is loaded on the first export: a proxy that exports nothing never loads it.
 */
import type { BinaryWriter as Writer } from '@bufbuild/protobuf/wire';
import type { OtlpAttribute, OtlpSpan } from '../tracing/span';

/** One access log record (an OTLP LogRecord), its strings already formatted. */
export interface OtlpLogRecord {
  /** The request's start, epoch nanoseconds as a string of digits (LogRecord.time_unix_nano). */
  readonly timeUnixNano: string;
  /** The formatted text (an AnyValue string); absent: no body. */
  readonly body?: string;
  /** Formatted attributes, in the order given (string values). */
  readonly attributes: ReadonlyArray<readonly [string, string]>;
  /** The request's span, 32 and 16 hex digits, when the proxy traces it. */
  readonly traceId?: string;
  readonly spanId?: string;
}

/** Wire types: varint, 64-bit, length-delimited, 32-bit. */
const VARINT = 0;
const I64 = 1;
const LEN = 2;

type WireModule = typeof import('@bufbuild/protobuf/wire');
let wire: WireModule | undefined;
const newWriter = (): Writer => new (wire ??= require('@bufbuild/protobuf/wire') as WireModule).BinaryWriter();

/** A length-delimited submessage: `fork` … `join`. */
function message(w: Writer, field: number, body: (w: Writer) => void): void {
  w.tag(field, LEN).fork();
  body(w);
  w.join();
}

/** common.v1.KeyValue with a string AnyValue: key 1, value 2 (AnyValue.string_value 1). */
function keyValue(w: Writer, field: number, key: string, value: string): void {
  message(w, field, (kv) => {
    kv.tag(1, LEN).string(key);
    message(kv, 2, (v) => v.tag(1, LEN).string(value));
  });
}

const hexBytes = (hex: string): Uint8Array => Buffer.from(hex, 'hex');

/** resource.v1.Resource: attributes 1. */
function resource(w: Writer, field: number, attributes: ReadonlyArray<readonly [string, string]>): void {
  message(w, field, (r) => {
    for (const [k, v] of attributes) keyValue(r, 1, k, v);
  });
}

/** logs.v1.LogRecord: time_unix_nano 1 (fixed64), body 5, attributes 6, trace_id 9, span_id 10. */
function logRecord(w: Writer, r: OtlpLogRecord): void {
  message(w, 2, (m) => {
    m.tag(1, I64).fixed64(r.timeUnixNano);
    if (r.body !== undefined) message(m, 5, (v) => v.tag(1, LEN).string(r.body!));
    for (const [k, v] of r.attributes) keyValue(m, 6, k, v);
    if (r.traceId) m.tag(9, LEN).bytes(hexBytes(r.traceId));
    if (r.spanId) m.tag(10, LEN).bytes(hexBytes(r.spanId));
  });
}

/**
 * ExportLogsServiceRequest: resource_logs 1 → ResourceLogs { resource 1, scope_logs 2 → ScopeLogs
 * { log_records 2 } }. Istio turns Envoy's built-in resource labels off (disable_builtin_labels): the
 * resource has the attributes given (none, as Istio's).
 */
export function encodeLogsRequest(
  records: readonly OtlpLogRecord[],
  resourceAttributes: ReadonlyArray<readonly [string, string]> = [],
): Uint8Array {
  const w = newWriter();
  message(w, 1, (rl) => {
    resource(rl, 1, resourceAttributes);
    message(rl, 2, (sl) => {
      for (const r of records) logRecord(sl, r);
    });
  });
  return w.finish();
}

const pairs = (attributes: readonly OtlpAttribute[]) => attributes.map((a) => [a.key, a.value.stringValue] as const);

/** trace.v1.Span: trace_id 1, span_id 2, trace_state 3, parent_span_id 4, name 5, kind 6, start 7, end 8, attributes 9, status 15 (code 3). */
function span(w: Writer, s: OtlpSpan): void {
  message(w, 2, (m) => {
    m.tag(1, LEN).bytes(hexBytes(s.traceId));
    m.tag(2, LEN).bytes(hexBytes(s.spanId));
    if (s.traceState) m.tag(3, LEN).string(s.traceState);
    if (s.parentSpanId) m.tag(4, LEN).bytes(hexBytes(s.parentSpanId));
    m.tag(5, LEN).string(s.name);
    m.tag(6, VARINT).int32(s.kind);
    m.tag(7, I64).fixed64(s.startTimeUnixNano);
    m.tag(8, I64).fixed64(s.endTimeUnixNano);
    for (const [k, v] of pairs(s.attributes)) keyValue(m, 9, k, v);
    if (s.status) message(m, 15, (st) => st.tag(3, VARINT).int32(s.status!.code));
  });
}

/**
 * ExportTraceServiceRequest: resource_spans 1 → ResourceSpans { resource 1, scope_spans 2 →
 * ScopeSpans { scope 1 (InstrumentationScope.name 1), spans 2 } }: what the JSON body of
 * tracing/exporter.ts says, in protobuf.
 */
export function encodeTraceRequest(
  spans: readonly OtlpSpan[],
  resourceAttributes: readonly OtlpAttribute[],
  scopeName: string,
): Uint8Array {
  const w = newWriter();
  message(w, 1, (rs) => {
    resource(rs, 1, pairs(resourceAttributes));
    message(rs, 2, (ss) => {
      message(ss, 1, (scope) => scope.tag(1, LEN).string(scopeName));
      for (const s of spans) span(ss, s);
    });
  });
  return w.finish();
}
