/**
 * CONNECT, as Envoy answers it under Istio's listeners (no CONNECT upgrade configured, path routes
 * only): no route takes it, 404. Over HTTP/1.1 the connection is closed after
 * the answer, so bytes meant for a tunnel are never read as requests; over HTTP/2 only that stream
 * is answered, and the connection's other streams go on.
 */
import * as http2 from 'node:http2';
import { cluster, config, forward, raw, stoppedAfterEach } from '../../support';

const { withBackend, proxyFor, stopAfter } = stoppedAfterEach();

async function proxied() {
  const b = await withBackend('web');
  const { port } = await proxyFor(config([forward('web')], [cluster('web', [b.port])]));
  return { b, port };
}

test('HTTP/1.1 CONNECT: 404, the connection closed, and a request smuggled behind it never reaches the backend', async () => {
  const { b, port } = await proxied();
  const reply = await raw(
    port,
    'CONNECT alpha.example.com:443 HTTP/1.1\r\nHost: alpha.example.com:443\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n',
    3000,
  );
  expect(reply).toMatch(/^HTTP\/1\.1 404 /);
  expect(reply).toMatch(/connection: close/i);
  expect(reply.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  expect(b.seen).toHaveLength(0);
});

test('HTTP/2 CONNECT: that stream is answered 404; a request on the same connection is served', async () => {
  const { b, port } = await proxied();
  const session = http2.connect(`http://127.0.0.1:${port}`);
  stopAfter(async () => void session.close());
  const status = (headers: http2.OutgoingHttpHeaders) =>
    new Promise<number>((resolve, reject) => {
      const s = session.request(headers);
      s.on('response', (h) => resolve(Number(h[':status'])));
      s.on('error', reject);
      s.resume();
      s.end();
    });
  expect(await status({ ':method': 'CONNECT', ':authority': 'alpha.example.com:443' })).toBe(404);
  expect(await status({ ':path': '/after', ':authority': 'alpha.example.com' })).toBe(200);
  expect(b.seen.map((r) => r.url)).toEqual(['/after']);
});
