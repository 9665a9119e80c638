import { FLAG_END_STREAM, INTERNAL_ERROR } from './lazy-http2';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { ListenerConfig, RouteConfig, WeightedCluster } from '../../contract/proxy-config';
import { containPeerInput } from '../contain';
import { chunkedCopy } from '../mirror';
import { HttpError } from '../http/bytes';
import { RequestIds } from '../request-id';
import { admit, refusalReply, routingView, withAdmission } from '../request/authorize';
import type { ExchangeContext, MirrorBody } from '../request/context';
import { corsResponseHeaders } from '../request/cors';
import { pickEndpoint, type GeneratedCookie } from '../request/hash-key';
import { flagBit, flagString, requestFinished, type Flag, type RequestRecord } from '../request/record';
import { ReplayBuffer } from '../request/replay-buffer';
import { avoidsTriedHosts, backoffMs, mayRetry, type Failure } from '../request/retry';
import { decide, type Decision, type ForwardPlan } from '../request/route';
import type { Cluster, Endpoint } from '../upstream/cluster';
import { grpcLocalReply, grpcStatusOf, grpcTimeoutMs, isGrpc } from './grpc';
import { downstreamResponse, pairsOf, streamUpstreamRequest, toObject, type HeaderList, type UpstreamRequest } from './headers';
import { type H2Connection, StreamRequest } from './stream-request';
import { H1Try, requestHead } from './upstream-h1';
import { H2Try } from './upstream-h2';
import type { TryOwner, UpstreamTry } from './upstream-try';
import type { PathNormalization } from '../../contract/proxy-config';

const REQUEST_IDS = new RequestIds();
const RESET = 'upstream connect error or disconnect/reset before headers. reset reason:';
/** A client reset within this long of opening the stream, before any response, is premature (Envoy's premature_reset_min_stream_lifetime_seconds: 1). */
const PREMATURE_MS = 1000;
const EMPTY = Buffer.alloc(0);

/** What a stream's request needs of the proxy. */
export interface H2ExchangeContext extends ExchangeContext {
  readonly pathNormalization: PathNormalization;
}

const grpcOf = (list: HeaderList): number | undefined => {
  for (const [n, v] of list) if (n === 'grpc-status') return grpcStatusOf({ 'grpc-status': v });
  return undefined;
};

export class H2Exchange implements TryOwner {
  private readonly started = performance.now();
  private done = false;
  private committed = false;
  private req?: StreamRequest;
  private listener?: ListenerConfig;
  private route?: RouteConfig;
  private destination?: WeightedCluster;
  private cluster?: Cluster;
  private plan?: ForwardPlan;
  private upstream?: UpstreamRequest;
  requestId = '';
  generatedCookie?: GeneratedCookie;
  ownProto = false;
  private flags = 0;
  private status = 0;
  private grpcStatus?: number;
  private bytesIn = 0;
  private bytesOut = 0;
  private details?: string;
  private readonly grpc: boolean;
  // The tries.
  private tries = 0;
  private current?: UpstreamTry;
  /** The current try has its stream or connection: body bytes go straight to it. */
  private tryReady = false;
  private endpoint?: Endpoint;
  private tried?: Endpoint[];
  private counted = false;
  /** The request's HEADERS did not end the stream: a body follows. */
  private readonly hasBody: boolean;
  /** The request body: held until a try is ready, kept for a retry while it fits. */
  private readonly replay: ReplayBuffer;
  private trailersOut?: HeaderList;
  /** The client's request trailers, sent upstream after the body. */
  private trailersIn?: HeaderList;
  private waitsForTrailers = false;
  private awaitingDrain = false;
  private premature = false;
  /** Mirror copies of this request, taking its body as it comes. */
  private mirrors?: MirrorBody[];
  private delayTimer?: NodeJS.Timeout;
  private timeoutTimer?: NodeJS.Timeout;
  private tryTimer?: NodeJS.Timeout;
  private backoffTimer?: NodeJS.Timeout;

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
  }

  start(): void {
    const { stream, ctx, conn } = this;
    stream.on('error', () => undefined);
    stream.on('close', () => this.downstreamGone());
    if (this.hasBody) {
      // The client's body reaches the tries inside containPeerInput: a throw resets this stream, not the process.
      const reset = () => this.abort('DC');
      stream.on('data', (chunk: Buffer) => containPeerInput('downstream', reset, () => this.requestBody(chunk)));
      stream.on('trailers', (t) => (this.trailersIn = pairsOf(t)));
      stream.on('end', () => containPeerInput('downstream', reset, () => this.requestEnd()));
    }
    let req: StreamRequest;
    try {
      req = this.req = new StreamRequest(this.headers, conn, ctx.pathNormalization, ctx.limits.trustedHops ?? 0);
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(400, 'bad_request', String(err));
      return this.reply(e.status, '', `${e.message}\n`);
    }
    const entry = conn.listener.entryFor(req.port);
    this.listener = entry?.config;
    // As HTTP/1.1 (exchange.ts): a gateway's client is external, its x-request-id and (without trusted hops) x-forwarded-proto replaced.
    const edge = ctx.identity.mode === 'gateway';
    this.ownProto = edge && !(ctx.limits.trustedHops ?? 0);
    if (!edge) this.requestId = req.header('x-request-id') ?? '';
    const admission = admit(this.listener, req);
    if (admission.refusal) {
      const r = refusalReply(admission.refusal);
      this.details = r.details;
      return this.reply(r.status, '', r.body, r.headers);
    }
    // A verified JWT's header edits ride on the route, so every way upstream applies them.
    const decision = withAdmission(decide(entry, routingView(req, admission), Math.random), admission);
    this.route = decision.route;
    if (!decision.delayMs) return this.proceed(decision);
    this.flags |= flagBit('DI');
    this.delayTimer = setTimeout(() => this.proceed(decision), decision.delayMs);
  }

  private proceed(d: Decision): void {
    if (this.done) return;
    if (d.kind === 'reply') return this.reply(d.status, d.flag, d.body, d.headers, d.grpcStatus);
    this.plan = d;
    this.destination = d.destination;
    const cluster = (this.cluster = this.ctx.cluster(d.destination.cluster));
    if (!cluster || (cluster.endpoints.length === 0 && cluster.config.lb.kind !== 'passthrough'))
      return this.reply(503, 'UH', 'no healthy upstream\n');
    if (!this.requestId) this.requestId = REQUEST_IDS.next();
    const req = this.req!;
    this.upstream = streamUpstreamRequest(req, {
      route: d.route,
      destination: d.destination,
      requestId: this.requestId,
      listener: this.listener,
      ownProto: this.ownProto,
    });
    // The route's timeout, or a gRPC client's own deadline when sooner (grpc-timeout, bounded by the route's).
    const route = d.action.timeoutMs || 0;
    const deadline = this.grpc ? grpcTimeoutMs(this.headers['grpc-timeout']) : undefined;
    const ms = deadline !== undefined && (!route || deadline < route) ? deadline : route;
    if (ms) this.timeoutTimer = setTimeout(() => this.onTimeout(), Math.max(0, ms - (performance.now() - this.started)));
    // A body is copied to each mirror as it streams (none of it came yet, unless a fault delayed the request: no copy then, as HTTP/1.1's).
    if (d.mirrors && !(this.hasBody && this.bytesIn > 0)) this.startMirrors(d.mirrors);
    this.next();
  }

  /**
   * The mirrors' copies, as HTTP/1.1 requests (mirror.ts speaks HTTP/1.1): `-shadow` authority,
   * `x-mast-mirror`, the body with the client's length, else chunked.
   */
  private startMirrors(clusters: readonly string[]): void {
    const u = this.upstream!;
    const withBody = this.replay.hasBody;
    const length = this.headers['content-length'];
    const known = typeof length === 'string' ? length : undefined;
    const shadow = { ...u, authority: `${u.authority}-shadow`, headers: [...u.headers, ['x-mast-mirror', 'true']] satisfies HeaderList };
    const head = requestHead(shadow, withBody, known);
    for (const m of clusters) {
      const copy = this.ctx.mirror(m, u.method, head, withBody);
      if (copy) (this.mirrors ??= []).push(known === undefined ? chunkedCopy(copy) : copy);
    }
  }

  // ---- tries ----

  private next(): void {
    const cluster = this.cluster!;
    const plan = this.plan!;
    const req = this.req!;
    this.tries++;
    const endpoint = pickEndpoint(cluster, req, this, this.tried);
    if (!endpoint) return this.reply(503, 'UH', 'no healthy upstream\n');
    const max = cluster.config.maxRequests;
    if (!this.counted) {
      if (max !== undefined && cluster.requestsInFlight >= max) {
        cluster.overflows++;
        return this.reply(503, 'UO', `${RESET} overflow\n`);
      }
      cluster.requestsInFlight++;
      this.counted = true;
    }
    this.endpoint = endpoint;
    if (avoidsTriedHosts(plan.action.retries)) (this.tried ??= []).push(endpoint);
    this.tryReady = false;
    const proto = cluster.protocolFor(req.originalPort);
    const perTry = plan.action.retries?.perTryTimeoutMs;
    if (perTry) this.tryTimer = setTimeout(() => this.onTryTimeout(), perTry);
    // A body, or trailers alone, to send after the head.
    const hasBody = this.replay.hasBody || this.trailersIn !== undefined;
    // `client`: the protocol the client spoke, HTTP/2 here.
    if (proto === 'h2' || proto === 'client') {
      const t = new H2Try(cluster, endpoint, this, this.upstream!, hasBody);
      this.current = t;
      t.start();
    } else {
      const length = this.headers['content-length'];
      const t = new H1Try(cluster, endpoint, this, this.upstream!, hasBody, typeof length === 'string' ? length : undefined);
      this.current = t;
      t.start((flag) => this.reply(503, flag, flag === 'UO' ? `${RESET} overflow\n` : 'no healthy upstream\n'));
    }
  }

  /** The try can take the body: what was kept goes first, then the rest as it comes. */
  ready(): void {
    const t = this.current!;
    this.tryReady = true;
    for (const c of this.replay.replay()) t.write(c);
    t.onDrain = () => this.stream.resume();
    if (this.replay.done) t.endBody(this.trailersIn);
    else if (this.hasBody && this.stream.isPaused()) this.stream.resume();
  }

  private requestBody(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    if (this.mirrors) for (const m of this.mirrors) m.write(chunk, false);
    if (this.done) return;
    const t = this.tryReady ? this.current : undefined;
    // Waiting for a connection, a back-off or a fault delay: held, and reading stops past the bound.
    if (this.replay.add(chunk, false, t !== undefined)) this.stream.pause();
    if (t && !t.write(chunk)) this.stream.pause();
  }

  private requestEnd(): void {
    if (this.mirrors) for (const m of this.mirrors) m.write(EMPTY, true);
    this.replay.end();
    if (this.tryReady) this.current?.endBody(this.trailersIn);
  }

  private retry(status: number | undefined, failure: Failure | undefined, grpcStatus?: number): boolean {
    const policy = this.plan!.action.retries;
    if (!mayRetry(policy, this.tries, this.replay.sentPartially, status, failure, grpcStatus)) return false;
    this.dropTry();
    this.backoffTimer = setTimeout(
      () => {
        this.backoffTimer = undefined;
        if (!this.done) this.next();
      },
      backoffMs(policy, this.tries, Math.random),
    );
    return true;
  }

  private dropTry(): void {
    clearTimeout(this.tryTimer);
    const t = this.current;
    this.current = undefined;
    this.tryReady = false;
    t?.cancel();
  }

  // ---- from the try ----

  head(status: number, headers: HeaderList, end: boolean): boolean {
    if (this.done) return false;
    clearTimeout(this.tryTimer);
    this.cluster!.recordResult(this.endpoint!, status);
    // A trailers-only response carries its gRPC status in the head: the retry policy's gRPC names read it.
    const grpc = end ? grpcOf(headers) : undefined;
    if (this.retry(status, undefined, grpc)) return false;
    this.status = status;
    if (grpc !== undefined) this.grpcStatus = grpc;
    this.committed = true;
    const route = this.route!;
    const extra: HeaderList = [];
    if (route.cors)
      for (const line of corsResponseHeaders(route.cors, this.req!)) {
        const colon = line.indexOf(':');
        extra.push([line.slice(0, colon), line.slice(colon + 2, -2)]);
      }
    if (this.generatedCookie) extra.push(['set-cookie', this.generatedCookie.header]);
    const out = downstreamResponse(status, headers, route, this.destination, extra);
    // An HTTP/2 upstream may end with trailers (gRPC always does), an HTTP/1.1 one's chunked body too: the stream waits for them.
    const t = this.current;
    this.waitsForTrailers = !end && (t instanceof H2Try || (t instanceof H1Try && t.mayHaveTrailers));
    if (!this.respond(out, end)) return false;
    if (end) this.finish();
    return true;
  }

  data(chunk: Buffer): boolean {
    if (this.done) return true;
    this.bytesOut += chunk.length;
    if (this.stream.write(chunk)) return true;
    // One wait per full window: chunks already read upstream still come while it pauses.
    if (!this.awaitingDrain) {
      this.awaitingDrain = true;
      this.stream.once('drain', () => {
        this.awaitingDrain = false;
        this.current?.resume();
      });
    }
    return false;
  }

  trailers(headers: HeaderList): void {
    this.trailersOut = headers;
    const grpc = grpcOf(headers);
    if (grpc !== undefined) this.grpcStatus = grpc;
  }

  end(): void {
    if (this.done) return;
    this.current = undefined;
    if (!this.waitsForTrailers) this.stream.end();
    else {
      const trailers = toObject(this.trailersOut ?? []);
      this.stream.once('wantTrailers', () => {
        try {
          this.stream.sendTrailers(trailers);
        } catch {
          // A field the codec refuses: this stream is reset, not the proxy.
          if (!this.stream.destroyed) this.stream.close(INTERNAL_ERROR);
        }
      });
      this.stream.end();
    }
    this.finish();
  }

  failed(flag: Flag, status: number, reason: Failure): void {
    if (this.done) return;
    this.current = undefined;
    this.tryReady = false;
    clearTimeout(this.tryTimer);
    if (this.committed) return this.abort(flag);
    // A connect failure or reset counts against the endpoint as a 503 would (outlier detection).
    this.cluster!.recordResult(this.endpoint!, 503);
    if (this.retry(undefined, reason)) return;
    if (this.tries > 1) this.flags |= flagBit('URX');
    this.reply(
      status,
      flag,
      `${RESET} ${reason === 'connect-failure' ? 'connection failure' : reason === 'refused-stream' ? 'refused stream' : 'connection termination'}\n`,
    );
  }

  // ---- timeouts, the client gone ----

  private onTryTimeout(): void {
    if (this.done || this.committed) return;
    this.dropTry();
    this.cluster!.recordResult(this.endpoint!, 504);
    if (!this.retry(504, 'reset')) this.reply(504, 'UT', 'upstream request timeout\n');
  }

  private onTimeout(): void {
    if (this.done) return;
    this.dropTry();
    if (this.committed) return this.abort('UT');
    this.reply(504, 'UT', 'upstream request timeout\n');
  }

  private downstreamGone(): void {
    if (this.done) return;
    // Reset by the client soon after it opened, before a response began: Envoy's "premature reset" (server.ts).
    if (!this.committed && performance.now() - this.started < PREMATURE_MS) this.premature = true;
    this.flags |= flagBit('DC');
    this.status = this.status || 499;
    this.dropTry();
    this.finish();
  }

  /** Mid-response: the stream is reset (its connection and other streams go on). */
  private abort(flag: Flag): void {
    this.flags |= flagBit(flag);
    this.dropTry();
    if (!this.stream.destroyed) this.stream.close(INTERNAL_ERROR);
    this.finish();
  }

  /** A local reply: for a gRPC client, a gRPC one (HTTP 200, trailers-only, the status mapped from `status` or given). */
  private reply(status: number, flag: Flag | '', body: string, headers: Array<[string, string]> = [], grpcStatus?: number): void {
    if (this.done) return;
    this.dropTry();
    if (flag) this.flags |= flagBit(flag);
    if (this.grpc && status >= 300) {
      const out = grpcLocalReply(status, body, grpcStatus);
      this.status = 200;
      this.grpcStatus = Number(out['grpc-status']);
      this.respond(out, true);
      return this.finish();
    }
    this.status = status;
    const out: OutgoingHttpHeaders = { ':status': status };
    if (body) {
      out['content-type'] = 'text/plain';
      out['content-length'] = Buffer.byteLength(body);
    }
    for (const [n, v] of headers) out[n] = v;
    if (this.respond(out, !body) && body) {
      this.bytesOut += Buffer.byteLength(body);
      this.stream.end(body);
    }
    this.finish();
  }

  /** The response head into the stream; false when the stream is gone already. */
  private respond(headers: OutgoingHttpHeaders, end: boolean): boolean {
    const s = this.stream;
    if (s.destroyed || s.closed || s.headersSent) return false;
    try {
      s.respond(headers, { endStream: end, waitForTrailers: !end && this.waitsForTrailers });
      return true;
    } catch {
      // A header the codec refuses (a connection-specific one an upstream sent): the stream is reset, not the proxy.
      s.close(INTERNAL_ERROR);
      return false;
    }
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.conn.streamEnded?.(this.premature);
    clearTimeout(this.delayTimer);
    clearTimeout(this.timeoutTimer);
    clearTimeout(this.tryTimer);
    clearTimeout(this.backoffTimer);
    if (this.mirrors) for (const m of this.mirrors) m.abandon();
    if (this.counted) this.cluster!.requestsInFlight--;
    if (!requestFinished.hasSubscribers || !this.req) return;
    const now = performance.now();
    requestFinished.publish({
      owner: this.ctx,
      request: this.req,
      inbound: this.listener?.trafficDirection === 'INBOUND',
      cluster: this.cluster?.config,
      status: this.status,
      flags: flagString(this.flags),
      ms: now - this.started,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      route: this.route?.name,
      upstream: this.endpoint?.key,
      requestId: this.requestId,
      authority: this.req.authority,
      details: this.details,
      protocol: 'HTTP/2',
      grpcStatus: this.grpcStatus,
    } satisfies RequestRecord);
  }
}
