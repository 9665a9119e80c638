/**
 * One listening port for HTTP/1.1 and gRPC: a connection whose first bytes are the HTTP/2
 * connection preface (`PRI * HTTP/2.0`, what a client with prior knowledge sends first, as
 * sidecars and gRPC clients do) goes to the gRPC server, any other to the HTTP/1.1 server. In
 * `mast local` a workload has one app port behind its sidecar, and both of ratings' Service ports
 * (http 9080, grpc 9090) name it.
 */
import type * as http from 'node:http';
import * as net from 'node:net';

/** What a gRPC server exposes to take connections it did not accept itself (grpc-js's ConnectionInjector). */
export interface Injector {
  injectConnection(connection: net.Socket): void;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** Bytes enough to tell: no HTTP/1.1 method is `PRI`, the method HTTP/2 reserved for its preface. */
const TELL = 'PRI * HTTP/2.0'.length;

/** Listens on host:port; `http1` or `h2` may be absent (a gRPC-only port): such connections are closed. */
export function listen(port: number, host: string, http1: http.Server | undefined, h2: Injector | undefined): Promise<net.Server> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Errors on a connection being sorted out (a reset) must not reach the process.
    socket.on('error', () => socket.destroy());
    let seen: Buffer = Buffer.alloc(0);
    const sort = (chunk: Buffer) => {
      seen = seen.length ? Buffer.concat([seen, chunk]) : chunk;
      const n = Math.min(seen.length, TELL);
      const isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && seen.length < TELL) return; // a prefix of the preface: wait for more
      socket.off('data', sort);
      socket.pause();
      socket.unshift(seen);
      // node:http2 takes the bytes read so far from the paused socket itself (resuming it would
      // hand them over twice); node:http reads them as 'data' once the socket flows again.
      if (isH2 && h2) h2.injectConnection(socket);
      else if (!isH2 && http1) {
        http1.emit('connection', socket);
        socket.resume();
      } else socket.destroy();
    };
    socket.on('data', sort);
  });
  // The app stops at once: closing its port ends its connections too (idle keep-alive ones, and
  // gRPC's long-lived HTTP/2 sessions), which the HTTP servers handed them cannot track here.
  const close = server.close.bind(server);
  server.close = (done) => {
    close(done);
    for (const s of sockets) s.destroy();
    return server;
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
