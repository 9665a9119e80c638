/**
 * Where an HTTP/2 client's request ends. Node ends a server stream's readable side both for the
 * client's END_STREAM and for its RST_STREAM(NO_ERROR) before END_STREAM; only the first is a
 * complete request. A request the client reset mid-body must reach the upstream reset too (as
 * Envoy resets the upstream stream of a reset downstream one), never as a complete, shorter request.
 * A request complete with its head (a unary gRPC call) ends upstream with its last DATA frame.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { cluster, config, forward, stoppedAfterEach, until } from '../../../support/proxy';
import { h2c, h2request } from './h2-client';

const { proxyFor, stopAfter } = stoppedAfterEach();

/** An HTTP/2 server that notes how each request ended: `complete` (its END_STREAM came) or `reset`. */
async function endings(): Promise<{ port: number; outcomes: string[]; opened: () => number }> {
  const outcomes: string[] = [];
  let opened = 0;
  const server = http2.createServer();
  server.on('stream', (stream) => {
    opened++;
    let ended = false;
    stream.on('data', () => undefined);
    stream.on('end', () => {
      ended = !stream.closed;
      if (!ended) return;
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    stream.on('close', () => outcomes.push(ended ? 'complete' : 'reset'));
    stream.on('error', () => undefined);
  });
  server.on('session', (s) => stopAfter(async () => void s.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, outcomes, opened: () => opened };
}

test('a client that resets its stream with NO_ERROR mid-body: the upstream stream is reset, not ended as a complete request', async () => {
  const upstream = await endings();
  const { port } = await proxyFor(config([forward('g')], [cluster('g', [upstream.port], { upstreamProtocol: 'h2' })]));
  const session = h2c(port);
  stopAfter(async () => void session.close());
  const req = session.request({ ':method': 'POST', ':path': '/upload', ':authority': 'alpha.example.com' });
  req.on('error', () => undefined);
  req.write('first half of the body');
  await until('the upstream stream to open', () => upstream.opened() === 1);
  // destroy() without an error: RST_STREAM(NO_ERROR), no END_STREAM (close() would end the body first).
  req.destroy();
  await until('the upstream stream to close', () => upstream.outcomes.length === 1);
  expect(upstream.outcomes).toEqual(['reset']);
});

interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly length: number;
}

const frame = (type: number, flags: number, stream: number, payload: Buffer): Buffer => {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
};

/**
 * An HTTP/2 server on a raw socket that notes every frame it gets, and answers each request, once
 * its END_STREAM came, with a HEADERS frame of `:status: 200` (HPACK's static entry 8) that ends it.
 */
async function frameRecorder(): Promise<{ port: number; frames: Frame[] }> {
  const frames: Frame[] = [];
  const server = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    let preface = false;
    socket.write(frame(0x4, 0, 0, Buffer.alloc(0)));
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!preface) {
        if (buf.length < 24) return;
        buf = buf.subarray(24);
        preface = true;
      }
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const f = { type: buf[3], flags: buf[4], stream: buf.readUInt32BE(5) & 0x7fffffff, length: buf.readUIntBE(0, 3) };
        buf = buf.subarray(9 + f.length);
        frames.push(f);
        if (f.type === 0x4 && !(f.flags & 0x1)) socket.write(frame(0x4, 0x1, 0, Buffer.alloc(0)));
        if ((f.type === 0x0 || f.type === 0x1) && f.flags & 0x1) socket.write(frame(0x1, 0x5, f.stream, Buffer.from([0x88])));
      }
    });
    stopAfter(async () => void socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, frames };
}

test('a request complete with its head (a unary call) ends upstream with its last DATA frame, no empty one after it', async () => {
  const upstream = await frameRecorder();
  const { port } = await proxyFor(config([forward('g')], [cluster('g', [upstream.port], { upstreamProtocol: 'h2' })]));
  const session = h2c(port);
  stopAfter(async () => void session.close());
  const r = await h2request(session, { ':method': 'POST', ':path': '/unary', 'content-type': 'application/grpc' }, 'four');
  expect(r.status).toBe(200);
  // Waiting for trailers that never come, the stream would end with an empty DATA frame of its own.
  const data = upstream.frames.filter((f) => f.type === 0x0).map(({ flags, length }) => ({ endStream: (flags & 0x1) === 1, length }));
  expect(data).toEqual([{ endStream: true, length: 4 }]);
});
