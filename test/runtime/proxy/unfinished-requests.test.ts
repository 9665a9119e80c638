/**
 * Requests that never finish normally leave a record, as Envoy's: a client gone mid-request is an
 * access log line and an `istio_requests_total` count with flag DC (response code 0 when no
 * response head was sent, `downstream_remote_disconnect`); an upgraded connection (101) is
 * recorded when its tunnel closes, with the bytes that went each way.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { PassThrough } from 'node:stream';
import { DEFAULT_LIMITS } from '../../../runtime/proxy/http/head';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { cluster, config, forward, stoppedAfterEach, until } from '../../support/proxy';

const { withBackend, stopAfter } = stoppedAfterEach();

/** A proxy whose access log lines the test reads as objects. */
async function loggingProxy(backendPort: number) {
  const log = new PassThrough();
  let text = '';
  log.on('data', (d) => (text += d));
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' }, log, DEFAULT_LIMITS);
  stopAfter(() => proxy.drain(50));
  const applied = await proxy.apply(config([forward('c', { retries: { attempts: 0, retryOn: [] } })], [cluster('c', [backendPort])]));
  expect(applied.ok).toBe(true);
  const lines = () =>
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { proxy, port: proxy.boundPort('l')!, lines };
}

function connect(port: number): Promise<net.Socket & { text: string }> {
  const s = Object.assign(net.connect(port, '127.0.0.1'), { text: '' });
  s.on('data', (d) => (s.text += d.toString('latin1')));
  s.on('error', () => undefined);
  return new Promise((resolve) => s.once('connect', () => resolve(s)));
}

const requestsTotal = (metrics: string, code: string, flags: string) =>
  Number(
    new RegExp(`istio_requests_total\\{[^}]*response_code="${code}",response_flags="${flags}"[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? 0,
  );

test('a client that disconnects before the response: code 0, flag DC, downstream_remote_disconnect, in the log and the metrics', async () => {
  const held: http.ServerResponse[] = [];
  const b = await withBackend('b', (_req, res) => held.push(res));
  const { proxy, port, lines } = await loggingProxy(b.port);
  const client = await connect(port);
  client.write('GET /waiting HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n');
  await until('the request to reach the backend', () => held.length === 1);
  client.destroy();
  await until('its access log line', () => lines().length === 1);
  expect(lines()[0]).toMatchObject({
    path: '/waiting',
    response_code: 0,
    response_flags: 'DC',
    response_code_details: 'downstream_remote_disconnect',
    upstream_cluster: 'c',
  });
  expect(requestsTotal(proxy.renderMetrics(), '0', 'DC')).toBe(1);
  held[0].destroy();
});

test('a client gone halfway through its request body: DC, code 0, the body bytes it did send', async () => {
  // A raw backend: it sees the request's bytes as they come (an HTTP server would wait for the whole body).
  let upstream = '';
  const raw = net.createServer((s) => (s.on('data', (d) => (upstream += d)), s.on('error', () => undefined)));
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => raw.close(() => r())));
  const { proxy, port, lines } = await loggingProxy((raw.address() as net.AddressInfo).port);
  const client = await connect(port);
  client.write('POST /upload HTTP/1.1\r\nHost: alpha.example.com\r\nContent-Length: 1000\r\n\r\n0123456789');
  await until('the first body bytes to reach the backend', () => upstream.endsWith('0123456789'));
  client.destroy();
  await until('its access log line', () => lines().length === 1);
  expect(lines()[0]).toMatchObject({ method: 'POST', response_code: 0, response_flags: 'DC', bytes_received: 10 });
  expect(requestsTotal(proxy.renderMetrics(), '0', 'DC')).toBe(1);
});

test('a client gone mid-response: the status that was sent, flag DC', async () => {
  let res!: http.ServerResponse;
  const b = await withBackend('b', (_req, r) => {
    res = r;
    r.writeHead(200, { 'content-length': '100000' });
    r.write('x'.repeat(1000));
  });
  const { proxy, port, lines } = await loggingProxy(b.port);
  const client = await connect(port);
  client.write('GET /big HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n');
  await until('the first body bytes', () => client.text.includes('xxxx'));
  client.destroy();
  await until('its access log line', () => lines().length === 1);
  expect(lines()[0]).toMatchObject({ path: '/big', response_code: 200, response_flags: 'DC' });
  expect(requestsTotal(proxy.renderMetrics(), '200', 'DC')).toBe(1);
  res.destroy();
});

test('an upgraded connection is recorded when its tunnel closes: 101, the bytes of both ways', async () => {
  const b = await withBackend('b');
  // The backend's server takes the upgrade: 101, then answers each message with its reverse.
  const tunnels = new Set<net.Socket>();
  const upgrades = await new Promise<http.Server>((resolve) => {
    const s = http.createServer();
    s.on('upgrade', (_req, socket: net.Socket) => {
      tunnels.add(socket);
      // A greeting in the same write as the head: tunnel bytes too.
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nhi');
      socket.on('data', (d) => socket.write(Buffer.from(d).reverse()));
      socket.on('error', () => undefined);
    });
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
  stopAfter(() => new Promise((r) => (tunnels.forEach((t) => t.destroy()), upgrades.close(() => r()))));
  await b.close();
  const { proxy, port, lines } = await loggingProxy((upgrades.address() as net.AddressInfo).port);
  const client = await connect(port);
  client.write('GET /chat HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n');
  await until('the 101 and its greeting', () => client.text.endsWith('\r\n\r\nhi'));
  expect(client.text).toMatch(/^HTTP\/1\.1 101 /);
  client.write('hello');
  await until('the echo', () => client.text.endsWith('olleh'));
  // Nothing is recorded while the tunnel is open.
  expect(lines()).toHaveLength(0);
  client.end();
  await until('its access log line', () => lines().length === 1);
  expect(lines()[0]).toMatchObject({ path: '/chat', response_code: 101, response_flags: '-', bytes_received: 5, bytes_sent: 7 });
  expect(requestsTotal(proxy.renderMetrics(), '101', '-')).toBe(1);
});
