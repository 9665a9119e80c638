/**
 * CONNECT, as Envoy answers it under Istio's listeners (no CONNECT upgrade configured, path routes
 * only): no route takes it, 404, logged with the flag NR and a request id as Envoy logs it; its
 * router runs after the other filters, so a policy that denies the CONNECT answers 403 first. Over
 * HTTP/1.1 the connection is closed after the answer, so bytes meant for a tunnel are never read as
 * requests; over HTTP/2 only that stream is answered, and the connection's other streams go on.
 */
import * as http2 from 'node:http2';
import { PassThrough } from 'node:stream';
import { DEFAULT_LIMITS } from '../../../../runtime/proxy/http/head';
import type { AuthzConfig } from '../../../../runtime/contract/authz';
import { MeshProxy } from '../../../../runtime/proxy/mesh-proxy';
import { cluster, config, forward, raw, stoppedAfterEach, until } from '../../../support/proxy';

const { withBackend, stopAfter } = stoppedAfterEach();

/** A DENY AuthorizationPolicy for CONNECT requests, as the proxy gets it. */
const DENY_CONNECT: AuthzConfig = { deny: [{ name: 'mast-system/deny-connect[0]', to: [{ methods: ['CONNECT'] }] }] };

/** A gateway to one backend (`authz`: its listener's policies), its access log lines parsed as they come. */
async function proxied(authz?: AuthzConfig) {
  const b = await withBackend('web');
  const log = new PassThrough();
  let text = '';
  log.on('data', (d) => (text += d));
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' }, log, DEFAULT_LIMITS);
  proxy.accessLogFlushMs = 0;
  const cfg = config([forward('web')], [cluster('web', [b.port])]);
  expect(await proxy.apply(authz ? { ...cfg, listeners: [{ ...cfg.listeners[0], authz }] } : cfg)).toMatchObject({ ok: true });
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
  request_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
});

/** The same CONNECT denied by a policy: 403, Envoy's RBAC detail, no NR. */
const deniedConnect = (protocol: string) => ({
  ...refusedConnect(protocol),
  response_code: 403,
  response_flags: '-',
  response_code_details: 'rbac_access_denied_matched_policy[ns[mast-system]-policy[deny-connect]-rule[0]]',
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

/** A function answering the status of one request per call, all on one HTTP/2 connection to `port` (closed after the test). */
function h2Status(port: number): (headers: http2.OutgoingHttpHeaders) => Promise<number> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  stopAfter(async () => void session.close());
  return (headers) =>
    new Promise<number>((resolve, reject) => {
      const s = session.request(headers);
      s.on('response', (h) => resolve(Number(h[':status'])));
      s.on('error', reject);
      s.resume();
      s.end();
    });
}

test('HTTP/2 CONNECT: that stream is answered 404; a request on the same connection is served', async () => {
  const { b, port, lines } = await proxied();
  const status = h2Status(port);
  expect(await status({ ':method': 'CONNECT', ':authority': 'alpha.example.com:443' })).toBe(404);
  expect(await status({ ':path': '/after', ':authority': 'alpha.example.com' })).toBe(200);
  expect(b.seen.map((r) => r.url)).toEqual(['/after']);
  await until('two access log lines', () => lines().length === 2);
  expect(lines()[0]).toMatchObject(refusedConnect('HTTP/2'));
  expect(lines()[1]).toMatchObject({ method: 'GET', path: '/after', response_code: 200, response_flags: '-' });
});

test('HTTP/1.1 CONNECT that a policy denies: 403 before any route is looked for, the connection closed', async () => {
  const { b, port, lines } = await proxied(DENY_CONNECT);
  const reply = await raw(
    port,
    'CONNECT alpha.example.com:443 HTTP/1.1\r\nHost: alpha.example.com:443\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n',
    3000,
  );
  expect(reply).toMatch(/^HTTP\/1\.1 403 /);
  expect(reply).toContain('RBAC: access denied');
  expect(reply).toMatch(/connection: close/i);
  expect(reply.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  expect(b.seen).toHaveLength(0);
  await until('the access log line', () => lines().length === 1);
  expect(lines()[0]).toMatchObject(deniedConnect('HTTP/1.1'));
});

test('HTTP/2 CONNECT that a policy denies: that stream is answered 403; a GET on the same connection is served', async () => {
  const { b, port, lines } = await proxied(DENY_CONNECT);
  const status = h2Status(port);
  expect(await status({ ':method': 'CONNECT', ':authority': 'alpha.example.com:443' })).toBe(403);
  expect(await status({ ':path': '/after', ':authority': 'alpha.example.com' })).toBe(200);
  expect(b.seen.map((r) => r.url)).toEqual(['/after']);
  await until('two access log lines', () => lines().length === 2);
  expect(lines()[0]).toMatchObject(deniedConnect('HTTP/2'));
});
