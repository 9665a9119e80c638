/**
 * Access logs as Envoy's OpenTelemetry access logger sends them for Istio's `envoyOtelAls` providers:
 * each request (or TCP connection) one OTLP LogRecord — its start time, the text format as its body,
 * the provider's `labels` as its attributes (each a format string, in name order), the request's trace
 * and span ids when the proxy traces — batched off the request path (../otlp/batcher.ts) and exported
 * with `LogsService/Export` over OTLP/gRPC (../otlp/grpc.ts). Istio turns Envoy's built-in labels off,
 * so the resource carries no attributes and the log name is sent nowhere.
 */
import { type AccessLogConfig, OTLP_LOGS_EXPORT, type OtlpAccessLogConfig } from '../../contract/proxy-config';
import { BatchExporter, type BatchCounters, type Count, type ExporterOptions, type Send } from '../otlp/batcher';
import { grpcPost } from '../otlp/grpc';
import { encodeLogsRequest, type OtlpLogRecord } from '../otlp/protobuf';
import type { RequestRecord } from '../request/record';
import type { ConnectionRecord } from '../tcp-record';
import { unixNano } from '../tracing/span';
import { compileTextFormat, type LineOf } from './format';
import { TCP_FIELDS } from './tcp-fields';

export const OTLP_LOGS_EXPORTED = 'mast_access_log_otlp_exported_total';
export const OTLP_LOGS_DROPPED_QUEUE_FULL = 'mast_access_log_otlp_dropped_total{reason="queue_full"}';
export const OTLP_LOGS_DROPPED_EXPORT_FAILED = 'mast_access_log_otlp_dropped_total{reason="export_failed"}';
const COUNTERS: BatchCounters = {
  exported: OTLP_LOGS_EXPORTED,
  queueFull: OTLP_LOGS_DROPPED_QUEUE_FULL,
  exportFailed: OTLP_LOGS_DROPPED_EXPORT_FAILED,
};

export type OtlpLogExporter = BatchExporter<OtlpLogRecord, Uint8Array>;

/** The exporter of one collector: records batched, each batch one Export call. */
export function otlpLogExporter(
  collector: OtlpAccessLogConfig,
  count: Count,
  send: Send<Uint8Array> = grpcPost({ host: collector.host, port: collector.port, path: OTLP_LOGS_EXPORT, authority: collector.authority }),
  o: ExporterOptions = {},
): OtlpLogExporter {
  return new BatchExporter((records) => encodeLogsRequest(records), send, count, COUNTERS, o);
}

/** The key of a collector: logs with the same one share an exporter (one connection, one queue). */
export const collectorKey = (c: OtlpAccessLogConfig): string => `${c.host}:${c.port}|${c.authority ?? ''}`;

/** A log's records: a request's, a TCP connection's, each given the wall clock when it finished. */
export interface RecordsOf {
  readonly request: (r: RequestRecord, now: number) => OtlpLogRecord;
  readonly connection: (c: ConnectionRecord, now: number) => OtlpLogRecord;
}

/** A text format as Envoy formats a body: whole, its newline kept (Istio's default ends in one). */
function bodyOf<R>(text: string, lineOf: (format: string) => LineOf<R>): LineOf<R> {
  const line = lineOf(text);
  return text.endsWith('\n') ? (r, now) => `${line(r, now)}\n` : line;
}

/** The record functions of an `otlp` log (its format a text one: mastd sends no other). */
export function compileRecords(log: AccessLogConfig): RecordsOf {
  const c = log.otlp;
  if (c && (typeof c.host !== 'string' || !c.host || !Number.isInteger(c.port) || c.port < 1 || c.port > 65535))
    throw new Error(`otlp collector must be a host and a port, not ${JSON.stringify(c)}`);
  const text = 'text' in log.format ? log.format.text : undefined;
  const attributes = Object.entries(log.otlp?.attributes ?? {});
  const request = {
    body: text === undefined ? undefined : bodyOf(text, (f) => compileTextFormat(f)),
    attributes: attributes.map(([k, f]) => [k, compileTextFormat(f)] as const),
  };
  const connection = {
    body: text === undefined ? undefined : bodyOf(text, (f) => compileTextFormat(f, TCP_FIELDS)),
    attributes: attributes.map(([k, f]) => [k, compileTextFormat(f, TCP_FIELDS)] as const),
  };
  return {
    request: (r, now) => ({
      timeUnixNano: unixNano(now - r.ms),
      ...(request.body ? { body: request.body(r, now) } : {}),
      attributes: request.attributes.map(([k, f]) => [k, f(r, now)] as const),
      ...(r.trace ? { traceId: r.trace.traceId, spanId: r.trace.spanId } : {}),
    }),
    connection: (c, now) => ({
      timeUnixNano: unixNano(c.start),
      ...(connection.body ? { body: connection.body(c, now) } : {}),
      attributes: connection.attributes.map(([k, f]) => [k, f(c, now)] as const),
    }),
  };
}
