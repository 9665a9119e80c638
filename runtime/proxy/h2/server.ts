/**
 * The proxy's HTTP/2 server side. The codec is `node:http2` (nghttp2): a complete, fuzzed,
 * maintained implementation of framing, HPACK, flow control and the flood defences (rapid reset,
 * CONTINUATION, SETTINGS/PING floods) in C. It is not the faster choice, measured: a bare relay
 * on the JavaScript codec of ./codec (bench row "h2 js-codec pipe") took 0.20 × the CPU per
 * request of a bare node:http2 relay and 1.7 × its requests/s (h2load -c5 -m10, same run); the
 * move onto it is planned in docs/h2-codec.md. One `Http2Server` per proxy never listens: connections the proxy
 * accepted are handed to it (`emit('connection')`) once they are known to be HTTP/2 — the
 * cleartext preface, or ALPN `h2` on a TLS socket — and each stream becomes an H2Exchange.
 */
import type * as http2 from 'node:http2';
import { http2Module, INTERNAL_ERROR } from './lazy-http2';
import type * as net from 'node:net';
import { containedError } from '../contain';
import { http2Limits, serverOptions } from './limits';
import { H2Exchange, type H2ExchangeContext } from './h2-exchange';
import type { H2Connection } from './stream-request';
import { destroyDrained, goAway, goAwayWhenIdle } from './goaway';
import type { ListenerRuntime } from '../listeners';

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * The first bytes of a connection start the HTTP/2 preface (Envoy's codec AUTO). A shorter first
 * read that matches so far counts: `PRI * HTTP/2.0` is no HTTP/1.1 request either.
 */
export function startsWithPreface(first: Buffer): boolean {
  if (first[0] !== 0x50 /* 'P' */ || first.length < 3) return false;
  const n = Math.min(first.length, PREFACE.length);
  return first.compare(PREFACE, 0, n, 0, n) === 0;
}

/**
 * Envoy's answer to rapid reset (CVE-2023-44487), on top of nghttp2's reset rate limit: once a
 * connection has closed `budget` streams (limits.ts `prematureResetStreams`, 500 as Envoy's), if
 * at least half of them the client reset prematurely (before a response, soon after opening), the
 * connection is closed.
 */
function prematureResetGuard(session: http2.ServerHttp2Session, budget: number): (premature: boolean) => void {
  let closed = 0;
  let premature = 0;
  return (wasPremature) => {
    closed++;
    if (wasPremature) premature++;
    if (closed >= budget && premature * 2 >= closed && !session.destroyed) session.destroy();
  };
}

export class H2Front {
  private readonly server: http2.Http2Server;
  /** The connection being handed over (read by the 'session' handler, synchronously within the hand-over). */
  private handing?: H2Connection;
  /** Open sessions, each with the connection it came on (a listener's drain picks its own). */
  readonly sessions = new Map<http2.ServerHttp2Session, H2Connection>();

  constructor(private readonly ctx: H2ExchangeContext) {
    this.server = http2Module().createServer(serverOptions(ctx.limits));
    const { initialConnectionWindowSize: window, prematureResetStreams } = http2Limits(ctx.limits);
    this.server.on('session', (session: http2.ServerHttp2Session) => {
      const handed = this.handing;
      // Only connections handed over by serve() (the server never listens): anything else has no listener to serve it.
      if (!handed) return void session.destroy();
      const conn: H2Connection = { ...handed, streamEnded: prematureResetGuard(session, prematureResetStreams) };
      this.sessions.set(session, conn);
      session.on('close', () => this.sessions.delete(session));
      // A peer's protocol error ends its session (GOAWAY), never the proxy.
      session.on('error', () => undefined);
      goAwayWhenIdle(session, ctx.limits.idleTimeoutMs);
      session.once('localSettings', () => {
        if (!session.destroyed) session.setLocalWindowSize(window);
      });
      // A connection that comes while its listener (or the proxy) drains is told at once, as an HTTP/1.1 response says `Connection: close`.
      if (ctx.draining || conn.listener.draining) goAway(session);
      // A throw nobody foresaw resets that stream, never the process (contain.ts).
      session.on('stream', (stream, headers, flags) => {
        try {
          new H2Exchange(this.ctx, conn, stream, headers, flags).start();
        } catch (error) {
          containedError('downstream', () => stream.close(INTERNAL_ERROR), error);
        }
      });
    });
    this.server.on('sessionError', () => undefined);
  }

  /**
   * Serve HTTP/2 on `socket`. `first`: bytes already read from it (the preface), handed back so
   * the session reads them first. A TLS socket built by hand (peer-tls.ts) still says it is
   * negotiating: the session would wait for a 'secureConnect' that never comes.
   */
  serve(socket: net.Socket, conn: H2Connection, first?: Buffer): void {
    if (first) {
      socket.pause();
      socket.unshift(first);
    }
    const s = socket as net.Socket & { secureConnecting?: boolean };
    if (s.secureConnecting) s.secureConnecting = false;
    this.handing = conn;
    try {
      this.server.emit('connection', socket);
    } finally {
      this.handing = undefined;
    }
  }

  /**
   * The sessions of listener `l` (of every listener when absent) are drained: GOAWAY now, the final
   * one within `finalAfterMs` (goaway.ts); streams in flight finish, new ones go to a new connection.
   */
  goAway(l?: ListenerRuntime, finalAfterMs?: number): void {
    for (const [s, conn] of this.sessions) if (!l || conn.listener === l) goAway(s, finalAfterMs);
  }

  /** The drain's deadline: the sessions of `l` (of every listener when absent) still open are closed. */
  destroy(l?: ListenerRuntime): void {
    for (const [s, conn] of this.sessions) if (!l || conn.listener === l) destroyDrained(s);
  }
}

/** One front per proxy, made when its first HTTP/2 connection comes. */
const fronts = new WeakMap<H2ExchangeContext, H2Front>();

export function http2Front(ctx: H2ExchangeContext): H2Front {
  let front = fronts.get(ctx);
  if (!front) fronts.set(ctx, (front = new H2Front(ctx)));
  return front;
}

/** The proxy's HTTP/2 front if a connection ever spoke HTTP/2 (a drain has no session to tell otherwise). */
export function existingHttp2Front(ctx: H2ExchangeContext): H2Front | undefined {
  return fronts.get(ctx);
}
