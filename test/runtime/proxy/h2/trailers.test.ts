/**
 * Trailers across the codecs (what gRPC-through-HTTP/1.1 bridges rely on): a client's request
 * trailers reach an HTTP/2 server as trailers and an HTTP/1.1 server as chunked trailer fields;
 * an HTTP/1.1 client's chunked body reaches an HTTP/2 server unframed, its trailers as trailers;
 * an HTTP/1.1 server's chunked trailers reach an HTTP/2 client as trailers.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { cluster, config, forward, raw, stoppedAfterEach } from '../../../support/proxy';
import { h2c, h2request } from './h2-client';

const { proxyFor, stopAfter } = stoppedAfterEach();

interface Seen {
  body: string;
  trailers: Record<string, unknown>;
}

/** An HTTP/2 server that keeps each request's body and trailers, and answers 200 `ok`. */
async function h2Server(): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http2.createServer();
  server.on('stream', (stream) => {
    let body = '';
    let trailers: Record<string, unknown> = {};
    stream.on('data', (c) => (body += c));
    stream.on('trailers', (t) => (trailers = { ...t }));
    stream.on('end', () => {
      seen.push({ body, trailers });
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    stream.on('error', () => undefined);
  });
  server.on('session', (s) => stopAfter(async () => void s.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, seen };
}

/** An HTTP/1.1 server that keeps each request's body and trailers, and answers chunked with a trailer `x-checksum`. */
async function h1Server(): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ body, trailers: { ...req.trailers } });
      res.writeHead(200, { trailer: 'x-checksum' });
      res.write('ok');
      res.addTrailers({ 'x-checksum': `len=${body.length}` });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))));
  return { port: (server.address() as AddressInfo).port, seen };
}

/** An HTTP/2 request with a body and request trailers: the response's status, body and trailers. */
function withTrailers(session: http2.ClientHttp2Session, body: string, trailers: http2.OutgoingHttpHeaders) {
  return new Promise<{ status: number; body: string; trailers?: http2.IncomingHttpHeaders }>((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': '/t', ':authority': 'alpha.example.com' }, { waitForTrailers: true });
    req.on('wantTrailers', () => req.sendTrailers(trailers));
    let status = 0;
    let got = '';
    let respTrailers: http2.IncomingHttpHeaders | undefined;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('trailers', (t) => (respTrailers = t));
    req.on('data', (c) => (got += c));
    req.on('end', () => resolve({ status, body: got, trailers: respTrailers }));
    req.on('error', reject);
    req.end(body);
  });
}

async function through(upstreamPort: number, h2: boolean): Promise<number> {
  const c = cluster('up', [upstreamPort], h2 ? { upstreamProtocol: 'h2' } : {});
  return (await proxyFor(config([forward('up')], [c]))).port;
}

test('an HTTP/2 client’s request trailers reach an HTTP/2 server as trailers', async () => {
  const server = await h2Server();
  const session = h2c(await through(server.port, true));
  stopAfter(async () => void session.close());
  expect(await withTrailers(session, 'hello', { 'x-sum': '5' })).toMatchObject({ status: 200, body: 'ok' });
  expect(server.seen).toHaveLength(1);
  expect(server.seen[0].body).toBe('hello');
  expect(server.seen[0].trailers).toMatchObject({ 'x-sum': '5' });
});

test('an HTTP/2 client’s request trailers reach an HTTP/1.1 server as chunked trailer fields', async () => {
  const server = await h1Server();
  const session = h2c(await through(server.port, false));
  stopAfter(async () => void session.close());
  expect(await withTrailers(session, 'hello', { 'x-sum': '5' })).toMatchObject({ status: 200, body: 'ok' });
  expect(server.seen).toEqual([{ body: 'hello', trailers: { 'x-sum': '5' } }]);
});

test('an HTTP/1.1 client’s chunked body reaches an HTTP/2 server unframed, its trailers as trailers', async () => {
  const server = await h2Server();
  const port = await through(server.port, true);
  const reply = await raw(
    port,
    'POST /t HTTP/1.1\r\nhost: alpha.example.com\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n' +
      '5\r\nhello\r\n6\r\n world\r\n0\r\nx-sum: 11\r\n\r\n',
    3000,
  );
  expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  expect(server.seen).toHaveLength(1);
  expect(server.seen[0].body).toBe('hello world');
  expect(server.seen[0].trailers).toMatchObject({ 'x-sum': '11' });
});

test('an HTTP/1.1 server’s chunked trailers reach an HTTP/2 client as trailers', async () => {
  const server = await h1Server();
  const session = h2c(await through(server.port, false));
  stopAfter(async () => void session.close());
  const r = await h2request(session, { ':method': 'POST', ':path': '/t' }, 'four');
  expect(r).toMatchObject({ status: 200, body: 'ok' });
  expect(r.trailers).toMatchObject({ 'x-checksum': 'len=4' });
});
