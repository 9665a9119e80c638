/** Non-HTTP traffic: TCP listeners joined byte for byte to an endpoint, and non-HTTP inbound connections passed through. */
import * as net from 'node:net';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import type { ProxyConfig } from '../../../runtime/contract/proxy-config';
import { backend, cluster, get, until } from '../../support/proxy';

async function echo(tag: string): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((s) => s.on('data', (d) => s.write(`${tag}:${d}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

function talk(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    s.once('data', (d) => (resolve(String(d)), s.end()));
    s.on('error', reject);
  });
}

const proxies: MeshProxy[] = [];
afterAll(() => Promise.all(proxies.map((p) => p.drain(50))));
async function start(cfg: ProxyConfig): Promise<MeshProxy> {
  const p = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' });
  const r = await p.apply(cfg);
  if (!r.ok) throw new Error(r.error);
  proxies.push(p);
  return p;
}

describe('TCP proxying', () => {
  test('a TCP listener sends each connection to one weighted destination and counts bytes', async () => {
    const db = await echo('db');
    const p = await start({
      schema: 1,
      version: 'v1',
      listeners: [{ name: 'tcp', port: 0, matchPort: 5432, protocol: 'tcp', tcpDestinations: [{ cluster: 'db', weight: 100 }] }],
      clusters: [cluster('db', [db.port])],
    });
    const port = p.boundPort('tcp')!;
    expect(await talk(port, 'hello')).toBe('db:hello');
    expect(await talk(port, 'again')).toBe('db:again');
    // Istio's direction: received from the client (10 bytes), sent to it (the echo's 16); closes counted a tick after the reply.
    const count = (name: string) =>
      Number(
        new RegExp(
          `^${name}\\{reporter="source",[^}]*destination_service="db\\.default\\.svc\\.cluster\\.local"[^}]*request_protocol="tcp"[^}]*\\} (\\d+)$`,
          'm',
        ).exec(p.metrics.render())?.[1],
      );
    await until('both connections closed', () => count('istio_tcp_connections_closed_total') === 2);
    expect(count('istio_tcp_connections_opened_total')).toBe(2);
    expect(count('istio_tcp_received_bytes_total')).toBe(10);
    expect(count('istio_tcp_sent_bytes_total')).toBe(16);
    db.close();
  });

  test('an inbound connection that is not HTTP goes to the app as TCP; HTTP still takes the HTTP path', async () => {
    const app = await echo('app');
    const web = await backend('web');
    const inbound = (appPort: number) => ({
      schema: 1 as const,
      version: 'v1',
      listeners: [
        {
          name: 'virtualInbound',
          trafficDirection: 'INBOUND' as const,
          port: 0,
          matchPort: appPort,
          protocol: 'http' as const,
          virtualHosts: [
            {
              name: 'in',
              domains: ['*'],
              routes: [
                { name: 'default', matches: [], action: { kind: 'forward' as const, destinations: [{ cluster: 'inbound', weight: 100 }] } },
              ],
            },
          ],
        },
      ],
      clusters: [{ ...cluster('inbound', [appPort]), host: '127.0.0.1' }],
    });
    const tcp = await start(inbound(app.port));
    expect(await talk(tcp.boundPort('virtualInbound')!, '\x00binary')).toBe('app:\x00binary');
    const http = await start(inbound(web.port));
    expect(await get(http.boundPort('virtualInbound')!, '/x')).toMatchObject({ status: 200, body: 'web /x' });
    app.close();
    await web.close();
  });
});
