/**
 * One request through the proxy: route actions (fault, redirect, direct, CORS), then
 * attempts against upstream endpoints with retries and timeouts, then the response
 * relayed to the client. Response flags as Envoy names them: NR no route, UH no healthy
 * upstream, UO overflow, UF connect failure, UC upstream reset, UT timeout, URX retries
 * exhausted, DI delayed, FI fault abort, DC downstream gone.
 */
import { RequestIds } from './request-id';
import { Deadline, Deadlines } from './deadlines';
import { pickWeighted, queryParam } from '../shared/routing';
import { PASSTHROUGH_CLUSTER, type RouteConfig, type WeightedCluster } from '../shared/proxy-config';
import { headEnd, latin1, parseResponseHead, SEEN_HOP_BY_HOP, SEEN_X_FORWARDED_FOR, SEEN_X_FORWARDED_PROTO, SEEN_X_REQUEST_ID, type ResponseHead } from './http/head';
import { BodyFraming } from './http/body';
import { downstreamResponseHead, localResponse, upstreamRequestHead } from './http/write';
import type { Cluster, Endpoint } from './upstream/cluster';
import type { ConnHandler, UpstreamConn } from './upstream/conn';
import { cookieValue, hash32 } from './upstream/hash-ring';
import type { DownstreamConn } from './downstream';
import { DROP_XFCC, forwardedClientCert } from './xfcc';
import { authorize } from '../shared/authz';
import { corsPreflight, corsResponseHeaders, redirectLocation, regexRewritePath, rewritePath, shouldRetry } from './route-actions';

const REQUEST_IDS = new RequestIds();
const DEADLINES = new Deadlines();

const PROTO_HTTP = 'x-forwarded-proto: http\r\n';
const PROTO_HTTPS = 'x-forwarded-proto: https\r\n';

/** No extra response lines (the common case: no array made per response). */
const NO_LINES: readonly string[] = [];

/** Request body bytes held while no upstream connection is ready. */
const MAX_BUFFERED_BODY = 1024 * 1024;

/** Envoy prints response flags in its enum order; an exchange keeps them as bits in that order. */
const FLAG_ORDER = ['LH', 'UH', 'UT', 'LR', 'UR', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'URX', 'DC'] as const;
type Flag = (typeof FLAG_ORDER)[number];
const flagBit = (flag: Flag) => 1 << FLAG_ORDER.indexOf(flag);
function flagString(bits: number): string {
  if (bits === 0) return '-';
  const names: string[] = [];
  for (let i = 0; i < FLAG_ORDER.length; i++) if (bits & (1 << i)) names.push(FLAG_ORDER[i]);
  return names.join(',');
}

/** The route of a request passed through to its original destination (no retries: the request may not be idempotent to a service we know nothing of). */
const PASSTHROUGH_ROUTE: RouteConfig = { name: 'allow_any', matches: [], action: { kind: 'forward', destinations: [{ cluster: PASSTHROUGH_CLUSTER, weight: 100 }], retries: { attempts: 0, retryOn: [] } } };

/**
 * The cookie Envoy makes for a consistent-hash policy on a cookie with a ttl, when the request has
 * none: its value a hash of the client connection's address and port (every request on the
 * connection gets the same one), `Max-Age` the ttl (none for 0: a session cookie), `HttpOnly`.
 */
function generatedCookie(name: string, ttlMs: number, path: string | undefined, down: DownstreamConn): { value: string; header: string } {
  const value = hash32(`${down.remoteAddress}:${down.socket.remotePort ?? 0}`).toString(16).padStart(8, '0');
  const maxAge = ttlMs > 0 ? `; Max-Age=${Math.max(1, Math.floor(ttlMs / 1000))}` : '';
  return { value, header: `${name}="${value}"${maxAge}${path ? `; Path=${path}` : ''}; HttpOnly` };
}

export class Exchange implements ConnHandler {
  private readonly started = performance.now();
  private route?: RouteConfig;
  private destination?: WeightedCluster;
  private cluster?: Cluster;
  private endpoint?: Endpoint;
  private conn?: UpstreamConn;
  /**
   * The request body: chunks waiting for an upstream connection, and once sent, kept for a retry
   * as long as they fit in MAX_BUFFERED_BODY (Envoy buffers a retried request's body the same way).
   */
  private body: Buffer[] | null = null;
  private bodyDone: boolean;
  private bodySent = false;
  /** More body than a retry may keep went upstream: this request cannot be retried. */
  private bodyStreamed = false;
  private bytesIn = 0;
  private bytesOut = 0;
  private attempts = 0;
  /** Endpoints this request was sent to, when it may be retried: a retry picks another (previous_hosts). */
  private tried?: Endpoint[];
  /** The back-off before the next attempt (a Node timer: retries are rare). */
  private backoffTimer?: NodeJS.Timeout;
  private flags = 0;
  private status = 0;
  private respHead?: ResponseHead;
  private respBuf: Buffer | null = null;
  private respFraming?: BodyFraming;
  private committed = false;
  /** The upstream sent bytes past its response's end: its connection is not reused (they would answer the next request). */
  private overrun = false;
  private done = false;
  /** A fault delay (rare: a Node timer). */
  private delayTimer?: NodeJS.Timeout;
  /** The route's timeout and the current attempt's (per-try) timeout. */
  private timeout?: Deadline;
  private tryTimeout?: Deadline;
  private requestId: string;
  /** The hash cookie made for a client that had none (consistentHash httpCookie with a ttl), set on the response. */
  private generatedCookie?: { value: string; header: string };
  /** The policy rule that denied this request (access log `response_code_details`). */
  denied?: string;
  private buffered = 0;
  /**
   * The client is external (a gateway's): its x-request-id is replaced, and so is its
   * x-forwarded-proto unless a trusted proxy is in front (Envoy keeps that one's with xff_num_trusted_hops > 0).
   */
  private readonly edge: boolean;
  private readonly ownProto: boolean;

  constructor(
    private readonly down: DownstreamConn,
    private readonly authority: string,
  ) {
    this.bodyDone = !down.bodyPending;
    // A gateway's clients are external (Envoy's use_remote_address, no internal addresses, as Istio
    // sets it for gateways): their x-request-id is not trusted (preserve_external_request_id off); a sidecar keeps it.
    this.edge = down.proxy.identity.mode === 'gateway';
    this.ownProto = this.edge && !(down.proxy.limits.trustedHops ?? 0);
    this.requestId = !this.edge && down.head.seen & SEEN_X_REQUEST_ID ? (down.header('x-request-id') ?? '') : '';
  }

  start(): void {
    const listener = this.down.listener.configFor(this.down.port);
    if (listener?.httpsRedirect) return this.replyWith(301, '', [['location', `https://${this.down.host}${this.down.target}`]]);
    const authz = listener?.authz;
    if (authz) {
      const d = this.down;
      const decision = authorize(authz, { method: d.method, path: d.target, host: d.host, port: d.port, sourceIp: d.peerAddress, remoteIp: d.clientAddress(), principal: d.peer?.principal, namespace: d.peer?.namespace, header: (name) => d.header(name) });
      if (!decision.allowed) {
        this.denied = decision.policy;
        return this.reply(403, '', 'RBAC: access denied\n');
      }
    }
    const table = this.down.listener.tableFor(this.down.port);
    const hit = table?.route(this.down);
    // A sidecar's captured request for a host the mesh does not know goes where the app sent it
    // (Istio's default outboundTrafficPolicy ALLOW_ANY), as it would without a sidecar.
    const passthrough = !hit && listener?.passthrough && this.down.originalAddress ? PASSTHROUGH_ROUTE : undefined;
    if (!hit && !passthrough) return this.reply(404, 'NR', 'no route\n');
    const route = (this.route = hit?.route.config ?? passthrough!);
    if (route.cors) {
      const preflight = corsPreflight(route.cors, this.down);
      if (preflight) return this.replyWith(200, '', preflight);
    }
    const fault = route.fault;
    if (fault?.abort && Math.random() < fault.abort.fraction) return this.reply(fault.abort.status, 'FI', 'fault filter abort\n');
    if (fault?.delay && Math.random() < fault.delay.fraction) {
      this.flags |= flagBit('DI');
      this.delayTimer = setTimeout(() => this.act(), fault.delay.ms);
      return;
    }
    this.act();
  }

  private act(): void {
    const route = this.route!;
    const action = route.action;
    if (action.kind === 'redirect') return this.replyWith(action.status, '', [['location', redirectLocation(action, this.down)]]);
    if (action.kind === 'direct') return this.replyWith(action.status, action.body ?? '', []);
    const dest = pickWeighted(action.destinations, Math.random());
    if (!dest) return this.reply(503, 'UH', 'no healthy upstream\n');
    this.destination = dest;
    this.cluster = this.down.proxy.cluster(dest.cluster);
    if (!this.cluster || (this.cluster.endpoints.length === 0 && this.cluster.config.lb.kind !== 'passthrough')) return this.reply(503, 'UH', 'no healthy upstream\n');
    if (!this.requestId) this.requestId = REQUEST_IDS.next();
    // The route's timeout counts from the head's arrival (the time taken already), or from the end of a fault delay (Envoy's router runs after the fault filter).
    if (action.timeoutMs) DEADLINES.set((this.timeout = new Deadline(() => this.onTimeout())), action.timeoutMs, this.delayTimer ? performance.now() : this.started);
    const mirrors = action.mirrors;
    if (mirrors) for (const m of mirrors) if (Math.random() < m.fraction && !this.down.bodyPending) this.down.proxy.mirror(m.cluster, this.down, this.requestHead(m.cluster));
    this.attempt();
  }

  private attempt(): void {
    const cluster = this.cluster!;
    this.attempts++;
    const lb = cluster.config.lb.kind;
    // Only a hash or a passthrough policy reads the hints: the others get none made for them.
    const hints = lb === 'hash' || lb === 'passthrough' ? { hashKey: this.hashKey(), originalPort: this.down.originalPort, originalAddress: this.down.originalAddress } : undefined;
    const endpoint = cluster.pick(hints, lb === 'hash' ? undefined : this.tried);
    if (!endpoint) return this.reply(503, 'UH', 'no healthy upstream\n');
    // An idle pooled connection (the common case) is used at once; otherwise the cluster calls back.
    const idle = cluster.takeIdle(endpoint);
    if (idle) return this.send(endpoint, idle);
    cluster.acquire(endpoint, (r) => {
      if (this.done) {
        if ('conn' in r) cluster.release(r.endpoint, r.conn, true);
        return;
      }
      if ('error' in r) return r.error === 'overflow' ? this.reply(503, 'UO', 'upstream connect error or disconnect/reset before headers. reset reason: overflow\n') : this.reply(503, 'UH', 'no healthy upstream\n');
      this.send(r.endpoint, r.conn);
    });
  }

  /** The request (head, and the body so far) onto an upstream connection. */
  private send(endpoint: Endpoint, conn: UpstreamConn): void {
    this.endpoint = endpoint;
    const retries = this.route!.action.kind === 'forward' ? this.route!.action.retries : undefined;
    if (retries && retries.attempts > 0 && retries.previousHosts !== false) (this.tried ??= []).push(endpoint);
    this.conn = conn;
    endpoint.active++;
    endpoint.requests++;
    conn.take(this);
    const action = this.route!.action;
    const perTry = action.kind === 'forward' ? action.retries?.perTryTimeoutMs : undefined;
    if (perTry) DEADLINES.set((this.tryTimeout ??= new Deadline(() => this.onTryTimeout())), perTry);
    conn.socket.write(this.requestHead(this.cluster!.config.host), 'latin1');
    const body = this.body;
    if (body) {
      for (let i = 0; i < body.length; i++) conn.socket.write(body[i]);
      if (body.length) this.bodySent = true;
    }
    if (this.buffered > MAX_BUFFERED_BODY) {
      this.dropRetryBody();
      if (this.down.socket.isPaused()) this.down.socket.resume();
    }
  }

  private requestHead(host: string): string {
    const d = this.down;
    const fast = this.fastRequestHead(host);
    if (fast) return fast;
    const action = this.route!.action;
    const rewrite = action.kind === 'forward' ? action.rewrite : undefined;
    const path = rewrite?.uriRegex ? regexRewritePath(d.target, rewrite.uriRegex) : rewrite?.uriPrefix !== undefined ? rewritePath(this.route!, d.target, rewrite.uriPrefix) : d.target;
    const authority = rewrite?.authority ?? this.authority;
    const xff = d.header('x-forwarded-for');
    const extra = [`x-forwarded-for: ${xff ? `${xff}, ${d.remoteAddress}` : d.remoteAddress}\r\n`, `x-request-id: ${this.requestId}\r\n`];
    if (this.ownProto || !d.header('x-forwarded-proto')) extra.push(`x-forwarded-proto: ${d.scheme}\r\n`);
    if (host !== this.cluster?.config.host) extra.push(`x-mast-mirror: true\r\n`);
    const auth = host !== this.cluster?.config.host ? `${authority}-shadow` : authority;
    // A line in `extra` replaces the client's header of that name; DROP_XFCC removes it.
    const xfcc = forwardedClientCert(d, d.listener.configFor(d.port));
    if (xfcc.line) extra.push(xfcc.line);
    const ops = [this.route!.requestHeaders, this.destination?.requestHeaders, xfcc.drop && !xfcc.line ? DROP_XFCC : undefined];
    return upstreamRequestHead(d.head, { path, authority: auth, extra, ops });
  }

  /**
   * The common case needs no rebuilt head: no rewrite, no header operations, no hop-by-hop
   * headers to strip, no forwarding headers to merge. Then the received bytes go upstream
   * with our few lines appended.
   */
  private fastRequestHead(host: string): string | undefined {
    const d = this.down;
    const action = this.route!.action;
    // A normalized path (d.target no longer the received one) needs the head rebuilt.
    if (d.absoluteForm || d.target !== d.head.target || d.head.http10 || host !== this.cluster?.config.host || this.route!.requestHeaders || this.destination?.requestHeaders) return undefined;
    if (action.kind === 'forward' && action.rewrite) return undefined;
    const seen = d.head.seen;
    if (seen & (SEEN_HOP_BY_HOP | SEEN_X_FORWARDED_FOR)) return undefined;
    // At the edge the client's own x-request-id or x-forwarded-proto must be replaced: the head is rebuilt.
    if ((this.edge && seen & SEEN_X_REQUEST_ID) || (this.ownProto && seen & SEEN_X_FORWARDED_PROTO)) return undefined;
    const xfcc = forwardedClientCert(d, d.listener.configFor(d.port));
    if (xfcc.drop) return undefined;
    let extra = d.forwardedForLine() + xfcc.line;
    if (!(seen & SEEN_X_REQUEST_ID)) extra += `x-request-id: ${this.requestId}\r\n`;
    if (!(seen & SEEN_X_FORWARDED_PROTO)) extra += d.scheme === 'https' ? PROTO_HTTPS : PROTO_HTTP;
    // The received head without its blank line, our lines, the blank line: one string, one write
    // (a short string is written from the stack, no Buffer made for it).
    return `${latin1(d.headBuffer, 0, d.headLength - 2)}${extra}\r\n`;
  }

  private hashKey(): string | undefined {
    const lb = this.cluster!.config.lb;
    if (lb.kind !== 'hash') return undefined;
    if (lb.header) return this.down.header(lb.header);
    if (lb.cookie) {
      const value = cookieValue(this.down.header('cookie'), lb.cookie);
      if (value !== undefined || lb.cookieTtlMs === undefined) return value;
      return (this.generatedCookie = generatedCookie(lb.cookie, lb.cookieTtlMs, lb.cookiePath, this.down)).value;
    }
    if (lb.sourceIp) return this.down.clientAddress();
    if (lb.queryParameter) return queryParam(this.down.target, lb.queryParameter);
    return undefined;
  }

  /** Request body bytes from the client, in order. */
  requestBody(chunk: Buffer, last: boolean): void {
    this.bytesIn += chunk.length;
    if (last) this.bodyDone = true;
    if (this.conn && !this.done) {
      this.bodySent = true;
      // Kept for a retry until the body outgrows the buffer.
      if (!this.bodyStreamed && this.buffered + chunk.length > MAX_BUFFERED_BODY) this.dropRetryBody();
      else if (!this.bodyStreamed) {
        (this.body ??= []).push(chunk);
        this.buffered += chunk.length;
      }
      if (!this.conn.socket.write(chunk)) {
        this.down.socket.pause();
        this.conn.socket.once('drain', () => this.down.socket.resume());
      }
    } else {
      (this.body ??= []).push(chunk);
      this.buffered += chunk.length;
      // Waiting for an upstream connection (or a fault delay): stop reading rather than buffer without bound.
      if (this.buffered > MAX_BUFFERED_BODY) this.down.socket.pause();
    }
  }

  // ---- upstream events (ConnHandler) ----

  onData(chunk: Buffer): void {
    if (this.down.tunnel) return void this.down.write(chunk);
    if (this.respFraming) return this.relayBody(chunk, 0);
    const buf = (this.respBuf = this.respBuf ? Buffer.concat([this.respBuf, chunk]) : chunk);
    const end = headEnd(buf);
    // A head that never ends would grow without bound: as large as a request head may be, then 502.
    if (end < 0) return buf.length > this.down.proxy.limits.maxHeadBytes ? this.upstreamFailed('UC', 502) : undefined;
    let head: ResponseHead;
    try {
      head = parseResponseHead(buf, 0, end);
    } catch {
      return this.upstreamFailed('UC', 502);
    }
    // 101 to a request that asked for no upgrade: tunnelling would hand the client's next requests to the upstream unparsed.
    if (head.status === 101 && !this.down.head.upgrade) return this.upstreamFailed('UC', 502);
    this.respBuf = null;
    const rest = end < buf.length ? buf.subarray(end) : null;
    if (head.status >= 100 && head.status < 200 && head.status !== 101) {
      // Relayed as received: one that says the connection ends (HTTP/1.0, Connection: close) would tell the
      // client so while the final response still follows (llhttp then refuses it): an upstream error instead.
      if (!head.keepAlive) return this.upstreamFailed('UC', 502);
      this.down.write(buf.subarray(0, end));
      if (rest) this.onData(rest);
      return;
    }
    if (this.tryTimeout) DEADLINES.cancel(this.tryTimeout);
    this.cluster!.recordResult(this.endpoint!, head.status);
    if (this.mayRetry(head.status, undefined)) {
      this.dropConn(false);
      return this.retry();
    }
    this.commit(head, buf, end);
  }

  /** `buf[0..headEnd)` is the response head as received; what follows is the start of the body. */
  private commit(head: ResponseHead, buf: Buffer, headEnd: number): void {
    this.committed = true;
    this.respHead = head;
    this.status = head.status;
    const framing = (this.respFraming = BodyFraming.forResponse(head, this.down.method));
    // Draining: the response says close, and the client takes its next request elsewhere.
    const keepAlive = this.down.head.keepAlive && !framing.untilClose && head.status !== 101 && !this.down.proxy.draining;
    let extra = NO_LINES;
    if (this.route?.cors || this.generatedCookie) {
      const lines = this.route?.cors ? corsResponseHeaders(this.route.cors, this.down) : [];
      if (this.generatedCookie) lines.push(`set-cookie: ${this.generatedCookie.header}\r\n`);
      extra = lines;
    }
    const ops = this.route!.responseHeaders || this.destination?.responseHeaders;
    if (head.status === 101) {
      this.down.write(downstreamResponseHead(head, keepAlive, [this.route!.responseHeaders, this.destination?.responseHeaders], extra));
      this.down.tunnel = true;
      if (headEnd < buf.length) this.down.write(buf.subarray(headEnd));
      this.conn!.socket.on('end', () => this.down.socket.end());
      this.down.socket.on('end', () => this.conn?.socket.end());
      return;
    }
    let bodyEnd = headEnd;
    try {
      if (!framing.done) bodyEnd = framing.consume(buf, headEnd, buf.length);
    } catch {
      // Nothing of this response has reached the client yet: it gets a 502 (or a retry), not a closed connection.
      this.committed = false;
      this.respFraming = undefined;
      return this.upstreamFailed('UC', 502);
    }
    this.bytesOut += bodyEnd - headEnd;
    if (framing.done && bodyEnd < buf.length) this.overrun = true;
    // Head and the body bytes already here leave in one write: on loopback each write is a full trip through TCP.
    if (!ops && !extra.length && keepAlive === head.keepAlive && framing.asReceived) {
      // Nothing to change and the framing agrees with the client's connection: the bytes go as received.
      if (!this.down.write(bodyEnd === buf.length ? buf : buf.subarray(0, bodyEnd))) this.conn?.socket.pause();
    } else {
      const socket = this.down.socket;
      socket.cork();
      this.down.write(downstreamResponseHead(head, keepAlive, [this.route!.responseHeaders, this.destination?.responseHeaders], extra));
      if (bodyEnd > headEnd) this.down.write(framing.forwarded(buf, headEnd, bodyEnd));
      socket.uncork();
    }
    if (framing.done) this.complete();
  }

  private relayBody(buf: Buffer, start: number): void {
    let end: number;
    try {
      end = this.respFraming!.consume(buf, start, buf.length);
    } catch {
      return this.upstreamFailed('UC', 502);
    }
    this.bytesOut += end - start;
    if (end < buf.length) this.overrun = true;
    if (!this.down.write(this.respFraming!.forwarded(buf, start, end))) this.conn?.socket.pause();
    if (this.respFraming!.done) this.complete();
  }

  resumeUpstream(): void {
    this.conn?.socket.resume();
  }

  tunnelToUpstream(chunk: Buffer): void {
    this.conn?.socket.write(chunk);
  }

  onEnd(): void {
    // The body ran until the upstream closed: so must the client's connection (it was told so).
    if (this.respFraming?.untilClose) this.complete(false);
  }

  onError(err: Error, connected: boolean): void {
    if (this.done) return;
    if (this.down.tunnel) return this.down.close();
    if (this.respFraming?.untilClose) return this.complete(false);
    const code = (err as NodeJS.ErrnoException).code;
    this.upstreamFailed(connected ? 'UC' : 'UF', 503, code === 'ECONNREFUSED' || !connected ? 'connect-failure' : 'reset');
  }

  private upstreamFailed(flag: Flag, status: number, reason: 'connect-failure' | 'reset' = 'reset'): void {
    if (this.done) return;
    this.dropConn(false);
    if (this.committed) {
      // Mid-response: nothing sensible can follow on this client connection.
      this.flags |= flagBit(flag);
      this.finish(false);
      this.down.close();
      return;
    }
    // A connect failure or reset counts against the endpoint as a 503 would (outlier detection).
    if (this.endpoint) this.cluster!.recordResult(this.endpoint, 503);
    if (this.mayRetry(undefined, reason)) return this.retry();
    if (this.attempts > 1) this.flags |= flagBit('URX');
    this.reply(status, flag, `upstream connect error or disconnect/reset before headers. reset reason: ${reason === 'connect-failure' ? 'connection failure' : 'connection termination'}\n`);
  }

  /** The one place that says whether this outcome is retried: the route's policy, attempts left, and a body that can be sent again. */
  private mayRetry(status: number | undefined, failure: 'connect-failure' | 'reset' | undefined): boolean {
    const action = this.route!.action;
    return action.kind === 'forward' && !this.bodySentPartially() && this.attempts <= (action.retries?.attempts ?? 0) && shouldRetry(action.retries, status, failure);
  }

  /**
   * The next attempt after Envoy's back-off: uniformly random up to (2^n - 1) × base for the n-th
   * retry, at most 10 × base (base 25 ms unless the route sets `retries.backoff`).
   */
  private retry(): void {
    this.flags &= ~flagBit('URX');
    const action = this.route!.action;
    const base = (action.kind === 'forward' && action.retries?.backoffBaseMs) || 25;
    const ms = Math.random() * Math.min(base * (2 ** this.attempts - 1), 10 * base);
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      if (!this.done) this.attempt();
    }, ms);
  }

  /** A body we could not resend whole was (partly) written: no retry. */
  private bodySentPartially(): boolean {
    return this.bodySent && (this.bodyStreamed || !this.bodyDone);
  }

  private dropRetryBody(): void {
    this.bodyStreamed = true;
    this.body = null;
    this.buffered = 0;
  }

  private onTryTimeout(): void {
    if (this.committed || this.done) return;
    this.dropConn(false);
    if (this.endpoint) this.cluster!.recordResult(this.endpoint, 504);
    if (this.mayRetry(504, 'reset')) return this.retry();
    this.reply(504, 'UT', 'upstream request timeout\n');
  }

  private onTimeout(): void {
    if (this.done) return;
    if (this.committed) {
      this.flags |= flagBit('UT');
      this.dropConn(false);
      this.finish(false);
      return this.down.close();
    }
    this.dropConn(false);
    this.reply(504, 'UT', 'upstream request timeout\n');
  }

  private dropConn(reusable: boolean): void {
    const conn = this.conn;
    if (!conn) return;
    this.conn = undefined;
    // A partial response head from this connection must not prefix the next attempt's.
    this.respBuf = null;
    this.endpoint!.active--;
    conn.handler = undefined;
    this.cluster!.release(this.endpoint!, conn, reusable);
  }

  private complete(reusable = true): void {
    const res = this.respHead!;
    this.dropConn(reusable && res.keepAlive && this.bodyDone && !this.respFraming?.untilClose && !this.overrun);
    this.finish(this.down.head.keepAlive && !(this.respFraming?.untilClose ?? false));
  }

  private reply(status: number, flag: Flag | '', body: string): void {
    if (flag) this.flags |= flagBit(flag);
    this.replyWith(status, body, []);
  }

  private replyWith(status: number, body: string, headers: Array<[string, string]>): void {
    if (this.done) return;
    this.status = status;
    const keepAlive = this.down.head.keepAlive && !this.down.bodyPending && !this.down.proxy.draining;
    this.bytesOut += Buffer.byteLength(body);
    this.down.write(localResponse(status, body, keepAlive, headers));
    this.finish(keepAlive);
  }

  private finish(keepAlive: boolean): void {
    if (this.done) return;
    this.done = true;
    this.stopTimers();
    const now = performance.now();
    const ms = now - this.started;
    this.down.proxy.recordRequest(this.down, { cluster: this.cluster?.config, status: this.status, flags: flagString(this.flags), ms, bytesIn: this.bytesIn, bytesOut: this.bytesOut, route: this.route?.name, upstream: this.endpoint?.key, requestId: this.requestId, authority: this.authority, details: this.denied && `rbac_access_denied_matched_policy[${this.denied}]` });
    this.down.finished(keepAlive, now);
  }

  private stopTimers(): void {
    clearTimeout(this.delayTimer);
    clearTimeout(this.backoffTimer);
    if (this.timeout) DEADLINES.cancel(this.timeout);
    if (this.tryTimeout) DEADLINES.cancel(this.tryTimeout);
  }

  downstreamGone(): void {
    if (this.done) return;
    this.flags |= flagBit('DC');
    this.status = this.status || 499;
    this.dropConn(false);
    this.done = true;
    this.stopTimers();
  }
}
