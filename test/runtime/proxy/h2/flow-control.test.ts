/**
 * Streaming without buffering: a client that stops reading stops the server behind the proxy
 * (HTTP/2 windows and socket backpressure hop by hop), so the bytes in flight stay bounded however
 * large the response; when the client reads again, every byte arrives. Both upstream protocols:
 * HTTP/2 (a gRPC-like server) and HTTP/1.1. MAST_H2_LONG=1 makes the response 100 MB.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { cluster, config, forward, stoppedAfterEach, until } from '../../../support/proxy';
import { h2c } from './h2-client';

const { proxyFor, stopAfter } = stoppedAfterEach();
const TOTAL = (process.env.MAST_H2_LONG ? 100 : 24) * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 7);
/** What may be in flight: three hops of windows and socket buffers, far below the body. */
const BOUND = 8 * 1024 * 1024;

/** Writes TOTAL bytes as fast as the reader lets it (waits for 'drain'); `written` counts them. */
function pump(out: NodeJS.WritableStream, progress: { written: number }): void {
  const more = () => {
    while (progress.written < TOTAL) {
      progress.written += CHUNK.length;
      if (!out.write(CHUNK)) return void out.once('drain', more);
    }
    out.end();
  };
  more();
}

async function h2Server(progress: { written: number }): Promise<number> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' });
    pump(stream, progress);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => server.close(() => r())));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  stopAfter(async () => sessions.forEach((s) => s.destroy()));
  return (server.address() as AddressInfo).port;
}

async function h1Server(progress: { written: number }): Promise<number> {
  const server = http.createServer((_req, res) => pump(res, progress));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))));
  return (server.address() as AddressInfo).port;
}

test.each([
  ['HTTP/2', h2Server, 'h2' as const],
  ['HTTP/1.1', h1Server, undefined],
])(
  'a slow reader slows the %s server behind the proxy: bytes in flight stay bounded, all arrive',
  async (_name, start, upstreamProtocol) => {
    const progress = { written: 0 };
    const port = await start(progress);
    const { port: proxyPort } = await proxyFor(config([forward('s')], [cluster('s', [port], { upstreamProtocol })]));
    const session = h2c(proxyPort);
    stopAfter(async () => void session.close());
    const req = session.request({ ':path': '/big', ':authority': 'alpha.example.com' });
    let read = 0;
    let holding = true;
    req.on('data', (c: Buffer) => {
      read += c.length;
      // Read the first MB, then stop (until told to read on).
      if (holding && read > 1024 * 1024) req.pause();
    });
    await until('the reader to have stopped', () => read > 1024 * 1024);
    // The server writes until the windows and buffers between it and the stopped reader are full: then it waits.
    let last = -1;
    await until(
      'the server to be held back',
      async () => {
        const now = progress.written;
        const still = now === last;
        last = now;
        await new Promise((r) => setTimeout(r, 100));
        return still && progress.written === now;
      },
      10_000,
    );
    expect(progress.written).toBeLessThan(TOTAL);
    expect(progress.written - read).toBeLessThan(BOUND);
    const done = new Promise<void>((r) => req.on('end', r));
    holding = false;
    req.resume();
    await done;
    expect(read).toBe(TOTAL);
  },
  60_000,
);
