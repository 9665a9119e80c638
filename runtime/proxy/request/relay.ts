/**
 * The response, from the upstream connection of the current try to the client: its head parsed
 * (1xx relayed as received, a 101 turning both connections into a tunnel), the route's response
 * headers applied, the body relayed chunk by chunk as it comes, with backpressure: a client that
 * reads slowly pauses the upstream. Until the head is committed to the client, a bad response
 * is the exchange's to retry or answer; after, the client connection is closed.
 */
import { failureReason } from '../failure-reason';
import type { RouteConfig, WeightedCluster } from '../../contract/proxy-config';
import { headEnd, parseResponseHead, type ResponseHead } from '../http/head';
import { BodyFraming } from '../http/body';
import { downstreamResponseHead } from '../http/write';
import type { ConnHandler, UpstreamConn } from '../upstream/conn';
import type { Client } from './context';
import { corsResponseHeaders } from './cors';
import type { GeneratedCookie } from './hash-key';
import type { Flag } from './record';
import type { Failure } from './retry';

/** No extra response lines (the common case: no array made per response). */
const NO_LINES: readonly string[] = [];

/** What the relay reads of, and reports to, its exchange. */
export interface RelayOwner {
  readonly done: boolean;
  readonly route?: RouteConfig;
  readonly destination?: WeightedCluster;
  readonly generatedCookie?: GeneratedCookie;
  /** A final response head arrived: true when the exchange tries again instead (this response is dropped). */
  finalHead(status: number): boolean;
  upstreamFailed(flag: Flag, status: number, reason?: Failure, transportFailure?: string): void;
  /** The response is over: the upstream connection may go back to the pool if `reusable`. */
  complete(reusable: boolean): void;
}

export interface RelayContext {
  readonly draining: boolean;
  readonly limits: { readonly maxHeadBytes: number };
}

export class Relay implements ConnHandler {
  /** The head went to the client: from here a failure closes the client's connection. */
  committed = false;
  head?: ResponseHead;
  framing?: BodyFraming;
  /** The upstream sent bytes past its response's end: its connection is not reused (they would answer the next request). */
  overrun = false;
  bytesOut = 0;
  /** The current try's connection (attempt.ts sets it). */
  conn?: UpstreamConn;
  /** A response head not yet complete. */
  private buf: Buffer | null = null;

  constructor(
    private readonly x: RelayOwner,
    private readonly client: Client,
    private readonly ctx: RelayContext,
  ) {}

  /** The try's connection was dropped: a partial head from it must not prefix the next try's. */
  forget(): void {
    this.conn = undefined;
    this.buf = null;
  }

  onData(chunk: Buffer): void {
    const client = this.client;
    if (client.tunnel) return void ((this.bytesOut += chunk.length), client.write(chunk));
    if (this.framing) return this.relayBody(chunk, 0);
    const buf = (this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk);
    const end = headEnd(buf);
    // A head that never ends would grow without bound: as large as a request head may be, then 502.
    if (end < 0) return buf.length > this.ctx.limits.maxHeadBytes ? this.x.upstreamFailed('UC', 502) : undefined;
    let head: ResponseHead;
    try {
      head = parseResponseHead(buf, 0, end);
    } catch {
      return this.x.upstreamFailed('UC', 502);
    }
    // 101 to a request that asked for no upgrade: tunnelling would hand the client's next requests to the upstream unparsed.
    if (head.status === 101 && !client.head.upgrade) return this.x.upstreamFailed('UC', 502);
    this.buf = null;
    const rest = end < buf.length ? buf.subarray(end) : null;
    if (head.status >= 100 && head.status < 200 && head.status !== 101) {
      // Relayed as received: one that says the connection ends (HTTP/1.0, Connection: close) would tell the
      // client so while the final response still follows (llhttp then refuses it): an upstream error instead.
      if (!head.keepAlive) return this.x.upstreamFailed('UC', 502);
      client.write(buf.subarray(0, end));
      if (rest) this.onData(rest);
      return;
    }
    if (this.x.finalHead(head.status)) return;
    this.commit(head, buf, end);
  }

  /** `buf[0..headEnd)` is the response head as received; what follows is the start of the body. */
  private commit(head: ResponseHead, buf: Buffer, headEnd: number): void {
    const { x, client } = this;
    this.committed = true;
    this.head = head;
    const framing = (this.framing = BodyFraming.forResponse(head, client.method));
    // Draining: the response says close, and the client takes its next request elsewhere.
    const keepAlive = client.head.keepAlive && !framing.untilClose && head.status !== 101 && !this.ctx.draining;
    const route = x.route!;
    let extra = NO_LINES;
    if (route.cors || x.generatedCookie) {
      const lines = route.cors ? corsResponseHeaders(route.cors, client) : [];
      if (x.generatedCookie) lines.push(`set-cookie: ${x.generatedCookie.header}\r\n`);
      extra = lines;
    }
    const ops = route.responseHeaders || x.destination?.responseHeaders;
    if (head.status === 101) {
      client.write(downstreamResponseHead(head, keepAlive, [route.responseHeaders, x.destination?.responseHeaders], extra));
      client.openTunnel(() => this.conn?.socket.end());
      if (headEnd < buf.length) {
        client.write(buf.subarray(headEnd));
        this.bytesOut += buf.length - headEnd;
      }
      this.conn!.socket.on('end', () => client.endTunnel());
      return;
    }
    let bodyEnd = headEnd;
    try {
      if (!framing.done) bodyEnd = framing.consume(buf, headEnd, buf.length);
    } catch {
      // Nothing of this response has reached the client yet: it gets a 502 (or a retry), not a closed connection.
      this.committed = false;
      this.framing = undefined;
      return x.upstreamFailed('UC', 502);
    }
    this.bytesOut += bodyEnd - headEnd;
    if (framing.done && bodyEnd < buf.length) this.overrun = true;
    // Head and the body bytes already here leave in one write: on loopback each write is a full trip through TCP.
    if (!ops && !extra.length && keepAlive === head.keepAlive && framing.asReceived) {
      // Nothing to change and the framing agrees with the client's connection: the bytes go as received.
      if (!client.write(bodyEnd === buf.length ? buf : buf.subarray(0, bodyEnd))) this.conn?.socket.pause();
    } else {
      client.cork();
      client.write(downstreamResponseHead(head, keepAlive, [route.responseHeaders, x.destination?.responseHeaders], extra));
      if (bodyEnd > headEnd) client.write(framing.forwarded(buf, headEnd, bodyEnd));
      client.uncork();
    }
    if (framing.done) x.complete(true);
  }

  private relayBody(buf: Buffer, start: number): void {
    const framing = this.framing!;
    let end: number;
    try {
      end = framing.consume(buf, start, buf.length);
    } catch {
      return this.x.upstreamFailed('UC', 502);
    }
    this.bytesOut += end - start;
    if (end < buf.length) this.overrun = true;
    if (!this.client.write(framing.forwarded(buf, start, end))) this.conn?.socket.pause();
    if (framing.done) this.x.complete(true);
  }

  onEnd(): void {
    // The body ran until the upstream closed: so must the client's connection (it was told so).
    if (this.framing?.untilClose) this.x.complete(false);
  }

  onError(err: Error, connected: boolean): void {
    if (this.x.done) return;
    if (this.client.tunnel) return this.client.close();
    if (this.framing?.untilClose) return this.x.complete(false);
    const code = (err as NodeJS.ErrnoException).code;
    // A connection that never came up (refused, its TLS handshake failed): why, for %UPSTREAM_TRANSPORT_FAILURE_REASON%.
    const failure = connected ? undefined : failureReason(err);
    this.x.upstreamFailed(connected ? 'UC' : 'UF', 503, code === 'ECONNREFUSED' || !connected ? 'connect-failure' : 'reset', failure);
  }
}
