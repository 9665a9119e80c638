/**
 * Spans as Envoy's Zipkin tracer reports them (Istio's `zipkin` extension provider): Zipkin's v2
 * JSON (`POST /api/v2/spans`, a list of spans), made from the OTLP form the tracer builds
 * (span.ts): ids in hex, times in microseconds, kind SERVER/CLIENT, the tags as strings, the
 * service in `localEndpoint.serviceName`, `error` for an error status. Each proxy's span has its own
 * id (istiod sets Envoy's `shared_span_context: false`), so no span is `shared`. A trace id whose
 * high half is zero (a 64-bit one) is written in 16 hex digits, as Zipkin keeps it. Pure.
 */
import { type OtlpSpan, SPAN_KIND_CLIENT, SPAN_KIND_SERVER, STATUS_CODE_ERROR } from './span';

export interface ZipkinSpan {
  readonly traceId: string;
  readonly id: string;
  readonly parentId?: string;
  readonly name: string;
  readonly kind?: 'SERVER' | 'CLIENT';
  /** Microseconds since the epoch. */
  readonly timestamp: number;
  readonly duration: number;
  readonly localEndpoint: { readonly serviceName: string };
  readonly tags: Record<string, string>;
}

/** OTLP's integer nanoseconds string as Zipkin's integer microseconds. */
const micros = (nanos: string): number => Number(nanos.length > 3 ? nanos.slice(0, -3) : '0');
const HIGH_ZERO = '0'.repeat(16);
const traceIdOf = (id: string) => (id.length === 32 && id.startsWith(HIGH_ZERO) ? id.slice(16) : id);

export function zipkinSpan(s: OtlpSpan, serviceName: string): ZipkinSpan {
  const tags: Record<string, string> = {};
  for (const a of s.attributes) tags[a.key] = a.value.stringValue;
  if (s.status?.code === STATUS_CODE_ERROR && tags.error === undefined) tags.error = 'true';
  const start = micros(s.startTimeUnixNano);
  const kind = s.kind === SPAN_KIND_SERVER ? 'SERVER' : s.kind === SPAN_KIND_CLIENT ? 'CLIENT' : undefined;
  return {
    traceId: traceIdOf(s.traceId),
    id: s.spanId,
    ...(s.parentSpanId ? { parentId: s.parentSpanId } : {}),
    name: s.name.toLowerCase(),
    ...(kind ? { kind } : {}),
    timestamp: start,
    // Zipkin drops a zero duration: a span is at least a microsecond long.
    duration: Math.max(1, micros(s.endTimeUnixNano) - start),
    localEndpoint: { serviceName },
    tags,
  };
}

/** A batch as the body of `POST /api/v2/spans`. */
export const zipkinBody = (spans: readonly OtlpSpan[], serviceName: string): string =>
  JSON.stringify(spans.map((s) => zipkinSpan(s, serviceName)));
