/**
 * A sidecar's inbound over mTLS reads HTTP/1.1 through the shared read buffer (read-buffer.ts
 * `secureWithOnRead`), not through the TLS socket's stream: keep-alive requests one after another on
 * one connection, a body larger than the sockets' buffers (the client's connection paused while the
 * app reads slowly, then resumed), and a request split across many small TLS records all arrive whole.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import type { ProxyConfig } from '../../../runtime/contract/proxy-config';
import { until } from '../../support/poll';
import { loopbackCluster, oneRoute } from '../../security/configs';
import { meshCa, workload } from '../../security/pki';

let ca: Awaited<ReturnType<typeof meshCa>>;
let app: http.Server;
let appPort: number;
let proxy: MeshProxy;
let port: number;

beforeAll(async () => {
  ca = await meshCa();
});

beforeEach(async () => {
  // The app answers with the length of the body it read, pausing after each chunk: the proxy must hold the rest meanwhile.
  app = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (d: Buffer) => {
      n += d.length;
      req.pause();
      setTimeout(() => req.resume(), 1);
    });
    req.on('end', () => res.end(`${req.method} ${req.url} ${n}`));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appPort = (app.address() as AddressInfo).port;
  const listener = { name: 'virtualInbound', trafficDirection: 'INBOUND' as const, port: 0, matchPort: appPort, mtls: 'STRICT' as const };
  const config: ProxyConfig = oneRoute(listener, loopbackCluster('inbound', '127.0.0.1', appPort));
  proxy = new MeshProxy({ mode: 'sidecar', workload: 'cart', namespace: 'shop' });
  proxy.setCertificate(await workload(ca, 'shop', 'cart'));
  expect(await proxy.apply(config)).toMatchObject({ ok: true });
  port = proxy.boundPort('virtualInbound')!;
});

afterEach(async () => {
  await proxy.drain(50);
  app.closeAllConnections();
  await new Promise((r) => app.close(r));
});

/** An mTLS connection from a mesh peer; `replies()` is everything read so far. */
async function peer(): Promise<{ socket: tls.TLSSocket; replies: () => string }> {
  const client = await workload(ca, 'shop', 'front');
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    ca: ca.rootPem,
    key: client.key,
    cert: client.cert,
    checkServerIdentity: () => undefined,
  });
  let out = '';
  socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
  await new Promise((r) => socket.once('secureConnect', r));
  return { socket, replies: () => out };
}

const bodies = (out: string) => [...out.matchAll(/\r\n\r\n((?:GET|POST) \S+ \d+)/g)].map((m) => m[1]);

test('keep-alive requests and an 8 MiB body on one connection arrive whole, in order', async () => {
  const { socket, replies } = await peer();
  const big = 8 * 1024 * 1024;
  socket.write('GET /one HTTP/1.1\r\nhost: cart\r\n\r\n');
  await until('the first reply', () => bodies(replies()).length === 1, 5000);
  socket.write(`POST /big HTTP/1.1\r\nhost: cart\r\ncontent-length: ${big}\r\n\r\n`);
  socket.write(Buffer.alloc(big, 0x61));
  socket.write('GET /two HTTP/1.1\r\nhost: cart\r\n\r\n');
  await until('three replies', () => bodies(replies()).length === 3, 20_000);
  expect(bodies(replies())).toEqual(['GET /one 0', `POST /big ${big}`, 'GET /two 0']);
  socket.destroy();
});

test('a head that comes a few bytes per TLS record is read whole', async () => {
  const { socket, replies } = await peer();
  const head = 'GET /slow HTTP/1.1\r\nhost: cart\r\nx-filler: abcdefghijklmnopqrstuvwxyz\r\n\r\n';
  for (let i = 0; i < head.length; i += 7) {
    socket.write(head.slice(i, i + 7));
    await new Promise((r) => setImmediate(r));
  }
  await until('the reply', () => bodies(replies()).length === 1, 5000);
  expect(bodies(replies())).toEqual(['GET /slow 0']);
  socket.destroy();
});
