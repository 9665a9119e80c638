/**
 * Mirrors of HTTP/2 requests, with the bounds HTTP/1.1's have (test/runtime/proxy/mirror-body.test.ts):
 * the body copied to the mirror as it streams (with the client's content-length, else chunked),
 * byte for byte; a mirror that cannot keep up loses its copy (`mast_mirror_dropped_total`) and
 * never slows or holds the main request.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import { cluster, config, forward, stoppedAfterEach, until } from '../../../support/proxy';
import { h2c, h2request } from './h2-client';

const { neverReading, proxyFor, stopAfter } = stoppedAfterEach();

/** An HTTP/1.1 backend that keeps each request's Host, framing and body. */
async function bodyBackend() {
  const seen: Array<{ host: string; method: string; length?: string; chunked: boolean; mirror?: string; body: Buffer }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        host: req.headers.host ?? '',
        method: req.method!,
        length: req.headers['content-length'],
        chunked: req.headers['transfer-encoding'] === 'chunked',
        mirror: req.headers['x-mast-mirror'] as string | undefined,
        body: Buffer.concat(chunks),
      });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))));
  return { port: (server.address() as net.AddressInfo).port, seen };
}

const mirrorTo = (main: number, shadow: number) =>
  config(
    [forward('main', { mirrors: [{ cluster: 'shadow', fraction: 1 }], retries: { attempts: 0, retryOn: [] } })],
    [cluster('main', [main]), cluster('shadow', [shadow])],
  );

test.each([
  ['with its content-length', true],
  ['without a length (chunked to the mirror)', false],
])('an HTTP/2 request’s body %s reaches the mirror whole, as the main request sends it', async (_how, withLength) => {
  const main = await bodyBackend();
  const shadow = await bodyBackend();
  const { port } = await proxyFor(mirrorTo(main.port, shadow.port));
  const session = h2c(port);
  stopAfter(async () => void session.close());
  const body = Buffer.alloc(300 * 1024, 'mirror me ');
  const headers = { ':method': 'POST', ':path': '/upload', ...(withLength ? { 'content-length': String(body.length) } : {}) };
  expect(await h2request(session, headers, body)).toMatchObject({ status: 200, body: 'ok' });
  await until('the mirror’s copy', () => shadow.seen.length === 1);
  expect(shadow.seen[0]).toMatchObject({
    host: 'alpha.example.com-shadow',
    method: 'POST',
    mirror: 'true',
    length: withLength ? String(body.length) : undefined,
    chunked: !withLength,
  });
  expect(shadow.seen[0].body.equals(body)).toBe(true);
  expect(main.seen[0].body.equals(body)).toBe(true);
});

test('an HTTP/2 request without a body: the mirror’s copy has none either', async () => {
  const main = await bodyBackend();
  const shadow = await bodyBackend();
  const { port } = await proxyFor(mirrorTo(main.port, shadow.port));
  const session = h2c(port);
  stopAfter(async () => void session.close());
  expect(await h2request(session, { ':path': '/read' })).toMatchObject({ status: 200 });
  await until('the mirror’s copy', () => shadow.seen.length === 1);
  expect(shadow.seen[0]).toMatchObject({ method: 'GET', length: undefined, chunked: false, body: Buffer.alloc(0) });
});

test('a mirror that never reads an HTTP/2 request’s body: its copy is dropped and counted, the main request gets it all', async () => {
  const main = await bodyBackend();
  const { port, proxy } = await proxyFor(mirrorTo(main.port, await neverReading()));
  const session = h2c(port);
  stopAfter(async () => void session.close());
  // Far more than loopback's socket buffers and the copy's bound hold.
  const body = Buffer.alloc(24 * 1024 * 1024, 'x');
  expect(await h2request(session, { ':method': 'POST', ':path': '/upload' }, body)).toMatchObject({ status: 200, body: 'ok' });
  expect(main.seen[0].body.length).toBe(body.length);
  expect(proxy.renderMetrics()).toMatch(/^mast_mirror_dropped_total 1$/m);
});
