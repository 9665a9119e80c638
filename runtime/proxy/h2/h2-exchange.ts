import { performance } from 'node:perf_hooks';
import { FLAG_END_STREAM, INTERNAL_ERROR } from './lazy-http2';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { ListenerConfig, RouteConfig, WeightedCluster } from '../../contract/proxy-config';
import { HttpError } from '../http/bytes';
import { RequestIds } from '../request-id';
import type { DryRunRecord } from '../../contract/authz-dry-run';
import { admit, refusalReply, routingView, withAdmission } from '../request/authorize';
import type { ExchangeContext, MirrorBody } from '../request/context';
import { corsResponseHeaders } from '../request/cors';
import type { GeneratedCookie } from '../request/hash-key';
import { flagBit, flagString, requestFinished, type Flag, type RequestRecord } from '../request/record';
import { ReplayBuffer } from '../request/replay-buffer';
import type { Failure } from '../request/retry';
import { decide, type Decision } from '../request/route';
import type { Cluster, Endpoint } from '../upstream/cluster';
import { grpcStatusIn, grpcStatusOf, grpcTimeoutMs, isGrpc } from './grpc';
import { GrpcMessageCounter } from '../grpc-messages';
import { Base64Body, type GrpcWebCall, GrpcWebBodyError, grpcWebCallOn, grpcWebRequestHeaders, type WebHead } from './grpc-web';
import { downstreamResponse, pairsOf, receivedResponse, streamUpstreamRequest, type HeaderList, type UpstreamRequest } from './headers';
import { listenToClient, type StreamOwner } from './client-listeners';
import { mirrorCopies } from './mirror-copies';
import { type H2Connection, StreamRequest } from './stream-request';
import { type ResponseSource, StreamResponse } from './stream-response';
import { RESET, Tries, type TriesOwner } from './tries';
import { H1Try } from './upstream-h1';
import { H2Try } from './upstream-h2';
import type { TryOwner, UpstreamTry } from './upstream-try';
import type { PathNormalization } from '../../contract/proxy-config';
import type { TraceContext } from '../tracing/propagation';
import { Deadline, requestDeadlines } from '../deadlines';
import { containedError } from '../contain';

const REQUEST_IDS = new RequestIds();
/** setImmediate's callback for every exchange (no closure per request). */
const startFirstTry = (x: H2Exchange): void => x.startFirstTry();
/** A client reset within this long of opening the stream, before any response, is premature (Envoy's premature_reset_min_stream_lifetime_seconds: 1). */
const PREMATURE_MS = 1000;
const EMPTY = Buffer.alloc(0);
const NO_HEADERS: HeaderList = [];

/** What a stream's request needs of the proxy. */
export interface H2ExchangeContext extends ExchangeContext {
  readonly pathNormalization: PathNormalization;
}

/**
 * One client HTTP/2 stream's request through the layers: admission, the route decision, the
 * upstream tries (tries.ts) fed with the request body, the response into the stream
 * (stream-response.ts), timeouts, the client gone, and the record when it is over.
 */
export class H2Exchange implements TryOwner, TriesOwner, ResponseSource, StreamOwner {
  private readonly started = performance.now();
  done = false;
  committed = false;
  private req?: StreamRequest;
  private listener?: ListenerConfig;
  private route?: RouteConfig;
  private destination?: WeightedCluster;
  private cluster?: Cluster;
  private upstream?: UpstreamRequest;
  requestId = '';
  /** This request's span, when the proxy traces. */
  private trace?: TraceContext;
  generatedCookie?: GeneratedCookie;
  ownProto = false;
  private flags = 0;
  private bytesIn = 0;
  private details?: string;
  /** The dry-run policies' outcomes, for the record. */
  private dryRun?: DryRunRecord;
  private readonly grpc: boolean;
  /** The upstream tries, once the request is routed to a cluster. */
  private tries?: Tries;
  /** The request's HEADERS did not end the stream: a body follows. */
  private readonly hasBody: boolean;
  /** The request body: held until a try is ready, kept for a retry while it fits. */
  private readonly replay: ReplayBuffer;
  /** The client's request trailers, sent upstream after the body. */
  trailersIn?: HeaderList;
  private premature = false;
  /** The response, into the client's stream. */
  private readonly out: StreamResponse;
  /** Mirror copies of this request, taking its body as it comes. */
  private mirrors?: MirrorBody[];
  private delayTimer?: NodeJS.Timeout;
  /** The first try, waiting one turn of the loop for the body that came with the head (proceed). */
  private firstTry?: NodeJS.Immediate;
  /** The route's timeout, on the request path's lanes (deadlines.ts: no timer of its own). */
  private timeout?: Deadline;
  /** A gRPC client's own deadline (any length: not a lane's). */
  private timeoutTimer?: NodeJS.Timeout;
  /** A gRPC-Web call on a listener that translates it (grpc-web.ts), and its `-text` body decoder. */
  private web?: GrpcWebCall;
  private webBody?: Base64Body;

  constructor(
    private readonly ctx: H2ExchangeContext,
    private readonly conn: H2Connection,
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    flags: number,
  ) {
    this.hasBody = (flags & FLAG_END_STREAM) === 0;
    this.replay = new ReplayBuffer(!this.hasBody);
    const ct = headers['content-type'];
    this.grpc = isGrpc(typeof ct === 'string' ? ct : undefined);
    this.out = new StreamResponse(stream, this.grpc, this);
    // gRPC's messages counted both ways (Istio's message counters); a gRPC-Web call's once it is translated to gRPC.
    if (this.grpc && !(ct as string).startsWith('application/grpc-web')) this.countMessages();
  }

  /** Client's messages in (after a gRPC-Web call's decoding), server's out (before its encoding). */
  private messagesIn?: GrpcMessageCounter;
  /** Why the last try's connection never came up (%UPSTREAM_TRANSPORT_FAILURE_REASON%). */
  private transportFailure?: string;
  private countMessages(): void {
    this.messagesIn = new GrpcMessageCounter();
    this.out.messages = new GrpcMessageCounter();
  }

  start(): void {
    const { stream, ctx, conn } = this;
    listenToClient(stream, this, this.hasBody);
    let req: StreamRequest;
    try {
      req = this.req = new StreamRequest(this.headers, conn, ctx.pathNormalization, ctx.limits.trustedHops ?? 0);
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(400, 'bad_request', String(err));
      return this.reply(e.status, '', `${e.message}\n`);
    }
    const entry = conn.listener.entryFor(req.port, conn.server);
    this.listener = entry?.config;
    if (this.listener?.grpcWeb) this.startGrpcWeb();
    // As HTTP/1.1 (exchange.ts): a gateway's client is external, its x-request-id and (without trusted hops) x-forwarded-proto replaced.
    const edge = ctx.identity.mode === 'gateway';
    this.ownProto = edge && !(ctx.limits.trustedHops ?? 0);
    if (!edge) this.requestId = req.header('x-request-id') ?? '';
    // Every request has one, a local reply's too (Envoy's connection manager sets it before any filter).
    if (!this.requestId) this.requestId = REQUEST_IDS.next();
    if (ctx.tracer) this.trace = ctx.tracer.start(req, this.listener?.trafficDirection === 'INBOUND');
    const admission = admit(this.listener, req);
    this.dryRun = admission.dryRun;
    if (admission.refusal) {
      const r = refusalReply(admission.refusal);
      this.details = r.details;
      return this.reply(r.status, '', r.body, r.headers);
    }
    // Authorized, a CONNECT finds no route (request/connect.ts): 404 NR, logged as Envoy logs it.
    if (req.method === 'CONNECT') return this.reply(404, 'NR', 'no route\n');
    // A verified JWT's header edits ride on the route, so every way upstream applies them.
    const decision = withAdmission(decide(entry, routingView(req, admission), Math.random), admission);
    this.route = decision.route;
    if (!decision.delayMs) return this.proceed(decision);
    this.flags |= flagBit('DI');
    this.delayTimer = setTimeout(() => this.proceed(decision), decision.delayMs);
  }

  private startGrpcWeb(): void {
    const h = this.headers;
    const web = grpcWebCallOn(
      this.listener,
      this.req!.originalPort,
      h['content-type'],
      typeof h.accept === 'string' ? h.accept : undefined,
    );
    if (!web) return;
    this.web = web;
    this.countMessages();
    if (web.textRequest) this.webBody = new Base64Body();
    this.out.translateGrpcWeb(web);
  }

  private proceed(d: Decision): void {
    if (this.done) return;
    if (d.kind === 'reply') return this.reply(d.status, d.flag, d.body, d.headers, d.grpcStatus);
    this.destination = d.destination;
    const cluster = (this.cluster = this.ctx.cluster(d.destination.cluster));
    if (!cluster || (cluster.endpoints.length === 0 && cluster.config.lb.kind !== 'passthrough'))
      return this.reply(503, 'UH', 'no healthy upstream\n');
    const req = this.req!;
    this.upstream = streamUpstreamRequest(req, {
      route: d.route,
      destination: d.destination,
      requestId: this.requestId,
      listener: this.listener,
      ownProto: this.ownProto,
      trace: this.trace,
    });
    // gRPC-Web goes upstream as gRPC.
    if (this.web) this.upstream = { ...this.upstream, headers: grpcWebRequestHeaders(this.upstream.headers), teTrailers: true };
    // The route's timeout, or a gRPC client's own deadline when sooner (grpc-timeout, bounded by the route's).
    const route = d.action.timeoutMs || 0;
    const deadline = this.grpc ? grpcTimeoutMs(this.headers['grpc-timeout']) : undefined;
    const ms = deadline !== undefined && (!route || deadline < route) ? deadline : route;
    // As Envoy's router (and HTTP/1.1's exchange): it starts counting when the request reaches it, after a fault's delay.
    const start = d.delayMs ? performance.now() : this.started;
    if (ms === route && ms) requestDeadlines.set((this.timeout = new Deadline(() => this.onTimeout())), ms, start);
    else if (ms) this.timeoutTimer = setTimeout(() => this.onTimeout(), Math.max(0, ms - (performance.now() - start)));
    // A body is copied to each mirror as it streams (none of it came yet, unless a fault delayed the request: no copy then, as HTTP/1.1's).
    if (d.mirrors && !(this.hasBody && this.bytesIn > 0)) {
      const length = this.web ? undefined : this.headers['content-length'];
      this.mirrors = mirrorCopies(this.ctx, d.mirrors, this.upstream, this.replay.hasBody, typeof length === 'string' ? length : undefined);
    }
    this.tries = new Tries(cluster, d.action.retries, this.replay, req, this);
    // A body that came with the head reaches the stream's listeners in Node's next ticks: the first
    // try waits for it (one turn of the loop), so that a request complete by then (a unary gRPC
    // call) goes upstream ending with its last DATA frame. A stream opened to wait for trailers
    // ends, when none come, with an empty DATA frame that Node sends from a setImmediate of its
    // own: one more frame, write and turn of the loop per request, on every hop.
    if (this.replay.done) this.tries.next();
    else this.firstTry = setImmediate(startFirstTry, this);
  }

  /** The first try, once the body that came with the head was read. */
  startFirstTry(): void {
    this.firstTry = undefined;
    if (this.done) return;
    try {
      this.tries!.next();
    } catch (error) {
      // Out of the stream's own callbacks: a throw nobody foresaw resets this stream, never the process (contain.ts).
      containedError('downstream', () => this.stream.close(INTERNAL_ERROR), error);
    }
  }

  // ---- tries ----

  /** A try to `endpoint` in the cluster's protocol for this port (tries.ts starts it). */
  createTry(endpoint: Endpoint): UpstreamTry {
    const cluster = this.cluster!;
    const proto = cluster.protocolFor(this.req!.originalPort);
    // A body, or trailers alone, to send after the head.
    const hasBody = this.replay.hasBody || this.trailersIn !== undefined;
    // `client`: the protocol the client spoke, HTTP/2 here. The upstream stream waits for trailers
    // only while the client's may still come, or when it sent some.
    if (proto === 'h2' || proto === 'client') {
      const trailersMayFollow = hasBody && (!this.replay.done || this.trailersIn !== undefined);
      return new H2Try(cluster, endpoint, this, this.upstream!, hasBody, trailersMayFollow);
    }
    const length = this.web ? undefined : this.headers['content-length'];
    return new H1Try(cluster, endpoint, this, this.upstream!, hasBody, typeof length === 'string' ? length : undefined, (flag) =>
      this.reply(503, flag, flag === 'UO' ? `${RESET} overflow\n` : 'no healthy upstream\n'),
    );
  }

  /** The try can take the body: what was kept goes first, then the rest as it comes. */
  ready(): void {
    const tries = this.tries!;
    const t = tries.current!;
    tries.ready = true;
    for (const c of this.replay.replay()) t.write(c);
    // A request without a body writes nothing, and waits for no drain.
    if (this.hasBody) t.onDrain = () => this.stream.resume();
    if (this.replay.done) t.endBody(this.trailersIn);
    else if (this.hasBody && this.stream.isPaused()) this.stream.resume();
  }

  /** Request body bytes (the listeners below call it). */
  requestBody(raw: Buffer): void {
    this.bytesIn += raw.length;
    const chunk = this.webBody ? this.decodeWeb(raw) : raw;
    if (!chunk) return;
    this.messagesIn?.push(chunk);
    if (this.mirrors) for (const m of this.mirrors) m.write(chunk, false);
    if (this.done) return;
    const t = this.tries?.ready ? this.tries.current : undefined;
    // Waiting for a connection, a back-off or a fault delay: held, and reading stops past the bound.
    if (this.replay.add(chunk, false, t !== undefined)) this.stream.pause();
    if (t && !t.write(chunk)) this.stream.pause();
  }

  /** A `-text` body's bytes; undefined once it proved not base64 (answered 400 as Envoy's filter). */
  private decodeWeb(raw: Buffer, end = false): Buffer | undefined {
    try {
      if (end) {
        this.webBody!.end();
        return EMPTY;
      }
      return this.webBody!.take(raw);
    } catch (err) {
      if (!(err instanceof GrpcWebBodyError)) throw err;
      this.details = err.details;
      this.webBody = undefined;
      if (this.committed) this.abort();
      else this.reply(400, '', err.message);
      return undefined;
    }
  }

  requestEnd(): void {
    if (this.webBody && !this.decodeWeb(EMPTY, true)) return;
    if (this.mirrors) for (const m of this.mirrors) m.write(EMPTY, true);
    this.replay.end();
    if (this.tries?.ready) this.tries.current?.endBody(this.trailersIn);
  }

  // ---- from the try ----

  head(status: number, headers: HeaderList, end: boolean): boolean {
    if (this.done) return false;
    const tries = this.tries!;
    // A trailers-only response carries its gRPC status in the head: the retry policy's gRPC names read it.
    const grpc = end ? grpcStatusIn(headers) : undefined;
    if (tries.answered(status, grpc)) return false;
    this.committed = true;
    const head = this.out.upstreamHead(status, headers, end, grpc);
    // A gRPC-Web call's answer that is not gRPC: its head waits for its body, which becomes the grpc-message (end()).
    if (!head) return true;
    // An HTTP/2 upstream may end with trailers (gRPC always does), an HTTP/1.1 one's chunked body too: the stream waits for them.
    const t = tries.current;
    return this.sendHead(this.responseHeaders(head), end, t instanceof H2Try || (t instanceof H1Try && t.mayHaveTrailers));
  }

  /** An HTTP/2 upstream's head: made straight from Node's object when nothing rewrites it (gRPC-Web, response operations, CORS, a cookie). */
  receivedHead(status: number, headers: IncomingHttpHeaders, end: boolean): boolean {
    const route = this.route!;
    if (this.web || route.responseHeaders || this.destination?.responseHeaders || route.cors || this.generatedCookie)
      return this.head(status, pairsOf(headers), end);
    if (this.done) return false;
    const tries = this.tries!;
    const grpc = end ? grpcStatusOf(headers) : undefined;
    if (tries.answered(status, grpc)) return false;
    this.committed = true;
    this.out.upstreamHead(status, NO_HEADERS, end, grpc);
    return this.sendHead(receivedResponse(status, headers), end, true);
  }

  /** The head into the client's stream; with `end`, the response is complete. */
  private sendHead(head: OutgoingHttpHeaders, end: boolean, trailersMayFollow: boolean): boolean {
    if (!this.out.respond(head, end, trailersMayFollow)) return false;
    if (!end) return true;
    this.tries!.completed();
    this.finish();
    return true;
  }

  /** The head for the client: the route's response operations and CORS, a generated cookie. */
  private responseHeaders(head: WebHead): OutgoingHttpHeaders {
    const route = this.route!;
    const extra: HeaderList = [];
    if (route.cors)
      for (const line of corsResponseHeaders(route.cors, this.req!)) {
        const colon = line.indexOf(':');
        extra.push([line.slice(0, colon), line.slice(colon + 2, -2)]);
      }
    if (this.generatedCookie) extra.push(['set-cookie', this.generatedCookie.header]);
    return downstreamResponse(head.status, head.headers, route, this.destination, extra);
  }

  data(upstream: Buffer): boolean {
    return this.done || this.out.data(upstream);
  }

  /** The client's stream drained: the try reads again. */
  resumeUpstream(): void {
    this.tries?.current?.resume();
  }

  trailers(headers: HeaderList): void {
    this.out.trailers(headers);
  }

  /** An HTTP/2 upstream's trailers: sent on as received, unless a gRPC-Web call turns them into its last frame. */
  receivedTrailers(headers: IncomingHttpHeaders): void {
    if (this.web) this.out.trailers(pairsOf(headers));
    else this.out.receivedTrailers(headers);
  }

  end(): void {
    if (this.done) return;
    this.tries!.completed();
    // A gRPC-Web call's held answer goes now, as a gRPC status.
    const held = this.out.end();
    if (held) this.out.respond(this.responseHeaders(held), true);
    this.finish();
  }

  failed(flag: Flag, status: number, reason: Failure, transportFailure?: string): void {
    if (transportFailure) this.transportFailure = transportFailure;
    this.tries!.failed(flag, status, reason);
  }

  flag(flag: Flag): void {
    this.flags |= flagBit(flag);
  }

  // ---- timeouts, the client gone ----

  private onTimeout(): void {
    if (this.done) return;
    this.tries?.drop();
    if (this.committed) return this.abort('UT');
    this.reply(504, 'UT', 'upstream request timeout\n');
  }

  downstreamGone(): void {
    if (this.done) return;
    // Reset by the client soon after it opened, before a response began: Envoy's "premature reset" (server.ts).
    if (!this.committed && performance.now() - this.started < PREMATURE_MS) this.premature = true;
    this.flags |= flagBit('DC');
    this.out.status ||= 499;
    this.tries?.drop();
    this.finish();
  }

  /** Mid-response: the stream is reset (its connection and other streams go on). */
  abort(flag?: Flag): void {
    if (flag) this.flags |= flagBit(flag);
    this.tries?.drop();
    this.out.reset();
    this.finish();
  }

  /** A local reply: for a gRPC client, a gRPC one (HTTP 200, trailers-only, the status mapped from `status` or given). */
  reply(status: number, flag: Flag | '', body: string, headers: Array<[string, string]> = [], grpcStatus?: number): void {
    if (this.done) return;
    this.tries?.drop();
    if (flag) this.flags |= flagBit(flag);
    this.out.localReply(status, body, headers, grpcStatus);
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.conn.streamEnded?.(this.premature);
    clearTimeout(this.delayTimer);
    clearImmediate(this.firstTry);
    clearTimeout(this.timeoutTimer);
    if (this.timeout) requestDeadlines.cancel(this.timeout);
    this.tries?.stop();
    if (this.mirrors) for (const m of this.mirrors) m.abandon();
    if (!requestFinished.hasSubscribers || !this.req) return;
    const now = performance.now();
    requestFinished.publish({
      owner: this.ctx,
      request: this.req,
      inbound: this.listener?.trafficDirection === 'INBOUND',
      cluster: this.cluster?.config,
      status: this.out.status,
      flags: flagString(this.flags),
      ms: now - this.started,
      bytesIn: this.bytesIn,
      bytesOut: this.out.bytesOut,
      route: this.route?.name,
      upstream: this.tries?.endpoint?.key,
      requestId: this.requestId,
      authority: this.req.authority,
      details: this.details,
      protocol: 'HTTP/2',
      grpcStatus: this.out.grpcStatus,
      ...(this.transportFailure ? { transportFailure: this.transportFailure } : {}),
      ...(this.messagesIn ? { grpcMessages: { request: this.messagesIn.count, response: this.out.messages?.count ?? 0 } } : {}),
      trace: this.trace,
      dryRun: this.dryRun,
    } satisfies RequestRecord);
  }
}
