/**
 * HTTP/1.1 clients to an HTTP/2 cluster (a gRPC/HTTP2 port, or DestinationRule
 * `h2UpgradePolicy: UPGRADE`): the request goes upstream as an HTTP/2 stream, the response comes
 * back as HTTP/1.1 — chunked when the server gave no length, its trailers as chunked trailers —
 * and the connection is kept alive for the next request.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { cluster, config, forward, get, raw, stoppedAfterEach } from '../../../support/proxy';

const { proxyFor, stopAfter } = stoppedAfterEach();

/** An HTTP/2-only server (no HTTP/1.1 fallback): it answers method, path and body, with a trailer. */
async function h2Only(): Promise<{ port: number; seen: http2.IncomingHttpHeaders[] }> {
  const seen: http2.IncomingHttpHeaders[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    seen.push(headers);
    let body = '';
    stream.on('data', (c) => (body += c));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'x-h2': 'yes' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'x-checksum': String(body.length) }));
      stream.end(`${headers[':method']} ${headers[':path']} ${body}`);
    });
  });
  server.on('session', (s) => stopAfter(async () => void s.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, seen };
}

test('an HTTP/1.1 request to an h2 cluster goes as HTTP/2; the response and its trailers come back as HTTP/1.1', async () => {
  const s = await h2Only();
  const { port } = await proxyFor(config([forward('h2')], [cluster('h2', [s.port], { upstreamProtocol: 'h2' })]));
  const r = await get(port, '/one', { host: 'alpha.example.com' });
  expect(r).toMatchObject({ status: 200, body: 'GET /one ' });
  expect(r.headers['x-h2']).toBe('yes');
  expect(s.seen[0]).toMatchObject({ ':authority': 'alpha.example.com', ':path': '/one', 'x-forwarded-proto': 'http' });
  // A body, and trailers asked for: chunked, the server's trailer after the last chunk; then a second request on the connection.
  const reply = await raw(
    port,
    'POST /two HTTP/1.1\r\nhost: alpha.example.com\r\nte: trailers\r\ncontent-length: 5\r\n\r\nhello' +
      'GET /three HTTP/1.1\r\nhost: alpha.example.com\r\nconnection: close\r\n\r\n',
  );
  expect(reply.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
  expect(reply).toContain('transfer-encoding: chunked\r\n\r\nf\r\nPOST /two hello\r\n0\r\nx-checksum: 5\r\n\r\nHTTP/1.1 200 OK\r\n');
  expect(reply).toContain('connection: close\r\n\r\nb\r\nGET /three \r\n0\r\n\r\n');
  expect(s.seen.map((h) => h[':path'])).toEqual(['/one', '/two', '/three']);
});
