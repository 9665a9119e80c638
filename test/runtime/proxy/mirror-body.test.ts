/**
 * Mirrors of requests with bodies: the body is copied to the mirror as it streams (Content-Length
 * or chunked), byte for byte; a mirror that cannot keep up loses its copy (counted in
 * `mast_mirror_dropped_total`) and never slows or holds the main request.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import { cluster, config, forward, stoppedAfterEach, until } from '../../support/proxy';

const { neverReading, proxyFor, stopAfter } = stoppedAfterEach();

/** An HTTP backend that keeps each request's Host and body. */
async function bodyBackend() {
  const seen: Array<{ host: string; bytes: number; body: Buffer }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ host: req.headers.host ?? '', bytes: body.length, body });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))));
  return { port: (server.address() as net.AddressInfo).port, seen };
}

function post(port: number, body: Buffer, chunked: boolean, expectContinue = false): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: 'alpha.example.com' };
    if (!chunked) headers['content-length'] = String(body.length);
    if (expectContinue) headers.expect = '100-continue';
    const req = http.request({ host: '127.0.0.1', port, path: '/upload', method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    // In pieces, as a client streams it: the copy must follow chunk by chunk.
    const send = () => {
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
      req.end();
    };
    if (expectContinue) req.once('continue', send);
    else send();
  });
}

const mirrorTo = (main: number, shadow: number) =>
  config(
    [forward('main', { mirrors: [{ cluster: 'shadow', fraction: 1 }], retries: { attempts: 0, retryOn: [] } })],
    [cluster('main', [main]), cluster('shadow', [shadow])],
  );

test.each([
  ['Content-Length', false, false],
  ['chunked', true, false],
  // The mirror answers 100 Continue too: not its final answer, the copy goes on.
  ['100-continue', false, true],
])('a %s body reaches the mirror whole, as the main request sends it', async (_framing, chunked, expectContinue) => {
  const main = await bodyBackend();
  const shadow = await bodyBackend();
  const { port } = await proxyFor(mirrorTo(main.port, shadow.port));
  const body = Buffer.alloc(300 * 1024, 'mirror me ');
  expect(await post(port, body, chunked, expectContinue)).toEqual({ status: 200, text: 'ok' });
  await until('the mirror’s copy', () => shadow.seen.length === 1);
  expect(shadow.seen[0].host).toBe('alpha.example.com-shadow');
  expect(shadow.seen[0].body.equals(body)).toBe(true);
  expect(main.seen[0].body.equals(body)).toBe(true);
});

test('a mirror that never reads: its copy is dropped and counted, the main request gets its whole body and answer', async () => {
  const main = await bodyBackend();
  const { port, proxy } = await proxyFor(mirrorTo(main.port, await neverReading()));

  // Far more than loopback's socket buffers and the copy's bound hold.
  const body = Buffer.alloc(24 * 1024 * 1024, 'x');
  expect(await post(port, body, false)).toEqual({ status: 200, text: 'ok' });
  expect(main.seen[0].bytes).toBe(body.length);
  expect(proxy.renderMetrics()).toMatch(/^mast_mirror_dropped_total 1$/m);
});
