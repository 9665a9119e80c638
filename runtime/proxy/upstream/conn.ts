/** One upstream TCP connection, reused across requests (HTTP/1.1 keep-alive). */
import type * as net from 'node:net';

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
    this.connectTimer = setTimeout(() => socket.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), connectTimeoutMs);
    socket.once('connect', () => {
      this.connected = true;
      clearTimeout(this.connectTimer);
    });
    // Plain sockets deliver through `onread` (see readInto); TLS ones as 'data' events.
    socket.on('data', (chunk: Buffer) => this.data(chunk));
    socket.on('end', () => {
      this.handler?.onEnd();
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
    if (this.handler) this.handler.onData(chunk);
    // Bytes on an idle connection are a protocol error: never hand it out again.
    else this.socket.destroy();
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
