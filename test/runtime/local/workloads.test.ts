import { join } from 'node:path';
import { loadYaml } from '../../../api';
import { workloadMetadata } from '../../../runtime/contract/workload-metadata';
import { parseEnv, planLocal, throughSidecars, withGatewayPod } from '../../../runtime/local/workloads';

const objects = loadYaml(
  `
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: reviews-v2
  namespace: shop
  annotations: { local.mast.dev/run: ../app/server.ts, local.mast.dev/env: "CALLS=http://a:1,http://b:2  MODE=x" }
spec: { address: 127.0.0.1, ports: { http: 19083 }, labels: { app: reviews, version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm, namespace: shop }
spec: { address: 10.0.0.7, ports: { http: 80 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: two-ports, namespace: shop }
spec: { address: ::1, ports: { http: 1, grpc: 2 } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: shop }
spec: { hosts: [reviews.shop.svc.cluster.local], ports: [{ number: 9080, name: http, protocol: HTTP }], resolution: STATIC, workloadSelector: { labels: { app: reviews } } }
`,
  '/mesh/local/workloads.yaml',
).objects;

describe('mast local: which workloads get a sidecar', () => {
  const plan = planLocal(objects);

  test('a loopback WorkloadEntry with one port: its app path resolves next to the YAML file, its env is parsed', () => {
    expect(plan.workloads).toEqual([
      expect.objectContaining({
        key: 'shop/reviews-v2',
        address: '127.0.0.1',
        portName: 'http',
        appPort: 19083,
        labels: { app: 'reviews', version: 'v2' },
        run: join('/mesh', 'app', 'server.ts'),
        env: { CALLS: 'http://a:1,http://b:2', MODE: 'x' },
      }),
    ]);
  });

  test('the others are reached directly, each with the reason', () => {
    expect(plan.skipped).toEqual([
      expect.stringMatching(/^WorkloadEntry shop\/vm: address "10.0.0.7" is not a loopback address/),
      expect.stringMatching(/^WorkloadEntry shop\/two-ports: spec.ports has 2 entries; mast local fronts exactly one port/),
    ]);
  });

  test('the fingerprint changes with what needs a restart', () => {
    const edited = objects.map((o) =>
      o.metadata.name === 'reviews-v2' ? { ...o, spec: { ...(o.spec as object), labels: { app: 'reviews', version: 'v3' } } } : o,
    );
    expect(planLocal(edited).workloads[0].fingerprint).not.toBe(plan.workloads[0].fingerprint);
  });

  test('routes reach a fronted workload through its sidecar: its port becomes the inbound port; nothing else changes', () => {
    const out = throughSidecars(objects, (key) => (key === 'shop/reviews-v2' ? 31000 : undefined));
    expect((out[0].spec as { ports: object }).ports).toEqual({ http: 31000 });
    // The app's own port stays known, for portLevelMtls (compile/endpoints.ts).
    expect(out[0].metadata.annotations?.['local.mast.dev/app-port']).toBe('19083');
    expect(out.slice(1)).toEqual(objects.slice(1));
    expect((objects[0].spec as { ports: object }).ports).toEqual({ http: 19083 });
  });

  test("a workload's locality (its sidecar's --locality): spec.locality, else the topology labels; none without either", () => {
    const entries = loadYaml(`
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: a, namespace: shop }
spec: { address: 127.0.0.1, ports: { http: 1 }, locality: region1/zone1 }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: b, namespace: shop }
spec: { address: 127.0.0.1, ports: { http: 2 }, labels: { topology.kubernetes.io/region: region2, topology.kubernetes.io/zone: zone3 } }
`).objects;
    expect(planLocal(entries).workloads.map((w) => w.locality)).toEqual(['region1/zone1', 'region2/zone3']);
    expect(plan.workloads[0].locality).toBeUndefined();
  });

  test('names of one app port (http and grpc on 19085): one sidecar fronts it, every name reaches its inbound port', () => {
    const [one] = loadYaml(`
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ratings-v1, namespace: shop }
spec: { address: 127.0.0.1, ports: { http: 19085, grpc: 19085 }, labels: { app: ratings } }
`).objects;
    expect(planLocal([one]).workloads).toEqual([expect.objectContaining({ key: 'shop/ratings-v1', appPort: 19085 })]);
    expect((throughSidecars([one], () => 31001)[0].spec as { ports: object }).ports).toEqual({ http: 31001, grpc: 31001 });
  });

  test("a Sidecar's ingress listeners: planned for the workloads it selects; the service ports that target them reach them", () => {
    const mesh = loadYaml(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin, namespace: test }
spec:
  hosts: [httpbin.test.svc.cluster.local]
  resolution: STATIC
  workloadSelector: { labels: { app: httpbin } }
  ports:
  - { number: 8443, name: https, protocol: HTTPS, targetPort: 9080 }
  - { number: 8080, name: http, protocol: HTTP, targetPort: 9081 }
  - { number: 8000, name: plain, protocol: HTTP }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: httpbin, namespace: test }
spec: { address: 127.0.0.1, ports: { app: 19080 }, labels: { app: httpbin, version: v1 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: sleep, namespace: test }
spec: { address: 127.0.0.1, ports: { http: 19090 }, labels: { app: sleep } }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ingress-sidecar, namespace: test }
spec:
  workloadSelector: { labels: { app: httpbin } }
  ingress:
  - { port: { number: 9080, protocol: HTTPS } }
  - { port: { number: 9081, protocol: HTTP } }
`).objects;
    expect(planLocal(mesh).workloads.map((w) => [w.key, w.ingressPorts])).toEqual([
      ['test/httpbin', [9080, 9081]],
      ['test/sleep', []],
    ]);
    const out = throughSidecars(
      mesh,
      (key) => (key === 'test/httpbin' ? 31000 : 31001),
      (key) => (key === 'test/httpbin' ? { 9080: 32080, 9081: 32081 } : undefined),
    );
    // plain (8000) targets port 8000, which no listener has: not mapped (the WorkloadEntry names no such port).
    expect((out[1].spec as { ports: object }).ports).toEqual({ app: 31000, https: 32080, http: 32081 });
    // The listeners' ports stay known, for portLevelMtls (compile/endpoints.ts).
    expect(out[1].metadata.annotations?.['local.mast.dev/ingress-ports']).toBe('32080=9080,32081=9081');
    expect(out[2].metadata.annotations?.['local.mast.dev/ingress-ports']).toBeUndefined();
    expect((out[2].spec as { ports: object }).ports).toEqual({ http: 31001 });
  });

  test('env pairs: whitespace-separated KEY=value; anything else is ignored', () => {
    expect(parseEnv(' A=1  B=x=y junk =z ')).toEqual({ A: '1', B: 'x=y' });
    expect(parseEnv(undefined)).toEqual({});
  });
});

describe('mast local: the ingress gateway in the peers table', () => {
  test('the gateway is added as the Pod it is in a cluster (Istio labels, its own service account, no address), once', () => {
    const objects = withGatewayPod([]);
    expect(objects).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'mast-ingressgateway',
          namespace: 'mast-system',
          labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' },
        },
        spec: { serviceAccountName: 'mast-ingressgateway' },
      },
    ]);
    expect(withGatewayPod(objects)).toEqual(objects);
    // What a sidecar then writes for requests from the gateway (source_workload, its namespace, app).
    expect(workloadMetadata('mast-ingressgateway', 'mast-system', objects[0].metadata.labels ?? {}, 'mast-ingressgateway')).toMatchObject({
      workload: 'mast-ingressgateway',
      namespace: 'mast-system',
      app: 'istio-ingressgateway',
      identity: 'ns/mast-system/sa/mast-ingressgateway',
    });
  });
});
