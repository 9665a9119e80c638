/** One upstream TCP connection, reused across requests (HTTP/1.1 keep-alive). */
// The module's `performance`, not the global: Node's global is an accessor that runs a getter on every
// read (a web "replaceable" attribute), about 150 instructions each time; the request path reads the clock per request.
import { performance } from 'node:perf_hooks';
import type * as net from 'node:net';
import { containPeerInput } from '../contain';

export interface ConnHandler {
  onData(chunk: Buffer): void;
  onEnd(): void;
  onError(err: Error, connected: boolean): void;
}

export class UpstreamConn {
  connected = false;
  destroyed = false;
  requests = 0;
  handler?: ConnHandler;
  onClose?: () => void;
  private connectTimer?: NodeJS.Timeout;

  constructor(
    readonly socket: net.Socket,
    connectTimeoutMs: number,
    private readonly idleTimeoutMs = 60_000,
  ) {
    socket.setNoDelay(true);
    this.connectTimer = setTimeout(
      () => socket.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })),
      connectTimeoutMs,
    );
    // A TLS connection is up once its handshake is done, as Envoy's transport socket raises Connected: a
    // handshake that fails (a certificate refused) is a connect failure (UF, retried as connect-failure).
    socket.once((socket as { encrypted?: boolean }).encrypted ? 'secureConnect' : 'connect', () => {
      this.connected = true;
      clearTimeout(this.connectTimer);
    });
    // The pool's sockets, TLS or plain, deliver through `onread` (see readInto); a socket made without it, as 'data' events.
    socket.on('data', (chunk: Buffer) => this.data(chunk));
    socket.on('end', () => {
      containPeerInput(
        'upstream',
        () => undefined,
        () => this.handler?.onEnd(),
      );
      socket.destroy();
    });
    socket.on('error', (err) => this.handler?.onError(err, this.connected));
    socket.on('close', () => {
      clearTimeout(this.connectTimer);
      this.destroyed = true;
      const h = this.handler;
      this.handler = undefined;
      h?.onError(Object.assign(new Error('upstream connection closed'), { code: 'ECONNRESET' }), this.connected);
      this.onClose?.();
    });
  }

  data(chunk: Buffer): void {
    const handler = this.handler;
    // Bytes on an idle connection are a protocol error: never hand it out again.
    if (!handler) return void this.socket.destroy();
    // Whatever the upstream sent, a throw ends this connection (its handler hears of it as a reset), not the proxy.
    containPeerInput(
      'upstream',
      () => this.socket.destroy(),
      () => handler.onData(chunk),
    );
  }

  /** When it went idle in the pool (performance.now(); 0 while in use); the cluster's sweep closes long-idle ones. */
  parkedAt = 0;

  park(): void {
    this.handler = undefined;
    this.parkedAt = performance.now();
  }

  take(handler: ConnHandler): void {
    this.parkedAt = 0;
    this.handler = handler;
    this.requests++;
  }

  idleTooLong(now: number): boolean {
    return this.parkedAt > 0 && now - this.parkedAt > this.idleTimeoutMs;
  }
}
