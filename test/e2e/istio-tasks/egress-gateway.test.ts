/**
 * Istio's task traffic-management/egress/egress-gateway ("Egress Gateways"), its HTTP section, on
 * `mast local`'s bookinfo. The task's `sleep` pod is productpage's sidecar (fromWorkload: the
 * absolute URL to its outbound port, as curl through a captured pod). edition.cnn.com is a server
 * of the test on 127.0.0.2 (external-host.ts: like the real one, plain HTTP answers 301 to https),
 * reached through the ServiceEntry's endpoint where the task resolves the name by DNS. The egress
 * gateway is mast local's, started when the Gateway selecting `istio: egressgateway` appears; its
 * Service is `istio-egressgateway.mast-system.svc.cluster.local` (mast's namespace stands for
 * istio-system). The documented outcomes: the same 301 before and after the egress gateway is put
 * in the path, and the egress gateway's access log has the request (`outbound|80||edition.cnn.com`).
 * The HTTPS section (TLS from the app, PASSTHROUGH by SNI) is not here: see docs/istio-tasks.md.
 */
import { certificates, startExternalHost, type ExternalHost } from './external-host';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../../support/poll';
import { fromWorkload, startExample, type Running } from '../support';

const EGRESS = 'istio-egressgateway.mast-system.svc.cluster.local';
let cnn: ExternalHost;
let mesh: Running;
let certs: string;

beforeAll(async () => {
  certs = mkdtempSync(join(tmpdir(), 'mast-egress-'));
  cnn = await startExternalHost('127.0.0.2', certificates(certs, ['edition.cnn.com']));
  mesh = await startExample({ accessLog: true });
}, 90_000);
afterAll(async () => {
  await mesh?.stop();
  await cnn?.close();
  rmSync(certs, { recursive: true, force: true });
});

/** `curl -sSL -o /dev/null -D - http://edition.cnn.com/politics` from sleep, without following the redirect. */
const curlCnn = () => fromWorkload(mesh.mesh, 'productpage-v1', 'http://edition.cnn.com/politics');
/** A process's access log lines (JSON): the egress gateway's, as `kubectl logs -l istio=egressgateway`; sleep's sidecar's. */
const accessLog = (process: string) =>
  mesh.logs.filter((l) => l.startsWith(`[${process}] {`)).map((l) => JSON.parse(l.slice(process.length + 3)));
const egressLog = () => accessLog('egress gateway');
const sidecarLog = () => accessLog('sidecar productpage-v1.default');

const SERVICE_ENTRY = () => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: cnn, namespace: default }
spec:
  hosts: [edition.cnn.com]
  ports:
  - { number: 80, name: http-port, protocol: HTTP }
  - { number: 443, name: https, protocol: HTTPS }
  resolution: DNS
  # The test's edition.cnn.com, where the task resolves the name by DNS.
  endpoints: [{ address: ${cnn.address}, ports: { http-port: ${cnn.httpPort}, https: ${cnn.httpsPort} } }]
`;

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway, namespace: default }
spec:
  selector: { istio: egressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: [edition.cnn.com]
`;

const DESTINATION_RULE = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: egressgateway-for-cnn, namespace: default }
spec:
  host: ${EGRESS}
  subsets: [{ name: cnn }]
`;

const VIRTUAL_SERVICE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: direct-cnn-through-egress-gateway, namespace: default }
spec:
  hosts: [edition.cnn.com]
  gateways: [istio-egressgateway, mesh]
  http:
  - match: [{ gateways: [mesh], port: 80 }]
    route:
    - destination: { host: ${EGRESS}, subset: cnn, port: { number: 80 } }
      weight: 100
  - match: [{ gateways: [istio-egressgateway], port: 80 }]
    route:
    - destination: { host: edition.cnn.com, port: { number: 80 } }
      weight: 100
`;

describe('egress-gateway: HTTP traffic through the egress gateway', () => {
  test('a ServiceEntry for edition.cnn.com: the request reaches it directly (301 to https)', async () => {
    await mesh.edit('mesh/cnn.yaml', SERVICE_ENTRY);
    const before = cnn.hits.length;
    const reply = await curlCnn();
    expect(reply.status).toBe(301);
    expect(cnn.hits.slice(before)).toEqual([{ method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: false }]);
    // No egress gateway yet: nothing selects it.
    expect(mesh.mesh.egress.adminPort).toBe(0);
  });

  test('the egress Gateway, its DestinationRule and the two-route VirtualService: the same 301, and the egress gateway logged it', async () => {
    await mesh.edit('mesh/egress.yaml', () => `${GATEWAY}---\n${DESTINATION_RULE}---\n${VIRTUAL_SERVICE}`);
    expect(mesh.mesh.egress.ports[80]).toEqual(expect.any(Number));
    const before = cnn.hits.length;
    const sidecarBefore = sidecarLog().length;
    const reply = await curlCnn();
    expect(reply.status).toBe(301);
    expect(cnn.hits.slice(before)).toEqual([{ method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: false }]);
    // The task's log line: GET /politics, authority edition.cnn.com, to outbound|80||edition.cnn.com.
    await until('the access log lines', () => egressLog().length > 0 && sidecarLog().length > sidecarBefore, 5000);
    expect(egressLog()).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: '/politics',
        response_code: 301,
        authority: 'edition.cnn.com',
        upstream_cluster: 'outbound|80||edition.cnn.com',
        upstream_host: `${cnn.address}:${cnn.httpPort}`,
      }),
    ]);
    // And sleep's sidecar sent it to the egress gateway's subset, not to edition.cnn.com.
    expect(sidecarLog().slice(sidecarBefore)).toEqual([
      expect.objectContaining({ path: '/politics', upstream_cluster: `outbound|80|cnn|${EGRESS}` }),
    ]);
  });

  test('without the egress Gateway, the mesh route still goes to the egress gateway, which no longer serves port 80: 503, nothing reaches edition.cnn.com', async () => {
    await mesh.edit('mesh/egress.yaml', () => `${DESTINATION_RULE}---\n${VIRTUAL_SERVICE}`);
    const before = cnn.hits.length;
    expect((await curlCnn()).status).toBe(503);
    expect(cnn.hits.length).toBe(before);
  });

  test('cleanup: without the Gateway, DestinationRule and VirtualService the request goes directly again', async () => {
    await mesh.edit('mesh/egress.yaml', () => '# deleted\n');
    const logged = egressLog().length;
    expect((await curlCnn()).status).toBe(301);
    expect(egressLog().length).toBe(logged);
  });
});
