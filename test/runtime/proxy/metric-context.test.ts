/** Istio's labels of a series, both reporters: who the peer is (verified identity → pushed table), which service, mTLS or not. */
import type { ClusterConfig, ProxyConfig } from '../../../runtime/contract/proxy-config';
import { LabelContext } from '../../../runtime/proxy/metric-context';

const reviewsV1 = {
  workload: 'reviews-v1',
  namespace: 'default',
  app: 'reviews',
  version: 'v1',
  canonicalService: 'reviews',
  canonicalRevision: 'v1',
  identity: 'ns/default/sa/reviews',
};
const config: ProxyConfig = {
  schema: 1,
  version: 'v1',
  listeners: [],
  clusters: [],
  workloads: [
    reviewsV1,
    { ...reviewsV1, workload: 'ratings-v1', app: 'ratings', canonicalService: 'ratings', identity: 'ns/default/sa/ratings' },
  ],
  inboundServices: [
    { host: 'ratings.default.svc.cluster.local', name: 'ratings', namespace: 'default', selector: { app: 'ratings' } },
    {
      host: 'ratings-admin.default.svc.cluster.local',
      name: 'ratings-admin',
      namespace: 'default',
      selector: { app: 'ratings', admin: 'y' },
    },
    { host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default', selector: { app: 'reviews' } },
  ],
};
const ratingsContext = () =>
  new LabelContext(
    { mode: 'sidecar', workload: 'ratings', namespace: 'default', labels: { app: 'ratings', version: 'v1' }, serviceAccount: 'ratings' },
    config,
  );
const ratings = ratingsContext();

describe('reporter="destination" (a sidecar inbound)', () => {
  test('the mTLS client is named from the table by its verified principal; this workload is the destination', () => {
    expect(ratings.destination('example.org/ns/default/sa/reviews', 0)).toEqual({
      reporter: 'destination',
      sourceWorkload: 'reviews-v1',
      sourceCanonicalService: 'reviews',
      sourceCanonicalRevision: 'v1',
      sourceWorkloadNamespace: 'default',
      sourcePrincipal: 'spiffe://example.org/ns/default/sa/reviews',
      sourceApp: 'reviews',
      sourceVersion: 'v1',
      sourceCluster: 'Kubernetes',
      // mastd's table names this proxy's workload (the label said only "ratings").
      destinationWorkload: 'ratings-v1',
      destinationWorkloadNamespace: 'default',
      destinationPrincipal: 'spiffe://example.org/ns/default/sa/ratings',
      destinationApp: 'ratings',
      destinationVersion: 'v1',
      destinationService: 'ratings.default.svc.cluster.local',
      destinationCanonicalService: 'ratings',
      destinationCanonicalRevision: 'v1',
      destinationServiceName: 'ratings',
      destinationServiceNamespace: 'default',
      destinationCluster: 'Kubernetes',
      connectionSecurityPolicy: 'mutual_tls',
    });
  });

  test('a plaintext client is unknown, the connection none', () => {
    expect(ratings.destination(undefined, -1)).toMatchObject({
      sourceWorkload: 'unknown',
      sourcePrincipal: 'unknown',
      sourceWorkloadNamespace: 'unknown',
      destinationPrincipal: 'unknown',
      destinationService: 'unknown',
      connectionSecurityPolicy: 'none',
    });
  });

  test.each([
    ['ratings.default.svc.cluster.local:9080', 0],
    ['ratings:9080', 0],
    ['ratings.default', 0],
    ['RATINGS.default.svc', 0],
    // Another workload's service, and a name nobody serves, fall back to the only service of this workload.
    ['reviews:9080', 0],
    ['attacker-chosen.example', 0],
  ])('authority %s is service %i (only the services that select this workload count)', (authority, index) => {
    expect(ratings.serviceIndex(authority)).toBe(index);
  });
});

describe('reporter="source" (a sidecar outbound, a gateway)', () => {
  const reviews: ClusterConfig = {
    name: 'outbound|9080||reviews.default.svc.cluster.local',
    host: 'reviews.default.svc.cluster.local',
    port: 9080,
    endpoints: [{ address: '10.0.0.11', port: 9080, labels: { 'security.istio.io/tlsMode': 'istio' }, metadata: reviewsV1 }],
    lb: { kind: 'round_robin' },
    connectTimeoutMs: 1000,
  };

  test('the endpoint it sent to names the destination workload; mTLS (auto) names both principals', () => {
    // A proxy that has seen no mTLS client yet assumes the default trust domain.
    expect(ratingsContext().source(reviews, '10.0.0.11:9080')).toMatchObject({
      reporter: 'source',
      sourceWorkload: 'ratings-v1',
      sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/ratings',
      destinationWorkload: 'reviews-v1',
      destinationVersion: 'v1',
      destinationPrincipal: 'spiffe://cluster.local/ns/default/sa/reviews',
      destinationService: 'reviews.default.svc.cluster.local',
      destinationServiceName: 'reviews',
      destinationServiceNamespace: 'default',
      connectionSecurityPolicy: 'unknown',
    });
  });

  test('no cluster (a local reply), an endpoint without metadata, TLS disabled', () => {
    expect(ratings.source(undefined, undefined)).toMatchObject({
      destinationService: 'unknown',
      destinationServiceName: 'unknown',
      destinationWorkload: 'unknown',
      destinationCanonicalRevision: 'latest',
    });
    const plain = { ...reviews, tls: 'DISABLE' as const, endpoints: [{ address: '10.0.0.11', port: 9080 }] };
    expect(ratings.source(plain, '10.0.0.11:9080')).toMatchObject({
      sourcePrincipal: 'unknown',
      destinationPrincipal: 'unknown',
      destinationWorkload: 'unknown',
      destinationServiceName: 'reviews',
      destinationServiceNamespace: 'default',
    });
  });
});
