/**
 * Istio's task traffic-management/egress/egress-gateway-tls-origination ("Egress Gateways with TLS
 * Origination"), its first section, on `mast local`'s bookinfo: sleep (productpage's sidecar here,
 * as in egress-gateway.test.ts) sends plain HTTP to edition.cnn.com; its sidecar sends it to the
 * egress gateway over ISTIO_MUTUAL (the DestinationRule's subset, with the SNI the Gateway's
 * ISTIO_MUTUAL server is chosen by), and the egress gateway originates TLS to edition.cnn.com:443
 * (the DestinationRule `tls.mode: SIMPLE` on the external host). edition.cnn.com is a server of the
 * test on 127.0.0.3 whose certificate a CA of the test signed: the DestinationRule names that CA
 * (`caCertificates`), where the task's host has a publicly trusted certificate. The documented
 * outcome: 301 before, 200 after (no redirect: the request reached the host over TLS), and the
 * request in the egress gateway's log, sent to port 443. Not here: the mutual TLS origination
 * section (its client certificate from a `credentialName` Secret at the egress gateway).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../../support/poll';
import { fromWorkload, startExample, type Running } from '../support';
import { certificates, startExternalHost, type ExternalHost } from './external-host';

const EGRESS = 'istio-egressgateway.mast-system.svc.cluster.local';
let cnn: ExternalHost;
let mesh: Running;
let certs: string;
let ca: string;

beforeAll(async () => {
  certs = mkdtempSync(join(tmpdir(), 'mast-egress-tls-'));
  const files = certificates(certs, ['edition.cnn.com']);
  ca = files.ca;
  cnn = await startExternalHost('127.0.0.3', files);
  mesh = await startExample({ accessLog: true });
}, 90_000);
afterAll(async () => {
  await mesh?.stop();
  await cnn?.close();
  rmSync(certs, { recursive: true, force: true });
});

/** `curl -sSL -o /dev/null -D - http://edition.cnn.com/politics` from sleep, without following a redirect. */
const curlCnn = () => fromWorkload(mesh.mesh, 'productpage-v1', 'http://edition.cnn.com/politics');
const egressLog = () =>
  mesh.logs.filter((l) => l.startsWith('[egress gateway] {')).map((l) => JSON.parse(l.slice('[egress gateway] '.length)));

const SERVICE_ENTRY = () => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: cnn, namespace: default }
spec:
  hosts: [edition.cnn.com]
  ports:
  - { number: 80, name: http, protocol: HTTP }
  - { number: 443, name: https, protocol: HTTPS }
  resolution: DNS
  # The test's edition.cnn.com, where the task resolves the name by DNS.
  endpoints: [{ address: ${cnn.address}, ports: { http: ${cnn.httpPort}, https: ${cnn.httpsPort} } }]
`;

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway, namespace: default }
spec:
  selector: { istio: egressgateway }
  servers:
  - port: { number: 80, name: https-port-for-tls-origination, protocol: HTTPS }
    hosts: [edition.cnn.com]
    tls: { mode: ISTIO_MUTUAL }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: egressgateway-for-cnn, namespace: default }
spec:
  host: ${EGRESS}
  subsets:
  - name: cnn
    trafficPolicy:
      loadBalancer: { simple: ROUND_ROBIN }
      portLevelSettings:
      - port: { number: 80 }
        tls: { mode: ISTIO_MUTUAL, sni: edition.cnn.com }
`;

const ROUTES = () => `apiVersion: networking.istio.io/v1
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
    - destination: { host: edition.cnn.com, port: { number: 443 } }
      weight: 100
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: originate-tls-for-edition-cnn-com, namespace: default }
spec:
  host: edition.cnn.com
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    portLevelSettings:
    - port: { number: 443 }
      # The test's CA: the task's host has a publicly trusted certificate.
      tls: { mode: SIMPLE, caCertificates: ${ca} }
`;

describe('egress-gateway-tls-origination: TLS origination at the egress gateway', () => {
  test('a ServiceEntry for edition.cnn.com: plain HTTP reaches it, 301 Moved Permanently to https', async () => {
    await mesh.edit('mesh/cnn.yaml', SERVICE_ENTRY);
    expect((await curlCnn()).status).toBe(301);
  });

  test('the ISTIO_MUTUAL egress Gateway and its DestinationRule, the VirtualService and the SIMPLE origination: 200, edition.cnn.com asked over TLS', async () => {
    await mesh.edit('mesh/egress.yaml', () => `${GATEWAY}---\n${ROUTES()}`);
    const before = cnn.hits.length;
    const reply = await curlCnn();
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('<title>edition.cnn.com</title>');
    // The egress gateway opened TLS to it, naming edition.cnn.com (its certificate checked against the CA).
    expect(cnn.hits.slice(before)).toEqual([
      { method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: true, serverName: 'edition.cnn.com' },
    ]);
    await until('the egress gateway to log the request', () => egressLog().length > 0, 5000);
    expect(egressLog()).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: '/politics',
        response_code: 200,
        authority: 'edition.cnn.com',
        upstream_cluster: 'outbound|443||edition.cnn.com',
        upstream_host: `${cnn.address}:${cnn.httpsPort}`,
      }),
    ]);
  });

  test("the egress gateway's port 80 takes mesh mTLS only: a plain-text client is closed unanswered", async () => {
    const port = mesh.mesh.egress.ports[80];
    const answer = await new Promise<string>((resolve) => {
      let got = '';
      const s = net.connect(port, '127.0.0.1', () => s.write('GET /politics HTTP/1.1\r\nhost: edition.cnn.com\r\n\r\n'));
      s.setEncoding('utf8');
      s.on('data', (d) => (got += d));
      s.on('close', () => resolve(got));
      s.on('error', () => undefined);
      s.setTimeout(5000, () => s.destroy());
    });
    expect(answer).toBe('');
  });

  test('cleanup: without the egress Gateway, routes and DestinationRules, edition.cnn.com answers 301 again, directly', async () => {
    await mesh.edit('mesh/egress.yaml', () => '# deleted\n');
    const logged = egressLog().length;
    expect((await curlCnn()).status).toBe(301);
    expect(egressLog().length).toBe(logged);
  });
});
