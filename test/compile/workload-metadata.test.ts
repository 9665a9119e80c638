/**
 * The workload metadata mastd pushes for Istio's metric labels: each endpoint's workload (a pod's
 * Deployment, a WorkloadEntry), the peers by identity (workloads sharing one merged), a namespace's
 * services with their selectors, and the canonical labels as Istio derives them.
 */
import type { KubeObject } from '../../api';
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';
import { podWorkloadName } from '../../runtime/compile/workload-metadata';
import { workloadMetadata } from '../../runtime/contract/workload-metadata';

const service = (name: string, selector: Record<string, string>): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { selector, ports: [{ name: 'http', port: 9080, targetPort: 9080 }] },
  }) as KubeObject;

const pod = (name: string, rs: string, hash: string, labels: Record<string, string>, ip: string, sa: string): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      labels: { ...labels, 'pod-template-hash': hash },
      ownerReferences: [{ kind: 'ReplicaSet', name: rs, controller: true }],
    },
    spec: { serviceAccountName: sa },
    status: { podIP: ip },
  }) as KubeObject;

const slice = (svc: string, targets: Array<[string, string]>): KubeObject =>
  ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${svc}-abc`, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
    ports: [{ name: 'http', port: 9080 }],
    endpoints: targets.map(([ip, podName]) => ({
      addresses: [ip],
      conditions: { ready: true },
      targetRef: { kind: 'Pod', name: podName, namespace: 'default' },
    })),
  }) as unknown as KubeObject;

const objects: KubeObject[] = [
  service('reviews', { app: 'reviews' }),
  service('ratings', { app: 'ratings' }),
  pod('reviews-v1-7d9f-abcde', 'reviews-v1-7d9f', '7d9f', { app: 'reviews', version: 'v1' }, '10.0.0.11', 'bookinfo-reviews'),
  pod('reviews-v2-55aa-fghij', 'reviews-v2-55aa', '55aa', { app: 'reviews', version: 'v2' }, '10.0.0.12', 'bookinfo-reviews'),
  pod(
    'ratings-v1-1111-klmno',
    'ratings-v1-1111',
    '1111',
    { app: 'ratings', version: 'v1', 'service.istio.io/canonical-name': 'star-ratings' },
    '10.0.0.13',
    'bookinfo-ratings',
  ),
  slice('reviews', [
    ['10.0.0.11', 'reviews-v1-7d9f-abcde'],
    ['10.0.0.12', 'reviews-v2-55aa-fghij'],
  ]),
  slice('ratings', [['10.0.0.13', 'ratings-v1-1111-klmno']]),
];

describe('workload metadata in the compiled configs', () => {
  const index = buildIndex(makeSnapshot(objects, 'v1'));
  const ratingsSidecar = compile(index, {
    mode: 'sidecar',
    namespace: 'default',
    labels: { app: 'ratings', version: 'v1' },
    serviceAccount: 'bookinfo-ratings',
    inbound: { port: 15006 },
  });

  test("an endpoint carries its pod's workload: the Deployment, its labels and identity", () => {
    const reviews = ratingsSidecar.clusters.find((c) => c.name === 'outbound|9080||reviews.default.svc.cluster.local')!;
    expect(reviews.endpoints.map((e) => [e.address, e.metadata])).toEqual([
      [
        '10.0.0.11',
        {
          workload: 'reviews-v1',
          namespace: 'default',
          app: 'reviews',
          version: 'v1',
          canonicalService: 'reviews',
          canonicalRevision: 'v1',
          identity: 'ns/default/sa/bookinfo-reviews',
        },
      ],
      ['10.0.0.12', expect.objectContaining({ workload: 'reviews-v2', version: 'v2', canonicalRevision: 'v2' })],
    ]);
  });

  test('peers by identity: workloads sharing a service account keep what they agree on, the rest unknown', () => {
    expect(ratingsSidecar.workloads).toEqual([
      expect.objectContaining({ identity: 'ns/default/sa/bookinfo-ratings', workload: 'ratings-v1', canonicalService: 'star-ratings' }),
      {
        identity: 'ns/default/sa/bookinfo-reviews',
        workload: 'unknown',
        namespace: 'default',
        app: 'reviews',
        version: 'unknown',
        canonicalService: 'reviews',
        canonicalRevision: 'unknown',
      },
    ]);
  });

  test('the services that select the workload, with their selectors (no other service of the namespace); a gateway gets neither table', () => {
    expect(ratingsSidecar.inboundServices).toEqual([
      { host: 'ratings.default.svc.cluster.local', name: 'ratings', namespace: 'default', selector: { app: 'ratings' } },
    ]);
    const gateway = compile(index, { mode: 'gateway', namespace: 'mast-system', labels: { istio: 'ingressgateway' } });
    expect(gateway.workloads).toBeUndefined();
    expect(gateway.inboundServices).toBeUndefined();
  });
});

describe('Istio’s derivations', () => {
  test.each([
    [{ 'service.istio.io/canonical-name': 'a', 'app.kubernetes.io/name': 'b', app: 'c' }, 'a', 'latest'],
    [{ 'app.kubernetes.io/name': 'b', app: 'c', version: 'v3' }, 'b', 'v3'],
    [{ app: 'c', 'app.kubernetes.io/version': '1.2', version: 'v3' }, 'c', '1.2'],
    [{ 'service.istio.io/canonical-revision': 'r9', version: 'v3' }, 'wl', 'r9'],
    [{}, 'wl', 'latest'],
  ])('canonical service and revision of %j: %s, %s', (labels, service, revision) => {
    expect(workloadMetadata('wl', 'ns', labels)).toMatchObject({ canonicalService: service, canonicalRevision: revision });
  });

  test('a pod’s workload: its Deployment, CronJob, other owner, or itself', () => {
    const p = (owner: { kind: string; name: string } | undefined, labels: Record<string, string> = {}) =>
      podWorkloadName({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'the-pod', labels, ...(owner ? { ownerReferences: [owner] } : {}) },
      });
    expect(p({ kind: 'ReplicaSet', name: 'web-5c9d' }, { 'pod-template-hash': '5c9d' })).toBe('web');
    expect(p({ kind: 'ReplicaSet', name: 'web-5c9d' })).toBe('web-5c9d');
    expect(p({ kind: 'Job', name: 'nightly-28391520' })).toBe('nightly');
    expect(p({ kind: 'StatefulSet', name: 'db' })).toBe('db');
    expect(p(undefined)).toBe('the-pod');
  });
});
