/**
 * A Sidecar's `ingress` listeners as a sidecar's inbound listeners (Istio's inbound chains from
 * Sidecar.ingress): one per listener port the proxy listens on (mast local), to its
 * defaultEndpoint, with PeerAuthentication's mode on that port; its `tls` only where that mode is
 * DISABLE, as istiod applies it.
 */
import { loadYaml } from '../../api';
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';
import { defaultEndpointOf } from '../../runtime/compile/sidecar-ingress';
import type { ProxyIdentity } from '../../runtime/contract/push-protocol';

const APP = 19080;

const mesh = (portLevel: string, extra = '') =>
  loadYaml(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: test }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: httpbin, namespace: test }
spec:
  selector: { matchLabels: { app: httpbin } }
  mtls: { mode: STRICT }
${portLevel}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ingress-sidecar, namespace: test }
spec:
  workloadSelector: { labels: { app: httpbin } }
  ingress:
  - port: { number: 9080, protocol: HTTPS, name: external }
    defaultEndpoint: 0.0.0.0:${APP}
    tls: { mode: MUTUAL, serverCertificate: /certs/tls.crt, privateKey: /certs/tls.key, caCertificates: /certs/ca.crt }
  - port: { number: 9081, protocol: HTTP, name: internal }
    defaultEndpoint: 127.0.0.1:${APP}
  - port: { number: 9082, protocol: GRPC, name: grpc }
${extra}`).objects;

const httpbin = (ingressPorts?: Record<number, number>): ProxyIdentity => ({
  mode: 'sidecar',
  namespace: 'test',
  labels: { app: 'httpbin' },
  inbound: { port: 31000, appPort: APP, ...(ingressPorts ? { ingressPorts } : {}) },
});

const configOf = (portLevel: string, proxy: ProxyIdentity) => compile(buildIndex(makeSnapshot(mesh(portLevel), 'v1')), proxy);
const DISABLE_9080 = '  portLevelMtls: { 9080: { mode: DISABLE } }';

test('each ingress listener the proxy listens for: a listener on its port, matched as the pod port, to its defaultEndpoint', () => {
  const config = configOf(DISABLE_9080, httpbin({ 9080: 32080, 9081: 32081, 9082: 32082 }));
  const ingress = config.listeners.filter((l) => l.name.startsWith('inbound_'));
  expect(ingress.map((l) => [l.name, l.port, l.matchPort, l.trafficDirection, l.mtls])).toEqual([
    ['inbound_9080', 32080, 9080, 'INBOUND', 'DISABLE'],
    ['inbound_9081', 32081, 9081, 'INBOUND', 'STRICT'],
    ['inbound_9082', 32082, 9082, 'INBOUND', 'STRICT'],
  ]);
  const cluster = (name: string) => config.clusters.find((c) => c.name === name);
  expect(cluster('inbound|9080|external|')).toMatchObject({ endpoints: [{ address: '127.0.0.1', port: APP }] });
  expect(cluster('inbound|9081|internal|')).toMatchObject({ endpoints: [{ address: '127.0.0.1', port: APP }] });
  // No defaultEndpoint: the app's port; a gRPC port speaks HTTP/2 to the app.
  expect(cluster('inbound|9082|grpc|')).toMatchObject({ endpoints: [{ address: '127.0.0.1', port: APP }], upstreamProtocol: 'h2' });
  expect(ingress[0].virtualHosts?.[0].routes[0].action).toEqual({
    kind: 'forward',
    destinations: [{ cluster: 'inbound|9080|external|', weight: 100 }],
  });
  // The workload's own inbound listener stays.
  expect(config.listeners.find((l) => l.name === 'virtualInbound')).toMatchObject({ port: 31000, matchPort: APP });
});

test('tls with mTLS DISABLE on the port: terminated with the files named (MUTUAL: the client CAs too)', () => {
  const config = configOf(DISABLE_9080, httpbin({ 9080: 32080, 9081: 32081 }));
  expect(config.listeners.find((l) => l.name === 'inbound_9080')?.tls).toEqual({
    mode: 'MUTUAL',
    certificateFile: '/certs/tls.crt',
    keyFile: '/certs/tls.key',
    caFile: '/certs/ca.crt',
  });
  expect(config.listeners.find((l) => l.name === 'inbound_9081')?.tls).toBeUndefined();
});

test('tls where the port is not DISABLE: not applied (mesh mTLS owns the port), as istiod builds it', () => {
  const config = configOf('', httpbin({ 9080: 32080 }));
  const listener = config.listeners.find((l) => l.name === 'inbound_9080');
  expect(listener).toMatchObject({ mtls: 'STRICT' });
  expect(listener).not.toHaveProperty('tls');
});

test('in a pod (no app port): the listeners on its inbound port, each matched by the port a connection was sent to; without defaultEndpoint, to that port', () => {
  const pod: ProxyIdentity = { mode: 'sidecar', namespace: 'test', labels: { app: 'httpbin' }, inbound: { port: 15006 } };
  const config = configOf(DISABLE_9080, pod);
  const inbound = config.listeners.filter((l) => l.trafficDirection === 'INBOUND');
  expect(inbound.map((l) => [l.name, l.port, l.matchPort, l.mtls, l.tls?.mode])).toEqual([
    ['virtualInbound', 15006, 0, 'STRICT', undefined],
    ['inbound_9080', 15006, 9080, 'DISABLE', 'MUTUAL'],
    ['inbound_9081', 15006, 9081, 'STRICT', undefined],
    ['inbound_9082', 15006, 9082, 'STRICT', undefined],
  ]);
  expect(config.clusters.find((c) => c.name === 'inbound|9082|grpc|')).toMatchObject({ endpoints: [], lb: { kind: 'passthrough' } });
});

test('mast local without ports for the listeners (its Sidecar changed since it started): none of them', () => {
  const config = configOf(DISABLE_9080, httpbin());
  expect(config.listeners.filter((l) => l.name.startsWith('inbound_'))).toEqual([]);
  expect(config.clusters.filter((c) => /^inbound\|908/.test(c.name))).toEqual([]);
});

test.each([
  ['127.0.0.1:8080', { address: '127.0.0.1', port: 8080 }],
  ['0.0.0.0:8080', { address: '127.0.0.1', port: 8080 }],
  ['[::1]:8080', { address: '::1', port: 8080 }],
  ['[::]:8080', { address: '::1', port: 8080 }],
  [undefined, { address: '127.0.0.1', port: APP }],
  ['', { address: '127.0.0.1', port: APP }],
  ['unix:///var/run/app.sock', undefined],
])('defaultEndpoint %s goes to %j', (defaultEndpoint, expected) => {
  expect(defaultEndpointOf({ port: { number: 9080 }, ...(defaultEndpoint ? { defaultEndpoint } : {}) }, APP)).toEqual(expected);
});

test("a client's endpoints on the listeners (mast local's ports for them): tlsMode disabled where the listener's port is DISABLE, so clients send plain text", () => {
  const objects = loadYaml(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin, namespace: test }
spec:
  hosts: [httpbin.test.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector: { labels: { app: httpbin } }
  ports:
  - { number: 8443, name: https, protocol: HTTPS, targetPort: 9080 }
  - { number: 8080, name: http, protocol: HTTP, targetPort: 9081 }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: httpbin
  namespace: test
  annotations: { local.mast.dev/app-port: "${APP}", local.mast.dev/ingress-ports: "32080=9080,32081=9081" }
spec:
  address: 127.0.0.1
  ports: { app: 31000, https: 32080, http: 32081 }
  labels: { app: httpbin, security.istio.io/tlsMode: istio }
  serviceAccount: httpbin
`).objects;
  const config = compile(buildIndex(makeSnapshot([...mesh(DISABLE_9080), ...objects], 'v1')), {
    mode: 'sidecar',
    namespace: 'test',
    labels: { app: 'sleep' },
  });
  const tlsMode = (name: string) =>
    config.clusters.find((c) => c.name === name)?.endpoints.map((e) => [e.port, e.labels?.['security.istio.io/tlsMode']]);
  expect(tlsMode('outbound|8443||httpbin.test.svc.cluster.local')).toEqual([[32080, 'disabled']]);
  expect(tlsMode('outbound|8080||httpbin.test.svc.cluster.local')).toEqual([[32081, 'istio']]);
});
