/** Non-HTTP traffic: TCP listeners joined byte for byte to an endpoint, and non-HTTP inbound connections passed through. */
import * as net from 'node:net';
import { loadYaml } from '../../api';
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';
import { Proxy } from '../../runtime/proxy/runtime';
import type { ProxyConfig } from '../../runtime/shared/proxy-config';
import { backend, cluster, get } from './support';

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

const proxies: Proxy[] = [];
afterAll(() => Promise.all(proxies.map((p) => p.drain(50))));
async function start(cfg: ProxyConfig): Promise<Proxy> {
  const p = new Proxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' });
  const r = await p.apply(cfg);
  if (!r.ok) throw new Error(r.error);
  proxies.push(p);
  return p;
}

describe('TCP proxying', () => {
  test('a TCP listener sends each connection to one weighted destination and counts bytes', async () => {
    const db = await echo('db');
    const p = await start({ schema: 1, version: 'v1', listeners: [{ name: 'tcp', port: 0, matchPort: 5432, protocol: 'tcp', tcpDestinations: [{ cluster: 'db', weight: 100 }] }], clusters: [cluster('db', [db.port])] });
    const port = p.boundPort('tcp')!;
    expect(await talk(port, 'hello')).toBe('db:hello');
    expect(await talk(port, 'again')).toBe('db:again');
    await new Promise((r) => setTimeout(r, 50));
    const stats = p.metrics.render();
    expect(stats).toContain('istio_tcp_connections_opened_total{reporter="source",destination_service="db.default.svc.cluster.local"} 2');
    expect(stats).toContain('istio_tcp_sent_bytes_total{reporter="source",destination_service="db.default.svc.cluster.local"} 10');
    db.close();
  });

  test('an inbound connection that is not HTTP goes to the app as TCP; HTTP still takes the HTTP path', async () => {
    const app = await echo('app');
    const web = await backend('web');
    const inbound = (appPort: number) => ({ schema: 1 as const, version: 'v1', listeners: [{ name: 'virtualInbound', port: 0, matchPort: appPort, protocol: 'http' as const, virtualHosts: [{ name: 'in', domains: ['*'], routes: [{ name: 'default', matches: [], action: { kind: 'forward' as const, destinations: [{ cluster: 'inbound', weight: 100 }] } }] }] }], clusters: [{ ...cluster('inbound', [appPort]), host: '127.0.0.1' }] });
    const tcp = await start(inbound(app.port));
    expect(await talk(tcp.boundPort('virtualInbound')!, '\x00binary')).toBe('app:\x00binary');
    const http = await start(inbound(web.port));
    expect(await get(http.boundPort('virtualInbound')!, '/x')).toMatchObject({ status: 200, body: 'web /x' });
    app.close();
    await web.close();
  });
});

describe('TCP in the compiled config', () => {
  const mesh = (extra = '') =>
    buildIndex(makeSnapshot(
      loadYaml(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 31400, name: tcp, protocol: TCP }, hosts: ["*"] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: db, namespace: default }
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp: [{ match: [{ port: 31400 }], route: [{ destination: { host: db.default.svc.cluster.local, port: { number: 5432 } } }] }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: default }
spec: { hosts: [db.default.svc.cluster.local], ports: [{ number: 5432, name: tcp-pg, protocol: TCP }], resolution: STATIC, endpoints: [{ address: 10.0.0.9 }] }
${extra}`).objects,
      'v1',
    ));

  test('a Gateway TCP server takes the VirtualService tcp route', () => {
    const cfg = compile(mesh(), { mode: 'gateway', namespace: 'mast-system', labels: { istio: 'ingressgateway' } });
    expect(cfg.listeners).toEqual([expect.objectContaining({ matchPort: 31400, protocol: 'tcp', tcpDestinations: [{ cluster: 'outbound|5432||db.default.svc.cluster.local', weight: 100 }] })]);
    expect(cfg.clusters.map((c) => c.endpoints)).toEqual([[{ address: '10.0.0.9', port: 5432, labels: {} }]]);
  });

  test('a sidecar proxies a TCP service port as TCP; two TCP services on one port cannot be told apart and are left alone', () => {
    const sidecar = { mode: 'sidecar' as const, namespace: 'default', labels: {} };
    expect(compile(mesh(), sidecar).listeners).toContainEqual(expect.objectContaining({ name: 'outbound_5432_tcp', protocol: 'tcp', port: 15001, tcpDestinations: [{ cluster: 'outbound|5432||db.default.svc.cluster.local', weight: 100 }] }));
    const twice = mesh(`---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db2, namespace: default }
spec: { hosts: [db2.default.svc.cluster.local], ports: [{ number: 5432, name: tcp-pg, protocol: TCP }], resolution: STATIC, endpoints: [{ address: 10.0.0.10 }] }
`);
    expect(compile(twice, sidecar).listeners.filter((l) => l.matchPort === 5432)).toEqual([]);
  });
});
