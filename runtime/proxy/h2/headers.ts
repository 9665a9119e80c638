/**
 * Header blocks across the codec boundary: the request an HTTP/2 stream sends upstream (path
 * rewritten, forwarding headers, XFCC, the route's operations; the same rules as
 * request/upstream-head.ts gives HTTP/1.1) as a list both upstream codecs write, and the response
 * headers a stream sends back (hop-by-hop headers dropped, the route's operations applied).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type { HeaderOpsConfig, ListenerConfig, RouteConfig, WeightedCluster } from '../../contract/proxy-config';
import { regexRewritePath, rewritePath } from '../request/upstream-head';
import { forwardedClientCert, XFCC } from '../xfcc';
import type { RequestInfo } from '../request/context';
import type { StreamRequest } from './stream-request';
import { traceHeaders, type TraceContext } from '../tracing/propagation';

/** Connection-specific headers: never forwarded across a hop (RFC 9113 §8.2.2), whichever the codecs. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'host',
  'te',
  'trailer',
]);

const NONE: HeaderList = [];

/** A header list: [name, value] pairs, names lowercase, in order. */
export type HeaderList = Array<[string, string]>;

export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly headers: HeaderList;
  /** The client asked for trailers (`te: trailers`, as gRPC does): an HTTP/2 upstream is told so too. */
  readonly teTrailers: boolean;
}

/** What the request is sent with besides itself (the exchange has it all). */
export interface ForwardInputs {
  readonly route: RouteConfig;
  readonly destination?: WeightedCluster;
  readonly requestId: string;
  readonly listener?: ListenerConfig;
  readonly ownProto: boolean;
  /** The proxy's span, sent as the upstream request's parent (tracing/propagation.ts). */
  readonly trace?: TraceContext;
}

/** `name` is one of the pairs' names (a handful of them: a scan costs less than a set made per request). */
function isNamed(name: string, pairs: HeaderList): boolean {
  for (let i = 0; i < pairs.length; i++) if (pairs[i][0] === name) return true;
  return false;
}

/**
 * Received pairs, hop-by-hop and pseudo-headers left out, under `ops` (remove, set, add), without
 * the names of `replaced` and `dropped`. Without operations `pairs` (the caller's own) is filtered in place.
 */
function withOps(pairs: HeaderList, ops: readonly (HeaderOpsConfig | undefined)[], replaced: HeaderList, dropped?: string): HeaderList {
  if (!ops[0] && !ops[1]) {
    let n = 0;
    for (let i = 0; i < pairs.length; i++) {
      const name = pairs[i][0];
      if (name !== dropped && !isNamed(name, replaced)) pairs[n++] = pairs[i];
    }
    pairs.length = n;
    return pairs;
  }
  const removed = new Set<string>();
  for (const [n] of replaced) removed.add(n);
  if (dropped) removed.add(dropped);
  for (const o of ops) {
    o?.remove?.forEach((n) => removed.add(n.toLowerCase()));
    o?.set?.forEach(([n]) => removed.add(n.toLowerCase()));
  }
  const out: HeaderList = pairs.filter(([n]) => !removed.has(n));
  for (const o of ops) {
    o?.set?.forEach(([n, v]) => out.push([n.toLowerCase(), v]));
    o?.add?.forEach(([n, v]) => out.push([n.toLowerCase(), v]));
  }
  return out;
}

/** The header object's pairs (arrays flattened), without pseudo-headers and connection-specific ones. */
export function pairsOf(headers: IncomingHttpHeaders): HeaderList {
  const out: HeaderList = [];
  const named = connectionNamed(headers);
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */ || HOP_BY_HOP.has(name) || named.includes(name)) continue;
    const v = headers[name];
    if (v === undefined) continue;
    if (typeof v === 'string') out.push([name, v]);
    else for (const one of v) out.push([name, one]);
  }
  return out;
}

/** The names a `connection` header lists (connection-specific too). */
function connectionNamed(headers: IncomingHttpHeaders): string[] {
  const connection = headers.connection;
  return typeof connection === 'string' ? connection.split(',').map((n) => n.trim().toLowerCase()) : NO_NAMES;
}
const NO_NAMES: string[] = [];

/** The request headers as received, hop-by-hop ones left out: an HTTP/1.1 head's flat [name, value, ...] list. */
export function pairsOfHead(flat: readonly string[]): HeaderList {
  const named = new Set<string>();
  for (let i = 0; i < flat.length; i += 2)
    if (flat[i] === 'connection') for (const n of flat[i + 1].split(',')) named.add(n.trim().toLowerCase());
  const out: HeaderList = [];
  for (let i = 0; i < flat.length; i += 2) {
    const n = flat[i];
    if (!HOP_BY_HOP.has(n) && !named.has(n) && n !== 'content-length') out.push([n, flat[i + 1]]);
  }
  return out;
}

/**
 * What goes upstream for `req` (whichever codec it came in): `received`, its headers without
 * hop-by-hop ones (a list the caller made for this, taken over); `authority`, as received;
 * `teTrailers`, the client accepts trailers.
 */
export function upstreamRequest(
  req: RequestInfo,
  authority: string,
  received: HeaderList,
  teTrailers: boolean,
  x: ForwardInputs,
): UpstreamRequest {
  const route = x.route;
  const own = ownHeaders(req, x);
  const headers = withOps(received, [route.requestHeaders, x.destination?.requestHeaders], own.ours, own.dropped);
  for (const pair of own.ours) headers.push(pair);
  return { method: req.method, path: upstreamPath(req, route), authority: authorityFor(route, authority), headers, teTrailers };
}

/** The request's path upstream: the route's rewrite applied. */
function upstreamPath(req: RequestInfo, route: RouteConfig): string {
  const rewrite = route.action.kind === 'forward' ? route.action.rewrite : undefined;
  if (rewrite?.uriRegex) return regexRewritePath(req.target, rewrite.uriRegex);
  if (rewrite?.uriPrefix !== undefined) return rewritePath(route, req.target, rewrite.uriPrefix);
  return req.target;
}

/** The request's authority upstream: the route's rewrite, else as received. */
function authorityFor(route: RouteConfig, authority: string): string {
  const rewrite = route.action.kind === 'forward' ? route.action.rewrite : undefined;
  return rewrite?.authority ?? authority;
}

/** The headers the proxy sets (forwarding, request id, trace, XFCC), replacing the client's, and the one it drops (an XFCC not passed on). */
function ownHeaders(req: RequestInfo, x: ForwardInputs): { ours: HeaderList; dropped?: string } {
  const xff = req.header('x-forwarded-for');
  const ours: HeaderList = [
    ['x-forwarded-for', xff ? `${xff}, ${req.remoteAddress}` : req.remoteAddress],
    ['x-request-id', x.requestId],
  ];
  if (x.ownProto || !req.header('x-forwarded-proto')) ours.push(['x-forwarded-proto', req.scheme]);
  if (x.trace) ours.push(...traceHeaders(x.trace));
  const xfcc = forwardedClientCert(req, x.listener);
  if (xfcc.value) ours.push([XFCC, xfcc.value]);
  return { ours, dropped: xfcc.drop ? XFCC : undefined };
}

/**
 * An HTTP/2 stream's request as it goes upstream. Without header operations (the common route)
 * its headers stay the stream's own object until someone reads them: an HTTP/2 upstream gets its
 * head made straight from that object (`h2RequestHeaders`), with no list in between.
 */
export function streamUpstreamRequest(req: StreamRequest, x: ForwardInputs): UpstreamRequest {
  const te = req.headers.te;
  const teTrailers = typeof te === 'string' && te.includes('trailers');
  const route = x.route;
  if (route.requestHeaders || x.destination?.requestHeaders)
    return upstreamRequest(req, req.authority, pairsOf(req.headers), teTrailers, x);
  const own = ownHeaders(req, x);
  return new ReceivedRequest(
    req.method,
    upstreamPath(req, route),
    authorityFor(route, req.authority),
    teTrailers,
    req.headers,
    own.ours,
    own.dropped,
  );
}

/** A stream's request without header operations: the received object, the proxy's own headers, and the list only when asked for. */
class ReceivedRequest implements UpstreamRequest {
  private list?: HeaderList;

  constructor(
    readonly method: string,
    readonly path: string,
    readonly authority: string,
    readonly teTrailers: boolean,
    private readonly received: IncomingHttpHeaders,
    private readonly ours: HeaderList,
    private readonly dropped: string | undefined,
  ) {}

  /** As a list (an HTTP/1.1 upstream, a mirror, gRPC-Web's translation): made once. */
  get headers(): HeaderList {
    if (!this.list) {
      this.list = withOps(pairsOf(this.received), NO_OPS, this.ours, this.dropped);
      for (const pair of this.ours) this.list.push(pair);
    }
    return this.list;
  }

  /** Into `node:http2`'s object: the received headers that go on (a repeated one stays an array), then the proxy's own. */
  h2Headers(into: OutgoingHttpHeaders): OutgoingHttpHeaders {
    if (this.list) return toObject(this.list, into);
    const h = this.received;
    const named = connectionNamed(h);
    for (const name in h) {
      if (name.charCodeAt(0) === 58 /* ':' */ || HOP_BY_HOP.has(name) || named.includes(name)) continue;
      if (name === this.dropped || isNamed(name, this.ours)) continue;
      const v = h[name];
      if (v !== undefined) into[name] = v;
    }
    return toObject(this.ours, into);
  }
}

const NO_OPS: readonly (HeaderOpsConfig | undefined)[] = [undefined, undefined];

/** The request's head as `node:http2` takes it, after `into` (the pseudo-headers). */
export function h2RequestHeaders(r: UpstreamRequest, into: OutgoingHttpHeaders): OutgoingHttpHeaders {
  return r instanceof ReceivedRequest ? r.h2Headers(into) : toObject(r.headers, into);
}

/** A header list as `node:http2` takes it (a repeated name as an array). */
export function toObject(list: HeaderList, into: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  for (const [n, v] of list) {
    const had = into[n];
    if (had === undefined) into[n] = v;
    else into[n] = Array.isArray(had) ? [...had, v] : [String(had), v];
  }
  return into;
}

/** The response head for the client as an HTTP/2 upstream sent it, when nothing changes it: its headers but pseudo-headers and connection-specific ones. */
export function receivedResponse(status: number, headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  return passedOn(headers, { ':status': status });
}

/** An HTTP/2 upstream's trailers for the client, as received but connection-specific fields (as pairsOf leaves them out). */
export function receivedTrailers(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  return passedOn(headers, {});
}

/** `headers` into `into`, pseudo-headers and connection-specific ones left out (a repeated one stays an array). */
function passedOn(headers: IncomingHttpHeaders, into: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionNamed(headers);
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */ || HOP_BY_HOP.has(name) || named.includes(name)) continue;
    const v = headers[name];
    if (v !== undefined) into[name] = v;
  }
  return into;
}

/** The response head for the client: the upstream's headers (pairs), the route's operations, and `extra` (CORS, cookie). */
export function downstreamResponse(
  status: number,
  pairs: HeaderList,
  route: RouteConfig | undefined,
  destination: WeightedCluster | undefined,
  extra: HeaderList,
): OutgoingHttpHeaders {
  const into: OutgoingHttpHeaders = { ':status': status };
  const r = route?.responseHeaders;
  const d = destination?.responseHeaders;
  // No operations (the common route): the upstream's pairs go straight into the head.
  toObject(r || d ? withOps(pairs, [r, d], NONE) : pairs, into);
  return extra.length ? toObject(extra, into) : into;
}
