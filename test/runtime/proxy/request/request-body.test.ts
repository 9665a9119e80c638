/**
 * The request body a retry sends again, on every way through the proxy (HTTP/1.1 or HTTP/2 from
 * the client, HTTP/1.1 or HTTP/2 to the server): a body within the 1 MiB replay bound is sent
 * whole to the second try; past the bound, the first try's answer is the client's (no retry, as
 * Envoy's buffer limit does); a request without a body goes again without one.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { cluster, config, forward, stoppedAfterEach } from '../../../support/proxy';
import { h2c, h2request } from '../h2/h2-client';

const { proxyFor, stopAfter } = stoppedAfterEach();

type Proto = 'HTTP/1.1' | 'HTTP/2';

/** What the server saw of one try: the body's bytes, and whether the request said it had a body at all. */
interface Try {
  body: Buffer;
  announcedBody: boolean;
}

/**
 * A server (in `proto`) whose first try fails with a 503 once it has read the whole body, and
 * whose later tries answer 200 with the body's length.
 */
async function failsFirst(proto: Proto): Promise<{ port: number; tries: Try[] }> {
  const tries: Try[] = [];
  const answer = () => (tries.length === 1 ? 503 : 200);
  if (proto === 'HTTP/1.1') {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        tries.push({ body, announcedBody: req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined });
        res.writeHead(answer()).end(String(body.length));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    stopAfter(() => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))));
    return { port: (server.address() as AddressInfo).port, tries };
  }
  const server = http2.createServer();
  server.on('stream', (stream, _headers, flags) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      // END_STREAM on the request's HEADERS: the request has no body.
      tries.push({ body, announcedBody: (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) === 0 });
      stream.respond({ ':status': answer() });
      stream.end(String(body.length));
    });
    stream.on('error', () => undefined);
  });
  server.on('session', (s) => stopAfter(async () => void s.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, tries };
}

/** The request (a POST of `body`, or a GET without one) through the proxy in `proto`: its status. */
async function send(proto: Proto, port: number, body: Buffer | undefined): Promise<number> {
  if (proto === 'HTTP/2') {
    const session = h2c(port);
    stopAfter(async () => void session.close());
    const r = await h2request(session, { ':method': body ? 'POST' : 'GET', ':path': '/upload' }, body);
    return r.status;
  }
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: 'alpha.example.com' };
    if (body) headers['content-length'] = String(body.length);
    const req = http.request({ host: '127.0.0.1', port, path: '/upload', method: body ? 'POST' : 'GET', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    // In pieces, as a client streams a body: the proxy keeps them for the retry as they come.
    if (body) for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
    req.end();
  });
}

async function proxyTo(upstream: Proto, port: number): Promise<number> {
  const retries = { attempts: 2, retryOn: ['5xx'], backoffBaseMs: 1 };
  const extra = upstream === 'HTTP/2' ? { upstreamProtocol: 'h2' as const } : {};
  return (await proxyFor(config([forward('c', { retries })], [cluster('c', [port], extra)]))).port;
}

const PATHS: Array<[Proto, Proto]> = [
  ['HTTP/1.1', 'HTTP/1.1'],
  ['HTTP/1.1', 'HTTP/2'],
  ['HTTP/2', 'HTTP/1.1'],
  ['HTTP/2', 'HTTP/2'],
];

describe.each(PATHS)('%s client, %s server', (client, upstream) => {
  test('a body within the replay bound is sent whole again to the retry', async () => {
    const server = await failsFirst(upstream);
    const body = Buffer.alloc(700 * 1024, 'retry me ');
    expect(await send(client, await proxyTo(upstream, server.port), body)).toBe(200);
    expect(server.tries).toHaveLength(2);
    expect(server.tries[0].body.equals(body)).toBe(true);
    expect(server.tries[1].body.equals(body)).toBe(true);
  });

  test('a body past the replay bound is not retried: the first answer is the client’s', async () => {
    const server = await failsFirst(upstream);
    const body = Buffer.alloc(1536 * 1024, 'too big ');
    expect(await send(client, await proxyTo(upstream, server.port), body)).toBe(503);
    expect(server.tries).toHaveLength(1);
    expect(server.tries[0].body.equals(body)).toBe(true);
  });

  test('a request without a body is retried without one', async () => {
    const server = await failsFirst(upstream);
    expect(await send(client, await proxyTo(upstream, server.port), undefined)).toBe(200);
    expect(server.tries).toEqual([
      { body: Buffer.alloc(0), announcedBody: false },
      { body: Buffer.alloc(0), announcedBody: false },
    ]);
  });
});
