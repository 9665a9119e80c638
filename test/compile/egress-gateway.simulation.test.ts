/**
 * The egress gateway's flows as Istio's egress tasks configure them, compiled: a sidecar's request
 * for the external host goes to the egress gateway's subset (a subset without labels: every
 * endpoint of the gateway's Service), over ISTIO_MUTUAL with the DestinationRule's SNI; the egress
 * gateway serves that port as an ISTIO_MUTUAL server chosen by the SNI, and routes the request to
 * the external host, originating TLS where the host's DestinationRule says SIMPLE.
 */
import { compileMesh, runSimulations, sidecar, staticService } from './simulation';
import type { ProxyIdentity } from '../../runtime/contract/push-protocol';

const EGRESS_HOST = 'istio-egressgateway.mast-system.svc.cluster.local';
const EGRESS_GATEWAY: ProxyIdentity = {
  mode: 'gateway',
  namespace: 'mast-system',
  labels: { istio: 'egressgateway', app: 'istio-egressgateway' },
};

// The egress gateway's pod, as the EgressGateway construct makes it (Gateways selecting none would be MAST0212).
const MESH = `${staticService('istio-egressgateway', 'mast-system', 80, 'HTTP', ['10.9.0.1', '10.9.0.2'])}
---
apiVersion: v1
kind: Pod
metadata: { name: istio-egressgateway-1, namespace: mast-system, labels: { istio: egressgateway, app: istio-egressgateway } }
spec: { serviceAccountName: istio-egressgateway }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: cnn, namespace: default }
spec:
  hosts: [edition.cnn.com]
  ports: [{ number: 80, name: http, protocol: HTTP }, { number: 443, name: https, protocol: HTTPS }]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway, namespace: default }
spec:
  selector: { istio: egressgateway }
  servers: [{ port: { number: 80, name: https-port-for-tls-origination, protocol: HTTPS }, hosts: [edition.cnn.com], tls: { mode: ISTIO_MUTUAL } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: egressgateway-for-cnn, namespace: default }
spec:
  host: ${EGRESS_HOST}
  subsets:
  - name: cnn
    trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, tls: { mode: ISTIO_MUTUAL, sni: edition.cnn.com } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: direct-cnn-through-egress-gateway, namespace: default }
spec:
  hosts: [edition.cnn.com]
  gateways: [istio-egressgateway, mesh]
  http:
  - match: [{ gateways: [mesh], port: 80 }]
    route: [{ destination: { host: ${EGRESS_HOST}, subset: cnn, port: { number: 80 } } }]
  - match: [{ gateways: [istio-egressgateway], port: 80 }]
    route: [{ destination: { host: edition.cnn.com, port: { number: 443 } } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: originate-tls-for-edition-cnn-com, namespace: default }
spec:
  host: edition.cnn.com
  trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls: { mode: SIMPLE } }] }
`;

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
