/**
 * Trace context in and out of a request, as Envoy's OpenTelemetry tracer does with Istio: the
 * parent read from W3C `traceparent` (with `tracestate`), else from Zipkin B3 (`x-b3-*` or the
 * single `b3` header); the proxy's span takes the parent's trace id and its sampled flag, or, with
 * no parent or no decision, starts a trace sampled by the random percentage. Upstream, the request
 * carries the proxy's span as parent: `traceparent` always (flag 01 or 00, so the next hop keeps the
 * decision), `tracestate` as received, and B3 headers in the form the client used. Pure.
 */
import type { TraceIds } from './ids';

/** Where new ids come from (ids.ts's pool, or a 64-bit trace id source over it). */
export type IdSource = Pick<TraceIds, 'traceId' | 'spanId'>;

/** What came with the request: a trace to join (`sampled` undefined: no decision was made). */
export interface ParentContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled?: boolean;
  readonly tracestate?: string;
}

/** The request carried trace headers of these forms (bits): each is replaced upstream, never passed on stale. */
export const CARRIED_W3C = 1;
export const CARRIED_B3 = 2;
export const CARRIED_B3_SINGLE = 4;
/** Not a form carried: this proxy neither reads nor writes W3C headers (a zipkin provider's USE_B3); B3 ids in 16 digits when the high half is zero. */
export const B3_ONLY = 8;

/** The proxy's span of one request, made as the request starts. */
export interface TraceContext {
  readonly traceId: string;
  readonly spanId: string;
  /** The span the request came from; '' for a trace this proxy started. */
  readonly parentId: string;
  readonly sampled: boolean;
  readonly tracestate: string;
  /** CARRIED_* bits. */
  readonly carried: number;
}

/** The request headers read (any codec's request answers `header(name)`, names lowercase). */
export interface HeaderSource {
  header(name: string): string | undefined;
}

const HEX = /^[0-9a-f]+$/;
const HIGH_ZERO = '0'.repeat(16);
const isHex = (s: string, length: number) => s.length === length && HEX.test(s) && !/^0+$/.test(s);

/**
 * `traceparent` as W3C Trace Context level 1 reads it: version 00 is exactly 55 characters; a later
 * version may append fields after a dash; version ff, an all-zero id or upper case is invalid.
 */
export function parseTraceparent(value: string): ParentContext | undefined {
  const v = value.trim();
  if (v.length < 55 || (v.length > 55 && (v.startsWith('00') || v[55] !== '-'))) return undefined;
  const [version, traceId, spanId, flags] = [v.slice(0, 2), v.slice(3, 35), v.slice(36, 52), v.slice(53, 55)];
  if (v[2] !== '-' || v[35] !== '-' || v[52] !== '-') return undefined;
  if (!HEX.test(version) || version === 'ff' || !HEX.test(flags)) return undefined;
  if (!isHex(traceId, 32) || !isHex(spanId, 16)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** B3's sampling state: `1`/`true`/`d` (debug) sampled, `0`/`false` not, anything else no decision. */
function b3Sampled(s: string | undefined, debug?: string): boolean | undefined {
  if (debug === '1' || s === 'd' || s === '1' || s === 'true') return true;
  if (s === '0' || s === 'false') return false;
  return undefined;
}

/** A 64-bit B3 trace id becomes a 128-bit one zero-padded on the left (as OpenTelemetry's B3 propagator). */
const traceId128 = (id: string) => (id.length === 16 ? `${'0'.repeat(16)}${id}` : id);
const isB3TraceId = (id: string) => isHex(id, 16) || isHex(id, 32);

/** `b3: {traceid}-{spanid}[-{sampled}[-{parentspanid}]]`, or `b3: {sampled}` alone (a decision, no trace). */
export function parseB3Single(value: string): ParentContext | { readonly sampled?: boolean } | undefined {
  const parts = value.trim().split('-');
  if (parts.length === 1) return { sampled: b3Sampled(parts[0]) };
  const [traceId, spanId, sampled] = parts;
  if (!isB3TraceId(traceId) || !isHex(spanId, 16)) return undefined;
  return { traceId: traceId128(traceId), spanId, sampled: b3Sampled(sampled) };
}

export interface Carried {
  readonly parent?: ParentContext;
  /** A decision without a trace (B3's `b3: 0` or a lone `x-b3-sampled`). */
  readonly sampled?: boolean;
  readonly carried: number;
}

/** The parent of this request's span, W3C first (Envoy's OpenTelemetry tracer; unless `w3c` is false: Zipkin's USE_B3), B3 after. */
export function extract(req: HeaderSource, w3c = true): Carried {
  let carried = 0;
  let parent: ParentContext | undefined;
  let sampled: boolean | undefined;
  const traceparent = w3c ? req.header('traceparent') : undefined;
  if (traceparent !== undefined) {
    carried |= CARRIED_W3C;
    const p = parseTraceparent(traceparent);
    if (p) parent = { ...p, tracestate: req.header('tracestate') };
  }
  const b3TraceId = req.header('x-b3-traceid');
  const b3Decision = req.header('x-b3-sampled');
  if (b3TraceId !== undefined || b3Decision !== undefined) {
    carried |= CARRIED_B3;
    const spanId = req.header('x-b3-spanid');
    const s = b3Sampled(b3Decision, req.header('x-b3-flags'));
    if (!parent && b3TraceId && spanId && isB3TraceId(b3TraceId) && isHex(spanId, 16))
      parent = { traceId: traceId128(b3TraceId), spanId, sampled: s };
    else if (!parent) sampled = s;
  }
  const single = req.header('b3');
  if (single !== undefined) {
    carried |= CARRIED_B3_SINGLE;
    const p = parseB3Single(single);
    if (!parent && p && 'traceId' in p) parent = p;
    else if (!parent && p) sampled ??= p.sampled;
  }
  return { parent, sampled, carried };
}

/**
 * The proxy's span: in the parent's trace with its decision, else a new trace (or the decision
 * a header carried without a trace); `sample()` is drawn only when no decision came.
 */
export function startContext(c: Carried, ids: IdSource, sample: () => boolean, alwaysSent = 0): TraceContext {
  const p = c.parent;
  const sampled = p?.sampled ?? c.sampled ?? sample();
  return {
    traceId: p ? p.traceId : ids.traceId(),
    spanId: ids.spanId(),
    parentId: p ? p.spanId : '',
    sampled,
    tracestate: p?.tracestate ?? '',
    // `alwaysSent`: CARRIED_* forms written upstream whatever came (Envoy's Zipkin tracer writes B3).
    carried: c.carried | alwaysSent,
  };
}

/** The headers the upstream request carries (names lowercase): each replaces the client's header of its name. */
export function traceHeaders(t: TraceContext): Array<[string, string]> {
  const b3Only = (t.carried & B3_ONLY) !== 0;
  const out: Array<[string, string]> = b3Only ? [] : [['traceparent', `00-${t.traceId}-${t.spanId}-${t.sampled ? '01' : '00'}`]];
  if (t.tracestate && !b3Only) out.push(['tracestate', t.tracestate]);
  if (t.carried & CARRIED_B3) {
    // Envoy's Zipkin tracer writes a 64-bit trace id (high half zero) in 16 digits.
    const traceId = b3Only && t.traceId.startsWith(HIGH_ZERO) ? t.traceId.slice(16) : t.traceId;
    out.push(['x-b3-traceid', traceId], ['x-b3-spanid', t.spanId], ['x-b3-sampled', t.sampled ? '1' : '0']);
    if (t.parentId) out.push(['x-b3-parentspanid', t.parentId]);
  }
  if (t.carried & CARRIED_B3_SINGLE)
    out.push(['b3', `${t.traceId}-${t.spanId}-${t.sampled ? '1' : '0'}${t.parentId ? `-${t.parentId}` : ''}`]);
  return out;
}

/** The same as HTTP/1.1 header lines, `name: value\r\n` each. */
export function traceHeaderLines(t: TraceContext): string {
  let s = `traceparent: 00-${t.traceId}-${t.spanId}-${t.sampled ? '01' : '00'}\r\n`;
  if (t.carried === 0 && !t.tracestate) return s;
  // (B3_ONLY is never here: it comes with CARRIED_B3, whose heads are rebuilt with traceHeaders.)
  for (const [n, v] of traceHeaders(t).slice(1)) s += `${n}: ${v}\r\n`;
  return s;
}
