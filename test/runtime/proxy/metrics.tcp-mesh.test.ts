/**
 * Istio's TCP metrics across two sidecars over mTLS: the client's sidecar reports the connection it
 * opened (reporter="source"), the server's the one it accepted (reporter="destination", the client
 * named by its certificate), bytes counted in Istio's direction (sent: to the downstream client).
 */
import * as net from 'node:net';
import { loadYaml } from '../../../api';
import { buildIndex, compile, makeSnapshot, type ProxyIdentity } from '../../../runtime/compile';
import { freePort } from '../../../runtime/local/local-mesh';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { meshCa, workload } from '../../security/pki';
import { meshYaml, serviceEntryDoc, workloadEntryDoc } from '../../support/mesh-yaml';
import { until } from '../../support/proxy';

const mesh = (dbInbound: number) =>
  meshYaml(
    serviceEntryDoc({ name: 'db', port: 5432, protocol: 'TCP' }),
    workloadEntryDoc({ app: 'db', version: 'v1', port: dbInbound, portName: 'tcp', serviceAccount: 'db', mtls: true }),
    workloadEntryDoc({ app: 'web', version: 'v1', port: 1, portName: 'tcp', serviceAccount: 'web' }),
  );

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** One TCP series per family, as label maps with their value. */
function tcpSeries(text: string, family: string): Array<Record<string, string>> {
  return [...text.matchAll(new RegExp(`^${family}\\{(.*)\\} (\\d+)$`, 'gm'))].map(([, labels, value]) => ({
    ...Object.fromEntries([...labels.matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]])),
    value,
  }));
}

test('both reporters count the connection and its bytes, naming both workloads', async () => {
  const echo = net.createServer((s) => s.on('data', (d) => s.write(`db:${d}`)));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => echo.close(r)));
  const ca = await meshCa();
  const dbInbound = await freePort();
  const index = buildIndex(makeSnapshot(loadYaml(mesh(dbInbound)).objects, 'v1'));
  const start = async (identity: ProxyIdentity & { serviceAccount: string }) => {
    const proxy = new MeshProxy({
      mode: 'sidecar',
      workload: identity.labels.app,
      namespace: 'default',
      labels: identity.labels,
      serviceAccount: identity.serviceAccount,
    });
    cleanups.push(() => proxy.drain(50));
    proxy.setCertificate(await workload(ca, 'default', identity.serviceAccount));
    const result = await proxy.apply(compile(index, identity));
    if (!result.ok) throw new Error(result.error);
    return proxy;
  };
  const appPort = (echo.address() as net.AddressInfo).port;
  const db = await start({
    mode: 'sidecar',
    namespace: 'default',
    labels: { app: 'db', version: 'v1' },
    serviceAccount: 'db',
    inbound: { port: dbInbound, appPort },
  });
  const web = await start({
    mode: 'sidecar',
    namespace: 'default',
    labels: { app: 'web', version: 'v1' },
    serviceAccount: 'web',
    outboundPort: 0,
  });
  const outbound = web.config!.listeners.find((l) => l.trafficDirection === 'OUTBOUND' && l.protocol === 'tcp')!;
  const reply = await new Promise<string>((resolve, reject) => {
    const s = net.connect(web.boundPort(outbound.name)!, '127.0.0.1', () => s.write('hello'));
    s.once('data', (d) => (resolve(String(d)), s.end()));
    s.on('error', reject);
  });
  expect(reply).toBe('db:hello');
  await until('both sides closed the connection', () =>
    [web, db].every((p) => tcpSeries(p.renderMetrics(), 'istio_tcp_connections_closed_total')[0]?.value === '1'),
  );
  const common = {
    source_workload: 'web-v1',
    source_app: 'web',
    source_principal: 'spiffe://cluster.local/ns/default/sa/web',
    destination_workload: 'db-v1',
    destination_app: 'db',
    destination_version: 'v1',
    destination_principal: 'spiffe://cluster.local/ns/default/sa/db',
    destination_service: 'db.default.svc.cluster.local',
    destination_service_name: 'db',
    request_protocol: 'tcp',
  };
  expect(tcpSeries(web.renderMetrics(), 'istio_tcp_connections_opened_total')).toEqual([
    expect.objectContaining({ reporter: 'source', ...common, connection_security_policy: 'unknown', value: '1' }),
  ]);
  expect(tcpSeries(db.renderMetrics(), 'istio_tcp_connections_opened_total')).toEqual([
    expect.objectContaining({ reporter: 'destination', ...common, connection_security_policy: 'mutual_tls', value: '1' }),
  ]);
  // Istio's direction: received from the downstream client, sent to it.
  for (const p of [web, db]) {
    expect(tcpSeries(p.renderMetrics(), 'istio_tcp_received_bytes_total')[0].value).toBe('5');
    expect(tcpSeries(p.renderMetrics(), 'istio_tcp_sent_bytes_total')[0].value).toBe('8');
  }
});
