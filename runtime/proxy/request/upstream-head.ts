/**
 * The request head sent upstream: the path (normalized at parse, then rewritten by the route),
 * the authority, the forwarding headers (x-forwarded-for, x-forwarded-proto, x-request-id,
 * x-forwarded-client-cert) and the route's and destination's header operations. In the common
 * case none of that changes the received head: it goes as received with a few lines appended.
 */
import { regexRewriter } from '../routing';
import type { ListenerConfig, RouteConfig, WeightedCluster } from '../../contract/proxy-config';
import { latin1, SEEN_HOP_BY_HOP, SEEN_X_FORWARDED_FOR, SEEN_X_FORWARDED_PROTO, SEEN_X_REQUEST_ID } from '../http/head';
import { upstreamRequestHead } from '../http/write';
import { DROP_XFCC, forwardedClientCert, xfccLine } from '../xfcc';
import type { ClientRequest } from './context';
import { traceHeaderLines, traceHeaders, type TraceContext } from '../tracing/propagation';

const PROTO_HTTP = 'x-forwarded-proto: http\r\n';
const PROTO_HTTPS = 'x-forwarded-proto: https\r\n';

/** What the head is made of besides the request (the exchange has it all). */
export interface HeadInputs {
  readonly route?: RouteConfig;
  readonly destination?: WeightedCluster;
  readonly requestId: string;
  /** The request's authority as received (Host, or the absolute-form URL's). */
  readonly authority: string;
  /** The listener config the request came in on (its `forwardClientCert`). */
  readonly listener?: ListenerConfig;
  /** A gateway's: the client's own x-request-id is not trusted, nor its x-forwarded-proto without trusted hops. */
  readonly edge: boolean;
  readonly ownProto: boolean;
  /** The proxy's span, sent as the upstream request's parent (tracing/propagation.ts). */
  readonly trace?: TraceContext;
}

/**
 * A mirror's authority, as Envoy names it: `-shadow` after the host, before any port
 * (`reviews:9080` → `reviews-shadow:9080`, `[::1]:80` → `[::1]-shadow:80`). The port starts at the
 * last colon unless a `]` comes after it (an IPv6 literal without a port: `[::1]` → `[::1]-shadow`).
 */
export function shadowAuthority(authority: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.lastIndexOf(']') > colon) return `${authority}-shadow`;
  return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
}

/** The head for the upstream; `shadow` for a mirror's copy (`-shadow` authority: shadowAuthority, `x-mast-mirror`). */
export function upstreamHead(req: ClientRequest, x: HeadInputs, shadow = false): string {
  return (!shadow && receivedHead(req, x)) || rebuiltHead(req, x, shadow);
}

/**
 * The common case needs no rebuilt head: no rewrite, no header operations, no hop-by-hop header
 * but a `Connection: keep-alive` or `close` (left out in place), no forwarding header to replace
 * (one x-forwarded-for, as the proxy before us sends it, is extended in place). Then the received
 * bytes go upstream with our few lines appended.
 */
function receivedHead(req: ClientRequest, x: HeadInputs): string | undefined {
  const action = x.route!.action;
  // A normalized path (req.target no longer the received one) needs the head rebuilt.
  if (req.absoluteForm || req.target !== req.head.target || req.head.http10 || x.route!.requestHeaders || x.destination?.requestHeaders)
    return undefined;
  if (action.kind === 'forward' && action.rewrite) return undefined;
  const head = req.head;
  const seen = head.seen;
  // A Connection line that names no header (keep-alive, close: browsers and most clients send one) is dropped where it stands.
  const dropStart = seen & SEEN_HOP_BY_HOP ? head.connectionLineStart : -1;
  if (seen & SEEN_HOP_BY_HOP && dropStart < 0) return undefined;
  // A client's (or the previous proxy's) one x-forwarded-for gets ours appended where its value ends.
  const xffEnd = seen & SEEN_X_FORWARDED_FOR ? head.forwardedForEnd : -1;
  if (seen & SEEN_X_FORWARDED_FOR && xffEnd < 0) return undefined;
  // At the edge the client's own x-request-id or x-forwarded-proto must be replaced: the head is rebuilt.
  if ((x.edge && seen & SEEN_X_REQUEST_ID) || (x.ownProto && seen & SEEN_X_FORWARDED_PROTO)) return undefined;
  const xfcc = forwardedClientCert(req, x.listener);
  if (xfcc.drop) return undefined;
  const line = xfccLine(xfcc);
  let extra = xffEnd < 0 ? req.forwardedForLine() + line : line;
  if (!(seen & SEEN_X_REQUEST_ID)) extra += `x-request-id: ${x.requestId}\r\n`;
  if (!(seen & SEEN_X_FORWARDED_PROTO)) extra += req.scheme === 'https' ? PROTO_HTTPS : PROTO_HTTP;
  // Trace headers the client sent are replaced by ours: then the head is rebuilt.
  if (x.trace) {
    if (x.trace.carried) return undefined;
    extra += traceHeaderLines(x.trace);
  }
  // The received head without its blank line, our lines, the blank line: one string, one write
  // (a short string is written from the stack, no Buffer made for it).
  const buf = req.headBuffer;
  const end = req.headLength - 2;
  if (xffEnd < 0 && dropStart < 0) return `${latin1(buf, 0, end)}${extra}\r\n`;
  return `${edited(buf, end, dropStart, head.connectionLineEnd, xffEnd, `, ${req.remoteAddress}`)}${extra}\r\n`;
}

/** buf[0, end) without the line at [dropStart, dropEnd) and with `insert` at `insertAt` (each -1 when not wanted). */
function edited(buf: Buffer, end: number, dropStart: number, dropEnd: number, insertAt: number, insert: string): string {
  if (dropStart < 0) return `${latin1(buf, 0, insertAt)}${insert}${latin1(buf, insertAt, end)}`;
  if (insertAt < 0) return `${latin1(buf, 0, dropStart)}${latin1(buf, dropEnd, end)}`;
  if (insertAt < dropStart) return `${latin1(buf, 0, insertAt)}${insert}${latin1(buf, insertAt, dropStart)}${latin1(buf, dropEnd, end)}`;
  return `${latin1(buf, 0, dropStart)}${latin1(buf, dropEnd, insertAt)}${insert}${latin1(buf, insertAt, end)}`;
}

function rebuiltHead(req: ClientRequest, x: HeadInputs, shadow: boolean): string {
  const route = x.route!;
  const rewrite = route.action.kind === 'forward' ? route.action.rewrite : undefined;
  let path = req.target;
  if (rewrite?.uriRegex) path = regexRewritePath(path, rewrite.uriRegex);
  else if (rewrite?.uriPrefix !== undefined) path = rewritePath(route, path, rewrite.uriPrefix);
  const authority = rewrite?.authority ?? x.authority;
  const xff = req.header('x-forwarded-for');
  const extra = [`x-forwarded-for: ${xff ? `${xff}, ${req.remoteAddress}` : req.remoteAddress}\r\n`, `x-request-id: ${x.requestId}\r\n`];
  if (x.ownProto || !req.header('x-forwarded-proto')) extra.push(`x-forwarded-proto: ${req.scheme}\r\n`);
  if (shadow) extra.push(`x-mast-mirror: true\r\n`);
  if (x.trace) for (const [n, v] of traceHeaders(x.trace)) extra.push(`${n}: ${v}\r\n`);
  // A line in `extra` replaces the client's header of that name; DROP_XFCC removes it.
  const xfcc = forwardedClientCert(req, x.listener);
  if (xfcc.value) extra.push(xfccLine(xfcc));
  const ops = [route.requestHeaders, x.destination?.requestHeaders, xfcc.drop && !xfcc.value ? DROP_XFCC : undefined];
  return upstreamRequestHead(req.head, { path, authority: shadow ? shadowAuthority(authority) : authority, extra, ops });
}

/** A request target's path and its query (with the `?`, or empty). */
function splitTarget(target: string): [string, string] {
  const q = target.indexOf('?');
  return q < 0 ? [target, ''] : [target.slice(0, q), target.slice(q)];
}

/** Istio: a prefix match's prefix is replaced; otherwise the whole path (the query is kept). */
export function rewritePath(route: RouteConfig, target: string, replacement: string): string {
  const [path, query] = splitTarget(target);
  for (const m of route.matches) {
    const uri = m.uri;
    if (uri && 'prefix' in uri && path.startsWith(uri.prefix)) return `${replacement}${path.slice(uri.prefix.length)}${query}` || '/';
  }
  return `${replacement}${query}`;
}

/** `uriRegexRewrite`: every match in the path replaced (the query is kept). */
export function regexRewritePath(target: string, r: { readonly pattern: string; readonly replacement: string }): string {
  const [path, query] = splitTarget(target);
  return `${regexRewriter(r)(path)}${query}`;
}
