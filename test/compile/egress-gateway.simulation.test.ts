/**
 * The egress gateway's flows as Istio's egress tasks configure them, compiled: a sidecar's request
 * for the external host goes to the egress gateway's subset (a subset without labels: every
 * endpoint of the gateway's Service), over ISTIO_MUTUAL with the DestinationRule's SNI; the egress
 * gateway serves that port as an ISTIO_MUTUAL server chosen by the SNI, and routes the request to
 * the external host, originating TLS where the host's DestinationRule says SIMPLE.
 */
import { compileMesh, runSimulations, sidecar, staticService } from './simulation';
import type { ProxyIdentity } from '../../runtime/contract/push-protocol';
import {
  cnnServiceEntry,
  EGRESS_HOST,
  httpsThroughEgressGateway,
  egressGateway,
  egressSubset,
  originateTls,
  throughEgressGateway,
} from '../e2e/istio-tasks/cnn-mesh';

const EGRESS_GATEWAY: ProxyIdentity = {
  mode: 'gateway',
  namespace: 'mast-system',
  labels: { istio: 'egressgateway', app: 'istio-egressgateway' },
};

/** The egress gateway's pod, as the EgressGateway construct makes it (Gateways selecting none would be MAST0212). */
const EGRESS_POD = `apiVersion: v1
kind: Pod
metadata: { name: istio-egressgateway-1, namespace: mast-system, labels: { istio: egressgateway, app: istio-egressgateway } }
spec: { serviceAccountName: istio-egressgateway }
`;

const MESH = `${staticService('istio-egressgateway', 'mast-system', 80, 'HTTP', ['10.9.0.1', '10.9.0.2'])}

---
${EGRESS_POD}---
${[cnnServiceEntry(), egressGateway('ISTIO_MUTUAL'), egressSubset(true), throughEgressGateway(443), originateTls()].join('---\n')}`;

const TO_EGRESS = `outbound|80|cnn|${EGRESS_HOST}`;
const TO_CNN_TLS = 'outbound|443||edition.cnn.com';

runSimulations([
  {
    name: 'sleep → egress gateway → edition.cnn.com',
    proxy: sidecar(),
    mesh: MESH,
    calls: [
      {
        name: "sleep's request for edition.cnn.com goes to the egress gateway's subset",
        request: { host: 'edition.cnn.com', path: '/politics' },
        expect: { outcome: 'routed', cluster: TO_EGRESS },
      },
    ],
  },
  {
    name: "the egress gateway's ISTIO_MUTUAL server on port 80",
    proxy: EGRESS_GATEWAY,
    mesh: MESH,
    calls: [
      {
        name: 'chosen by the SNI edition.cnn.com, routed to edition.cnn.com:443',
        request: { sni: 'edition.cnn.com', host: 'edition.cnn.com', path: '/politics', scheme: 'https' },
        expect: {
          outcome: 'routed',
          server: 'https.80.https-port-for-tls-origination.istio-egressgateway.default',
          tls: { mode: 'ISTIO_MUTUAL' },
          cluster: TO_CNN_TLS,
        },
      },
      {
        name: 'no SNI: no server (closed)',
        request: { host: 'edition.cnn.com', path: '/politics' },
        expect: { outcome: 'no-server' },
      },
    ],
  },
]);

test("a subset without labels takes every endpoint of the egress gateway's Service; ISTIO_MUTUAL with the rule's SNI", () => {
  const cluster = compileMesh(MESH, sidecar()).clusters.find((c) => c.name === TO_EGRESS);
  expect(cluster?.endpoints.map((e) => e.address).sort()).toEqual(['10.9.0.1', '10.9.0.2']);
  expect(cluster).toMatchObject({ tls: 'ISTIO_MUTUAL', mtlsSni: 'edition.cnn.com' });
});

test('the egress gateway originates TLS to edition.cnn.com:443 (SIMPLE, SNI the host)', () => {
  const cluster = compileMesh(MESH, EGRESS_GATEWAY).clusters.find((c) => c.name === TO_CNN_TLS);
  expect(cluster?.originate).toEqual({ mode: 'SIMPLE', sni: 'edition.cnn.com' });
  expect(cluster?.endpoints).toEqual([expect.objectContaining({ address: 'edition.cnn.com', port: 443 })]);
});

test('a Gateway ISTIO_MUTUAL server is served with the workload certificate (no files), chosen by its hosts', () => {
  const listener = compileMesh(MESH, EGRESS_GATEWAY).listeners.find((l) => l.matchPort === 80);
  expect(listener?.tlsServers?.map((s) => [s.serverNames, s.tls])).toEqual([[['edition.cnn.com'], { mode: 'ISTIO_MUTUAL' }]]);
});

/** The HTTPS section: the egress gateway's Service with port 443, another TLS host on 443 beside edition.cnn.com. */
const HTTPS_MESH = `${staticService('istio-egressgateway', 'mast-system', 443, 'HTTPS', ['10.9.0.1'])}

---
${EGRESS_POD}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: other, namespace: default }
spec: { hosts: [api.example.org], ports: [{ number: 443, name: tls, protocol: TLS }], resolution: DNS }
---
${httpsThroughEgressGateway()}`;

runSimulations([
  {
    name: "sleep's TLS on 443, routed by its server name",
    proxy: sidecar(),
    port: 443,
    mesh: HTTPS_MESH,
    calls: [
      {
        name: 'edition.cnn.com: the mesh tls route, to the egress gateway',
        request: { sni: 'edition.cnn.com' },
        expect: { outcome: 'connection', cluster: `outbound|443|cnn|${EGRESS_HOST}` },
      },
      {
        name: 'api.example.org, another TLS host on the port: its own service',
        request: { sni: 'api.example.org' },
        expect: { outcome: 'connection', cluster: 'outbound|443||api.example.org' },
      },
    ],
  },
  {
    name: "the egress gateway's PASSTHROUGH server on 443",
    proxy: EGRESS_GATEWAY,
    port: 443,
    mesh: HTTPS_MESH,
    calls: [
      {
        name: 'edition.cnn.com: passed through to edition.cnn.com:443',
        request: { sni: 'edition.cnn.com' },
        expect: { outcome: 'connection', cluster: 'outbound|443||edition.cnn.com' },
      },
    ],
  },
]);

/** Istio's wildcard-egress-hosts task: `*.wikipedia.org` on 443 (HTTPS, no resolution), first alone, then through the egress gateway. */
const WIKIPEDIA = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: wikipedia, namespace: default }
spec: { hosts: ["*.wikipedia.org"], ports: [{ number: 443, name: https, protocol: HTTPS }] }
`;

runSimulations([
  {
    name: 'a wildcard ServiceEntry host on 443: each name goes where the app sent it',
    proxy: sidecar(),
    port: 443,
    mesh: WIKIPEDIA,
    calls: [
      { name: 'en.wikipedia.org: its original destination', request: { sni: 'en.wikipedia.org' }, expect: { outcome: 'passthrough' } },
      { name: 'de.wikipedia.org: the same', request: { sni: 'de.wikipedia.org' }, expect: { outcome: 'passthrough' } },
    ],
  },
]);

test('under REGISTRY_ONLY a name outside the wildcard meets the black hole; inside it, its original destination', () => {
  const mesh = `${WIKIPEDIA}---
apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data: { mesh: "outboundTrafficPolicy: { mode: REGISTRY_ONLY }" }
`;
  const listener = compileMesh(mesh, sidecar()).listeners.find((l) => l.matchPort === 443);
  expect(listener).toMatchObject({ blackHole: true, sniRoutes: [{ sniHosts: ['*.wikipedia.org'], destinations: [] }] });
});

test("the http-proxy task's ServiceEntry (resolution NONE, no endpoints): an original-destination cluster; with endpoints or DNS, none", () => {
  const proxy = (spec: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: proxy, namespace: default }
spec: { hosts: [my-company-proxy.com], addresses: [10.1.2.3/32], ports: [{ number: 3128, name: tcp, protocol: TCP }], location: MESH_EXTERNAL${spec} }
`;
  const cluster = (yaml: string) => compileMesh(yaml, sidecar()).clusters.find((c) => c.name === 'outbound|3128||my-company-proxy.com');
  expect(cluster(proxy(''))).toMatchObject({ lb: { kind: 'passthrough' }, originalDestination: true, endpoints: [] });
  expect(cluster(proxy(', endpoints: [{ address: 10.1.2.3 }]'))?.originalDestination).toBeUndefined();
  expect(cluster(proxy(', resolution: DNS'))?.originalDestination).toBeUndefined();
});
