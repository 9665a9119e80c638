/**
 * The HTTP/2 upstream pool: streams per session bounded by `maxConcurrentStreams`, sessions
 * retired after `maxRequestsPerConnection` streams or a GOAWAY (new streams on a new session),
 * `maxRequests` in flight per cluster (over it: 503 UO), and a stream the server refuses
 * (REFUSED_STREAM) retried as `refused-stream`.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { ClusterConfig } from '../../../../runtime/contract/proxy-config';
import { cluster, config, forward, stoppedAfterEach } from '../../../support/proxy';
import { h2c, h2request } from './h2-client';

const { proxyFor, stopAfter } = stoppedAfterEach();

/** An HTTP/2 server answering after `delayMs`; `onStream` may act first (return true: handled). */
async function server(delayMs = 0, onStream?: (s: http2.ServerHttp2Stream, n: number) => boolean) {
  const sessions = new Set<http2.ServerHttp2Session>();
  let streams = 0;
  const srv = http2.createServer();
  srv.on('session', (s) => sessions.add(s));
  srv.on('stream', (stream, headers) => {
    const n = ++streams;
    // A stream this server refuses or the proxy cancels ends with an error code: expected here.
    stream.on('error', () => undefined);
    if (onStream?.(stream, n)) return;
    setTimeout(() => {
      if (!stream.closed) {
        stream.respond({ ':status': 200 });
        stream.end(`${headers[':path']} #${n}`);
      }
    }, delayMs);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  stopAfter(async () => {
    sessions.forEach((s) => s.destroy());
    await new Promise((r) => srv.close(() => r(undefined)));
  });
  return { port: (srv.address() as AddressInfo).port, sessions, streams: () => streams };
}

async function through(port: number, extra: Partial<ClusterConfig>, route: Parameters<typeof forward>[1] = {}) {
  const { port: p } = await proxyFor(config([forward('s', route)], [cluster('s', [port], { upstreamProtocol: 'h2', ...extra })]));
  const session = h2c(p);
  stopAfter(async () => void session.close());
  return (path: string) => h2request(session, { ':path': path });
}

test('maxConcurrentStreams 1: three requests at once go over three upstream sessions', async () => {
  const s = await server(100);
  const send = await through(s.port, { maxConcurrentStreams: 1 });
  const replies = await Promise.all(['/a', '/b', '/c'].map(send));
  expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
  expect(s.sessions.size).toBe(3);
});

test('without a limit, requests share one session (multiplexed)', async () => {
  const s = await server(100);
  const send = await through(s.port, {});
  await Promise.all(['/a', '/b', '/c', '/d'].map(send));
  expect(s.sessions.size).toBe(1);
});

test('maxRequestsPerConnection 2: four requests in a row use two sessions', async () => {
  const s = await server();
  const send = await through(s.port, { maxRequestsPerConnection: 2 });
  for (const p of ['/1', '/2', '/3', '/4']) expect((await send(p)).status).toBe(200);
  expect(s.sessions.size).toBe(2);
});

test('maxRequests 1: a second request while one is in flight gets 503 UO', async () => {
  const s = await server(200);
  const send = await through(s.port, { maxRequests: 1 });
  const [a, b] = await Promise.all([send('/slow'), new Promise((r) => setTimeout(r, 50)).then(() => send('/second'))]);
  expect(a.status).toBe(200);
  expect(b.status).toBe(503);
  expect(b.body).toMatch(/overflow/);
});

test('a GOAWAY: the stream in flight finishes, the next request opens a new session', async () => {
  const s = await server(0, (stream, n) => {
    if (n !== 1) return false;
    stream.respond({ ':status': 200 });
    stream.end('first');
    stream.session?.goaway();
    return true;
  });
  const send = await through(s.port, {});
  expect((await send('/one')).body).toBe('first');
  expect((await send('/two')).body).toBe('/two #2');
  expect(s.sessions.size).toBe(2);
});

test('REFUSED_STREAM is retried as refused-stream; the server counts both streams', async () => {
  const s = await server(0, (stream, n) => {
    if (n !== 1) return false;
    stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    return true;
  });
  const send = await through(s.port, {}, { retries: { attempts: 2, retryOn: ['refused-stream'] } });
  expect(await send('/r')).toMatchObject({ status: 200, body: '/r #2' });
  expect(s.streams()).toBe(2);
});

test('a try given up after its head (a retried 503) frees its stream: with one stream per session and one session, the retry is served', async () => {
  const s = await server(0, (stream, n) => {
    if (n !== 1) return false;
    // The head comes, the body never: the retry gives this stream up, and must reset it to free it.
    stream.respond({ ':status': 503 });
    return true;
  });
  const send = await through(
    s.port,
    { maxConcurrentStreams: 1, maxConnections: 1 },
    { retries: { attempts: 1, retryOn: ['5xx'], backoffBaseMs: 1 } },
  );
  expect(await send('/r')).toMatchObject({ status: 200, body: '/r #2' });
  expect(s.sessions.size).toBe(1);
}, 10_000);
