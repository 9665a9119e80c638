/**
 * One client connection: a PROXY protocol header if one is expected, then HTTP/1.1 requests one
 * after another (keep-alive, pipelined): each head parsed and its target normalized here, once,
 * then handed with its body, chunk by chunk, to an `Exchange` (request/), which sees this
 * connection only as a `Client`. Idle and half-read connections expire (the proxy's sweep).
 */
import { performance } from 'node:perf_hooks';
import { originalClient } from './http/forwarded-for';
import type * as net from 'node:net';
import type { X509Certificate } from 'node:crypto';
import { headEnd, HttpError, parseRequestHead, type RequestHead } from './http/head';
import { CONNECT_NO_ROUTE } from './http/bytes';
import { flagBit, flagString, requestFinished, type RequestRecord } from './request/record';
import { BodyFraming } from './http/body';
import { ChunkedError } from './http/chunked';
import { localResponse } from './http/write';
import { nonOriginTarget } from './http/request-target';
import { normalizePath } from './http/normalize-path';
import { originalDestination } from './original-dst';
import { answerConnect } from './request/connect';
import { Exchange } from './request/exchange';
import type { Client, ExchangeContext } from './request/context';
import type { ListenerRuntime } from './listeners';
import { containPeerInput } from './contain';
import type { Metrics } from './metrics';
import type { PathNormalization } from '../contract/proxy-config';
import { http2Front, startsWithPreface } from './h2/server';

/**
 * What a connection holds between requests in place of the last one's head (`finished` lets that
 * go): a request line and no header, so that anything reading the head then reads nothing.
 */
const BETWEEN_REQUESTS = Buffer.from('GET / HTTP/1.1\r\n\r\n', 'latin1');
const NO_HEAD = parseRequestHead(BETWEEN_REQUESTS, 0, BETWEEN_REQUESTS.length);

/** What a client connection needs of the proxy. */
export interface ConnContext extends ExchangeContext {
  /** The current config's `pathNormalization` (BASE when it names none). */
  readonly pathNormalization: PathNormalization;
  readonly metrics: Metrics;
  /** Keeps the connection for the idle sweep and the drain, until it closes. */
  track(conn: DownstreamConn): void;
}

export class DownstreamConn implements Client {
  private pending: Buffer | null = null;
  private exchange: Exchange | null = null;
  private bodyFraming: BodyFraming | null = null;
  requestTrailers?: Array<[string, string]>;
  private closed = false;
  /** Set while this connection is a raw tunnel (after a 101 Switching Protocols). */
  tunnel = false;
  // RequestView of the request being routed.
  method = '';
  target = '';
  host = '';
  /** The authority the host and port were last taken from, and that port. */
  private authority: string | undefined = undefined;
  private authorityPort = 0;
  private authorityConfigs: unknown = undefined;
  scheme: 'http' | 'https' = 'http';
  /** Over a gateway's terminated TLS server (picked by SNI): its name, whose routes alone serve this connection. */
  server?: string;
  head!: RequestHead;
  /** The request head as received: headBuffer[0, headLength), request line to the blank line. */
  headBuffer!: Buffer;
  headLength = 0;
  /** The last request's target: the next one is likely the same (parseRequestHead then reuses its string). */
  private lastTarget: string | undefined = undefined;
  /** True when the target was sent in absolute form (proxy style). */
  absoluteForm = false;
  port: number;
  /** The client: the peer, or the source a PROXY protocol header names (access log, x-forwarded-for). */
  remoteAddress: string;
  /** The direct peer, whatever a PROXY header says (AuthorizationPolicy `ipBlocks`, as Envoy's direct_remote_ip). */
  readonly peerAddress: string;
  /** The destination port before iptables redirected the connection here, when known. */
  originalPort?: number;
  /** And the address (a service outside the mesh, for Istio's ALLOW_ANY passthrough). */
  originalAddress?: string;
  /** The original destination came from iptables (SO_ORIGINAL_DST), not from a request's authority. */
  private redirected = false;
  /**
   * When an idle or half-read connection gives up (performance.now() ms: a clock that never
   * jumps). Checked by the proxy's sweep every few hundred ms: cheaper than re-arming a socket
   * timer on every request.
   */
  deadline = 0;

  constructor(
    readonly socket: net.Socket,
    readonly listener: ListenerRuntime,
    private readonly proxy: ConnContext,
    /** Over TLS: the TCP socket under the TLS one; with a verified client certificate, it and its SPIFFE identity. */
    readonly peer?: {
      readonly raw: net.Socket;
      readonly certificate?: X509Certificate;
      readonly principal?: string;
      readonly namespace?: string;
    },
    /** The client a PROXY protocol header named (read at accept, before any TLS): the remote address. */
    proxySource?: string,
  ) {
    this.port = listener.defaultPort;
    const raw = peer?.raw ?? socket;
    this.remoteAddress = this.peerAddress = raw.remoteAddress ?? '';
    socket.setNoDelay(true);
    this.deadline = performance.now() + proxy.limits.headerTimeoutMs;
    if (proxySource) this.remoteAddress = proxySource;
    // Captured traffic: the port the app dialled picks the outbound routes; inbound, the app's port.
    if (listener.captured) {
      const dst = originalDestination(raw);
      if (dst && dst.port !== listener.port) {
        this.originalPort = dst.port;
        this.originalAddress = dst.address;
        this.redirected = true;
      }
    }
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('error', () => this.abort());
    socket.on('close', () => this.abort());
    socket.on('drain', () => this.exchange?.resumeUpstream());
    proxy.track(this);
  }

  header(name: string): string | undefined {
    return this.head.header(name);
  }

  /** `x-forwarded-for: <peer>` as a line: made when the peer is first asked for, not per request. */
  forwardedForLine(): string {
    if (this.forwardedFor?.address !== this.remoteAddress)
      this.forwardedFor = { address: this.remoteAddress, line: `x-forwarded-for: ${this.remoteAddress}\r\n` };
    return this.forwardedFor.line;
  }
  private forwardedFor: { readonly address: string; readonly line: string } | undefined = undefined;

  /** The original client: the peer (or the PROXY protocol source), or past N trusted hops, the Nth x-forwarded-for entry from the right. */
  clientAddress(): string {
    const hops = this.proxy.limits.trustedHops ?? 0;
    return originalClient(hops > 0 ? this.header('x-forwarded-for') : undefined, hops, this.remoteAddress);
  }

  /** Bytes from the client: as 'data' events, or from the shared read buffer (see read-buffer.ts). */
  received(chunk: Buffer): void {
    // Whatever the client sent, a throw ends this connection, not the proxy (contain.ts).
    containPeerInput(
      'downstream',
      () => this.close(),
      () => this.receive(chunk),
    );
  }

  private receive(chunk: Buffer): void {
    // A connection's first bytes may be HTTP/2's preface (prior knowledge, Envoy's codec AUTO): one byte compared for HTTP/1.1.
    if (chunk[0] === 0x50 && this.head === undefined && !this.pending && startsWithPreface(chunk)) return this.toHttp2(chunk);
    if (this.tunnel) return this.exchange?.tunnelToUpstream(chunk);
    if (this.bodyFraming) return this.onBody(chunk, 0);
    this.pending = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    if (!this.exchange) this.parseNext();
    else if (this.pending.length > 1024 * 1024) this.socket.pause(); // pipelined requests pile up: stop reading
  }

  private parseNext(): void {
    const buf = this.pending;
    if (!buf || this.closed) return;
    const end = headEnd(buf);
    if (end < 0) {
      if (buf.length > this.proxy.limits.maxHeadBytes) this.fail(new HttpError(431, 'head_too_large', 'request head too large'));
      return;
    }
    let head: RequestHead;
    try {
      head = parseRequestHead(buf, 0, end, this.proxy.limits, this.lastTarget);
    } catch (err) {
      return this.fail(err instanceof HttpError ? err : new HttpError(400, 'bad_request', String(err)));
    }
    this.deadline = 0;
    this.head = head;
    this.headBuffer = buf;
    this.headLength = end;
    this.absoluteForm = false;
    this.method = head.method;
    if (head.method === 'CONNECT') return this.refuseConnect(head);
    let authority = head.header('host', this.authority) ?? '';
    let target = head.target;
    try {
      if (target.charCodeAt(0) !== 47 /* '/' */) {
        const t = nonOriginTarget(head.method, target);
        // Absolute form (an app using the sidecar as its HTTP proxy): the URL's authority replaces Host (RFC 9112 §3.2.2).
        if (t.authority !== undefined) {
          authority = t.authority;
          this.absoluteForm = true;
          // Host is still required of an HTTP/1.1 request (RFC 9112 §3.2: 400 without one), even in absolute form.
          if (head.header('host') === undefined) {
            if (!head.http10) throw new HttpError(400, 'missing_host', 'missing Host header');
            head.headers.push('host', authority);
          }
        }
        target = t.path;
      }
      // Normalized once, before routing and authorization; the same path goes upstream (Istio's pathNormalization).
      if (target !== '*') target = normalizePath(target, this.proxy.pathNormalization);
    } catch (err) {
      return this.fail(err instanceof HttpError ? err : new HttpError(400, 'bad_target', String(err)));
    }
    this.target = target;
    if (!authority && !head.http10) return this.fail(new HttpError(400, 'missing_host', 'missing Host header'));
    // A client sends the same authority on every request of a connection, as a rule: its host (a
    // lowercase string whose hash the route lookup has computed already) and port are kept, until
    // the authority or the listener's config (the ports it serves) changes.
    if (authority !== this.authority || this.listener.configs !== this.authorityConfigs) {
      const colon = authority.lastIndexOf(':');
      const hasPort = colon > 0 && authority.indexOf(']') < colon;
      this.authority = authority;
      this.authorityConfigs = this.listener.configs;
      this.host = (hasPort ? authority.slice(0, colon) : authority).toLowerCase();
      // A request names its destination port in the authority; otherwise the listener's (or 80).
      this.authorityPort =
        (this.redirected ? this.originalPort : undefined) ??
        (hasPort && this.listener.configs.length > 1 ? Number(authority.slice(colon + 1)) : this.listener.defaultPort);
      // An app that sends its calls as proxy requests (mast local without --intercept) names where
      // they go in the authority: ALLOW_ANY passes a host the mesh does not know through to it.
      if (!this.redirected && this.listener.passthrough) {
        this.originalAddress = this.host.replace(/^\[(.*)\]$/, '$1');
        this.originalPort = hasPort ? Number(authority.slice(colon + 1)) : 80;
      }
    }
    this.port = this.authorityPort;
    this.pending = end < buf.length ? buf.subarray(end) : null;
    this.bodyFraming = BodyFraming.forRequest(head);
    this.requestTrailers = undefined;
    if (this.bodyFraming.done) this.bodyFraming = null;
    this.exchange = new Exchange(this, this.proxy, this.listener.entryFor(this.port, this.server), authority);
    this.exchange.start();
    if (this.bodyFraming && this.pending) {
      const rest = this.pending;
      this.pending = null;
      this.onBody(rest, 0);
    }
  }

  private onBody(buf: Buffer, start: number): void {
    const framing = this.bodyFraming!;
    let end: number;
    try {
      end = framing.consume(buf, start, buf.length);
    } catch (err) {
      if (err instanceof ChunkedError) return this.fail(new HttpError(400, 'bad_chunked', err.message));
      throw err;
    }
    // Validated bytes only, chunk extensions and trailers left out (see chunked.ts); the trailers kept for a codec that carries them.
    if (framing.done) this.requestTrailers = framing.trailers;
    this.exchange?.requestBody(framing.forwarded(buf, start, end), framing.done);
    if (framing.done) {
      this.bodyFraming = null;
      if (end < buf.length) this.pending = this.pending ? Buffer.concat([this.pending, buf.subarray(end)]) : buf.subarray(end);
    }
  }

  /** The connection speaks HTTP/2: handed, with its first bytes, to the proxy's HTTP/2 server; nothing here reads it again. */
  private toHttp2(first: Buffer): void {
    this.closed = true;
    this.socket.removeAllListeners('data');
    const { listener, scheme, socket, remoteAddress, remotePort, peerAddress, peer, originalPort, originalAddress } = this;
    const conn = { listener, scheme, socket, remoteAddress, remotePort, peerAddress, peer, originalPort, originalAddress };
    http2Front(this.proxy).serve(socket, conn, first);
  }

  /** The proxy is draining (SIGTERM), or this connection's listener (removed by a push): responses say `Connection: close`. */
  get draining(): boolean {
    return this.proxy.draining || this.listener.draining;
  }

  /** No request in progress and none half-read: safe to close when draining. */
  get idle(): boolean {
    return this.exchange === null && !this.pending;
  }

  /** Bytes of the current request's body are still to come. */
  get bodyPending(): boolean {
    return this.bodyFraming !== null;
  }

  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }

  write(data: string | Buffer): boolean {
    if (this.closed) return true;
    return typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    if (this.socket.isPaused()) this.socket.resume();
  }

  openTunnel(clientEnded: () => void): void {
    this.tunnel = true;
    this.socket.on('end', clientEnded);
  }

  endTunnel(): void {
    this.socket.end();
  }

  /** The exchange finished (at `now`, performance.now()): next request on this connection, or close it. */
  finished(keepAlive: boolean, now: number): void {
    this.exchange = null;
    // The finished request's head and the bytes it was read from go now, not when the next request
    // comes: a kept-alive connection may wait long (a sidecar's inbound ones come from the pools of
    // every client), and what it holds then outlives young-generation collections and dies in the
    // old generation, with the read buffers it keeps, freed only by a full collection.
    this.lastTarget = this.head.target;
    this.head = NO_HEAD;
    this.headBuffer = BETWEEN_REQUESTS;
    this.headLength = 0;
    if (!keepAlive || this.bodyFraming || this.draining) {
      this.closed = true;
      this.socket.end();
      return;
    }
    this.deadline = now + (this.pending ? this.proxy.limits.headerTimeoutMs : this.proxy.limits.idleTimeoutMs);
    if (this.socket.isPaused()) this.socket.resume();
    if (this.pending) this.parseNext();
  }

  /** Called by the sweep: past the deadline, 408 if a head was half read, else just close. */
  expire(now: number): void {
    if (this.exchange || this.deadline === 0 || now < this.deadline || this.closed) return;
    if (this.pending && this.pending.length > 0) this.fail(new HttpError(408, 'timeout', 'request head not received in time'));
    else this.close();
  }

  /**
   * A CONNECT: authorized first, then no route takes it (request/connect.ts): 404 NR unless a
   * policy, a token or an https redirect answers before. Logged as Envoy logs it (no path, its
   * authority-form target as the authority, a request id), then the connection is closed: what
   * follows the head would be a tunnel's bytes, never read as requests.
   */
  private refuseConnect(head: RequestHead): void {
    const started = performance.now();
    const authority = head.target;
    // What authorization reads: no path, the host of the authority-form target, the port the connection came to.
    this.target = '';
    const colon = authority.lastIndexOf(':');
    this.host = (colon > 0 && authority.indexOf(']') < colon ? authority.slice(0, colon) : authority).toLowerCase();
    this.port = this.redirected ? (this.originalPort ?? this.listener.defaultPort) : this.listener.defaultPort;
    const listener = this.listener.entryFor(this.port, this.server)?.config;
    const answer = answerConnect(listener, this, this.proxy.identity.mode === 'gateway');
    if (answer.flag === 'NR') this.fail(new HttpError(404, CONNECT_NO_ROUTE, answer.body.trim()));
    else this.closeWith(localResponse(answer.status, answer.body, false, answer.headers));
    if (!requestFinished.hasSubscribers) return;
    requestFinished.publish({
      owner: this.proxy,
      request: this,
      inbound: listener?.trafficDirection === 'INBOUND',
      status: answer.status,
      flags: flagString(answer.flag ? flagBit(answer.flag) : 0),
      ms: performance.now() - started,
      bytesIn: 0,
      bytesOut: Buffer.byteLength(answer.body),
      requestId: answer.requestId,
      authority,
      details: answer.details,
      dryRun: answer.dryRun,
      protocol: head.http10 ? 'HTTP/1.0' : 'HTTP/1.1',
    } satisfies RequestRecord);
  }

  private fail(err: HttpError): void {
    this.proxy.metrics.inc(`mast_downstream_rejected_total{reason="${err.code}"}`);
    this.closeWith(localResponse(err.status, `${err.message}\n`, false));
  }

  /** A last response, then the connection is closed (nothing after it is read). */
  private closeWith(response: string): void {
    this.write(response);
    this.closed = true;
    this.pending = null;
    this.socket.end();
    this.socket.destroySoon?.();
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  /** Closed between requests (a drain): FIN after whatever was written, so the client reconnects rather than sees a reset. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
  }

  private abort(): void {
    if (this.closed && !this.exchange) return;
    this.closed = true;
    this.exchange?.downstreamGone();
    this.exchange = null;
  }
}
