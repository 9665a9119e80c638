/**
 * Health from the registry, as a table: which endpoints a compiled cluster keeps when the
 * EndpointSlice or the WorkloadEntry says they are not ready (Kubernetes' `conditions.ready`,
 * Istio's `proxy.istio.io/health-checks-enabled` + `Healthy` condition).
 */
import { loadYaml, type KubeObject } from '../../api';
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';

const SIDECAR = { mode: 'sidecar' as const, namespace: 'default', labels: { app: 'client' } };

/** Endpoints of `web`'s cluster as a sidecar gets them. */
function endpoints(objects: KubeObject[]): string[] {
  const config = compile(buildIndex(makeSnapshot(objects, 'v1')), SIDECAR);
  return config.clusters
    .find((c) => c.name === 'outbound|80||web.default.svc.cluster.local')!
    .endpoints.map((e) => e.address)
    .sort();
}

const service = loadYaml(`apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { ports: [{ name: http, port: 80 }], selector: { app: web } }
`).objects;

const slice = (conditions: Array<Record<string, boolean> | undefined>) =>
  loadYaml(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-abc, namespace: default, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 8080 }]
endpoints:
${conditions.map((c, i) => `  - { addresses: [10.0.0.${i + 1}]${c ? `, conditions: ${JSON.stringify(c)}` : ''} }`).join('\n')}
`).objects;

const entry = loadYaml(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: web, namespace: default }
spec:
  hosts: [web.default.svc.cluster.local]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  workloadSelector: { labels: { app: web } }
`).objects;

const workload = (address: string, annotation?: string, healthy?: 'True' | 'False') => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'WorkloadEntry',
  metadata: {
    name: `web-${address.replace(/\./g, '-')}`,
    namespace: 'default',
    ...(annotation !== undefined ? { annotations: { 'proxy.istio.io/health-checks-enabled': annotation } } : {}),
  },
  spec: { address, labels: { app: 'web' }, ports: { http: 8080 } },
  ...(healthy ? { status: { conditions: [{ type: 'Healthy', status: healthy }] } } : {}),
});

describe('endpoints the registry marks not ready leave the cluster', () => {
  test.each([
    ['ready: true', { ready: true }, true],
    ['no conditions (unknown: ready, as Kubernetes says)', undefined, true],
    ['ready: false', { ready: false }, false],
    ['terminating (ready: false, serving: true)', { ready: false, serving: true, terminating: true }, false],
  ])('EndpointSlice endpoint %s', (_, conditions, kept) => {
    expect(endpoints([...service, ...slice([{ ready: true }, conditions])])).toEqual(kept ? ['10.0.0.1', '10.0.0.2'] : ['10.0.0.1']);
  });

  test.each([
    ['no health checks', undefined, undefined, true],
    ['health checks off, Healthy False (not applied, as Istio)', 'false', 'False' as const, true],
    ['health checks on, Healthy True', 'true', 'True' as const, true],
    ['health checks on, Healthy False', 'true', 'False' as const, false],
    ['health checks on, not probed yet', 'true', undefined, false],
    ['health checks on as Go reads "1", Healthy False', '1', 'False' as const, false],
  ])('WorkloadEntry with %s', (_, annotation, condition, kept) => {
    const objects = [...entry, workload('10.1.0.1'), workload('10.1.0.2', annotation, condition)] as KubeObject[];
    expect(endpoints(objects)).toEqual(kept ? ['10.1.0.1', '10.1.0.2'] : ['10.1.0.1']);
  });
});
