/**
 * What each sidecar gets when routes are for some clients only (`sourceLabels` /
 * `sourceNamespace`: compiled into those clients' proxies), and which sidecars share a config.
 */
import type { KubeObject } from '../../api';
import { CompileCache, buildIndex, compile, configFor, equivalenceKey, makeSnapshot } from '../../runtime/compile';
import type { ProxyIdentity } from '../../runtime/contract/push-protocol';
import { simulate } from '../../runtime/proxy/simulate';
import { localMesh } from '../fixtures/local-mesh';

const REVIEWS = 'reviews.default.svc.cluster.local';
const routes: KubeObject = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews-by-client', namespace: 'default' },
  spec: {
    hosts: ['reviews'],
    http: [
      {
        name: 'from-productpage',
        match: [{ sourceLabels: { app: 'productpage' } }],
        route: [{ destination: { host: 'reviews', subset: 'v2' } }],
      },
      { name: 'from-shop', match: [{ sourceNamespace: 'shop' }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
      { name: 'everyone', route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
    ],
  },
} as KubeObject;
const index = buildIndex(makeSnapshot([...localMesh({ reviewsV1: 19001, reviewsV2: 19002, details: 19003 }), routes], 'v1'));
const sidecar = (labels: Record<string, string>, namespace = 'default'): ProxyIdentity => ({ mode: 'sidecar', namespace, labels });
const call = (proxy: ProxyIdentity) => simulate(compile(index, proxy), { port: 9080, host: REVIEWS, path: '/' }, 0);

test('the route for productpage is in productpage’s sidecar only', () => {
  expect(call(sidecar({ app: 'productpage', version: 'v1' }))).toMatchObject({
    route: 'from-productpage',
    cluster: `outbound|9080|v2|${REVIEWS}`,
  });
  expect(call(sidecar({ app: 'ratings' }))).toMatchObject({ route: 'everyone', cluster: `outbound|9080|v1|${REVIEWS}` });
});

test('the route for namespace shop is in the sidecars of shop only', () => {
  expect(call(sidecar({ app: 'cart' }, 'shop'))).toMatchObject({ route: 'from-shop' });
  expect(call(sidecar({ app: 'cart' }, 'default'))).toMatchObject({ route: 'everyone' });
});

test('sidecars that such a route tells apart do not share a config; without one, a namespace’s sidecars do', () => {
  expect(equivalenceKey(index, sidecar({ app: 'productpage' }))).not.toBe(equivalenceKey(index, sidecar({ app: 'ratings' })));
  const plain = buildIndex(makeSnapshot(localMesh({ reviewsV1: 19001, reviewsV2: 19002, details: 19003 }), 'v1'));
  expect(equivalenceKey(plain, sidecar({ app: 'productpage' }))).toBe(equivalenceKey(plain, sidecar({ app: 'ratings' })));
});

test('proxies whose inbound ports, port map or gateway topology differ do not share a config (the key keeps nested fields)', () => {
  const plain = buildIndex(makeSnapshot(localMesh({ reviewsV1: 19001, reviewsV2: 19002, details: 19003 }), 'v1'));
  const cache = new CompileCache(plain);
  const a: ProxyIdentity = { ...sidecar({ app: 'productpage' }), inbound: { port: 31001, appPort: 19001 } };
  const b: ProxyIdentity = { ...sidecar({ app: 'details' }), inbound: { port: 31002, appPort: 19003 } };
  expect(configFor(cache, b).listeners.at(-1)).toMatchObject({ name: 'virtualInbound', port: 31002, matchPort: 19003 });
  expect(configFor(cache, a).listeners.at(-1)).toMatchObject({ name: 'virtualInbound', port: 31001, matchPort: 19001 });
  const gateway = { mode: 'gateway' as const, namespace: 'mast-system', labels: { istio: 'ingressgateway' } };
  expect(equivalenceKey(plain, { ...gateway, portMap: { 80: 8080 } })).not.toBe(
    equivalenceKey(plain, { ...gateway, portMap: { 80: 8081 } }),
  );
  expect(equivalenceKey(plain, { ...gateway, gatewayTopology: { forwardClientCertDetails: 'SANITIZE' } })).not.toBe(
    equivalenceKey(plain, gateway),
  );
  // Key order is not identity: the same proxy written in another order shares.
  expect(equivalenceKey(plain, { ...a, inbound: { appPort: 19001, port: 31001 } })).toBe(equivalenceKey(plain, a));
});
