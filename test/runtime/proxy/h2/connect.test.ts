/**
 * CONNECT, as Envoy answers it under Istio's listeners (no CONNECT upgrade configured, path routes
 * only): no route takes it, 404, logged with the flag NR as Envoy logs it. Over HTTP/1.1 the
 * connection is closed after the answer, so bytes meant for a tunnel are never read as requests;
 * over HTTP/2 only that stream is answered, and the connection's other streams go on.
 */
import * as http2 from 'node:http2';
import { PassThrough } from 'node:stream';
import { DEFAULT_LIMITS } from '../../../../runtime/proxy/http/head';
import { MeshProxy } from '../../../../runtime/proxy/mesh-proxy';
import { cluster, config, forward, raw, stoppedAfterEach, until } from '../../../support/proxy';

const { withBackend, stopAfter } = stoppedAfterEach();

/** A gateway to one backend, its access log lines parsed as they come. */
async function proxied() {
  const b = await withBackend('web');
  const log = new PassThrough();
  let text = '';
  log.on('data', (d) => (text += d));
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' }, log, DEFAULT_LIMITS);
  proxy.accessLogFlushMs = 0;
  expect(await proxy.apply(config([forward('web')], [cluster('web', [b.port])]))).toMatchObject({ ok: true });
  stopAfter(() => proxy.drain(50));
  const lines = () =>
    text
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  return { b, port: proxy.boundPort('l')!, proxy, lines };
}

/** What Envoy's access log says of a refused CONNECT, in Istio's JSON format's fields. */
const refusedConnect = (protocol: string) => ({
  method: 'CONNECT',
  path: null,
  protocol,
  authority: 'alpha.example.com:443',
  response_code: 404,
  response_flags: 'NR',
  upstream_cluster: null,
});

test('HTTP/1.1 CONNECT: 404, the connection closed, and a request smuggled behind it never reaches the backend', async () => {
  const { b, port, proxy, lines } = await proxied();
  const reply = await raw(
    port,
    'CONNECT alpha.example.com:443 HTTP/1.1\r\nHost: alpha.example.com:443\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n',
    3000,
  );
  expect(reply).toMatch(/^HTTP\/1\.1 404 /);
  expect(reply).toMatch(/connection: close/i);
  expect(reply.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  expect(b.seen).toHaveLength(0);
  await until('the access log line', () => lines().length === 1);
  expect(lines()[0]).toMatchObject({ ...refusedConnect('HTTP/1.1'), bytes_sent: 9 });
  expect(proxy.renderMetrics()).toMatch(/istio_requests_total\{[^}]*response_code="404",response_flags="NR"[^}]*\} 1/);
});

test('HTTP/2 CONNECT: that stream is answered 404; a request on the same connection is served', async () => {
  const { b, port, lines } = await proxied();
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
  await until('two access log lines', () => lines().length === 2);
  expect(lines()[0]).toMatchObject(refusedConnect('HTTP/2'));
  expect(lines()[1]).toMatchObject({ method: 'GET', path: '/after', response_code: 200, response_flags: '-' });
});
