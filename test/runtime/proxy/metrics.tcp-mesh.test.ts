/**
 * Istio's TCP metrics across two sidecars over mTLS: the client's sidecar reports the connection it
 * opened (reporter="source"), the server's the one it accepted (reporter="destination", the client
 * named by its certificate), bytes counted in Istio's direction (sent: to the downstream client);
 * a Telemetry's overrides shape them (metric-overrides.ts).
 */
import * as net from 'node:net';
import { loadYaml } from '../../../api';
import { buildIndex, makeSnapshot } from '../../../runtime/compile';
import { freePort } from '../../../runtime/local/local-mesh';
import { meshCa } from '../../security/pki';
import { meshYaml, serviceEntryDoc, workloadEntryDoc } from '../../support/mesh-yaml';
import { meshSidecar } from '../../support/mesh-sidecar';
import { until } from '../../support/proxy';

const mesh = (dbInbound: number, ...extra: string[]) =>
  meshYaml(
    serviceEntryDoc({ name: 'db', port: 5432, protocol: 'TCP' }),
    workloadEntryDoc({ app: 'db', version: 'v1', port: dbInbound, portName: 'tcp', serviceAccount: 'db', mtls: true }),
    workloadEntryDoc({ app: 'web', version: 'v1', port: 1, portName: 'tcp', serviceAccount: 'web' }),
    ...extra,
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

/** web's sidecar → (mTLS) → db's sidecar → an echo server, the mesh with `extra` documents; one connection sent `hello` and closed. */
async function oneConnection(...extra: string[]) {
  const echo = net.createServer((s) => s.on('data', (d) => s.write(`db:${d}`)));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => echo.close(r)));
  const ca = await meshCa();
  const dbInbound = await freePort();
  const index = buildIndex(makeSnapshot(loadYaml(mesh(dbInbound, ...extra)).objects, 'v1'));
  const start = async (identity: Parameters<typeof meshSidecar>[2]) => {
    const { proxy } = await meshSidecar(ca, index, identity);
    cleanups.push(() => proxy.drain(50));
    return proxy;
  };
  const db = await start({
    mode: 'sidecar',
    namespace: 'default',
    labels: { app: 'db', version: 'v1' },
    serviceAccount: 'db',
    inbound: { port: dbInbound, appPort: (echo.address() as net.AddressInfo).port },
    outboundPort: 0,
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
  return { web, db };
}

test('both reporters count the connection and its bytes, naming both workloads', async () => {
  const { web, db } = await oneConnection();
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

test("a Telemetry's overrides shape the TCP series: a label from the upstream peer on one family, a family disabled", async () => {
  const { web } = await oneConnection(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: tcp, namespace: istio-system }
spec:
  metrics:
  - overrides:
    - match: { metric: TCP_OPENED_CONNECTIONS }
      disabled: true
    - match: { metric: TCP_SENT_BYTES, mode: CLIENT }
      tagOverrides:
        destination_x: { value: "upstream_peer.labels['app'].value" }`);
  const text = web.renderMetrics();
  expect(tcpSeries(text, 'istio_tcp_sent_bytes_total')).toEqual([expect.objectContaining({ destination_x: 'db', value: '8' })]);
  expect(tcpSeries(text, 'istio_tcp_received_bytes_total')[0]).not.toHaveProperty('destination_x');
  expect(tcpSeries(text, 'istio_tcp_connections_opened_total')).toEqual([]);
});
