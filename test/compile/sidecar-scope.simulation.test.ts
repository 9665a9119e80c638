/**
 * The Sidecar resource: which services a proxy's config holds (egress `namespace/host` imports,
 * per port or catch-all; the workload's Sidecar, else its namespace's, else the root namespace's
 * mesh default), and what its outbound traffic policy does with the rest (ALLOW_ANY passes
 * through, REGISTRY_ONLY answers 502 or resets), mesh-wide or per Sidecar.
 * Given this mesh, this request from this sidecar goes there.
 */
import { buildIndex, compile, configFor, CompileCache, makeSnapshot } from '../../runtime/compile';
import { meshOf, runSimulations, sidecar, type Call } from './simulation';

const service = (name: string, ns: string, port = 9080, protocol = 'http') => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec: { selector: { app: ${name} }, ports: [{ name: ${protocol}, port: ${port} }] }
---
`;
const sidecarResource = (name: string, ns: string, spec: string) => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}
---
`;
const MESH =
  service('reviews', 'default') +
  service('ratings', 'default') +
  service('db', 'data', 5432, 'tcp') +
  service('catalog', 'data') +
  service('istiod', 'istio-system', 15012) +
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin-ext, namespace: default }
spec: { hosts: [httpbin.org], ports: [{ number: 80, name: http, protocol: HTTP }], resolution: DNS, location: MESH_EXTERNAL }
---
`;
const MESH_DEFAULT = sidecarResource('default', 'istio-system', '  egress: [{ hosts: ["./*", "istio-system/*"] }]');

const routed = (name: string, port: number, host: string, cluster: string): Call => ({
  name,
  request: { port, host },
  expect: { outcome: 'routed', cluster },
});
const passedThrough = (name: string, port: number, host: string): Call => ({
  name,
  request: { port, host },
  expect: { outcome: 'passthrough' },
});
const blocked = (name: string, port: number, host: string, status?: number): Call => ({
  name,
  request: { port, host },
  expect: { outcome: 'blackhole', status },
});

runSimulations([
  {
    name: 'no Sidecar: every service the namespace sees; an unknown host passes through (ALLOW_ANY)',
    mesh: MESH,
    proxy: sidecar('default'),
    calls: [
      routed('reviews', 9080, 'reviews', 'outbound|9080||reviews.default.svc.cluster.local'),
      routed('catalog in data', 9080, 'catalog.data', 'outbound|9080||catalog.data.svc.cluster.local'),
      {
        name: 'db in data (TCP)',
        request: { port: 5432 },
        expect: { outcome: 'connection', cluster: 'outbound|5432||db.data.svc.cluster.local' },
      },
      routed('httpbin.org (ServiceEntry)', 80, 'httpbin.org', 'outbound|80||httpbin.org'),
      passedThrough('an unknown host on a known port', 9080, 'unknown.example.com'),
      passedThrough('an unknown port', 8443, 'unknown.example.com'),
    ],
  },
  {
    name: 'the mesh default (istio-system, "./*" and "istio-system/*"): each namespace sees its own services and istio-system',
    mesh: MESH + MESH_DEFAULT,
    proxy: sidecar('default'),
    calls: [
      routed('reviews, of its own namespace', 9080, 'reviews', 'outbound|9080||reviews.default.svc.cluster.local'),
      routed('istiod', 15012, 'istiod.istio-system.svc.cluster.local', 'outbound|15012||istiod.istio-system.svc.cluster.local'),
      routed('httpbin.org, a ServiceEntry of its own namespace', 80, 'httpbin.org', 'outbound|80||httpbin.org'),
      passedThrough('catalog in data: not imported, so passed through as an unknown host', 9080, 'catalog.data'),
      passedThrough('db in data: not imported (the TCP port has no listener)', 5432, 'db.data'),
    ],
  },
  {
    name: 'the same mesh default seen from data: "." is the workload\'s namespace',
    mesh: MESH + MESH_DEFAULT,
    proxy: sidecar('data'),
    calls: [
      routed('catalog', 9080, 'catalog', 'outbound|9080||catalog.data.svc.cluster.local'),
      { name: 'db (TCP)', request: { port: 5432 }, expect: { outcome: 'connection', cluster: 'outbound|5432||db.data.svc.cluster.local' } },
      passedThrough('reviews in default: not imported', 9080, 'reviews.default'),
    ],
  },
  {
    name: "a namespace's Sidecar overrides the mesh default; a workload's overrides both, per port",
    mesh:
      MESH +
      MESH_DEFAULT +
      sidecarResource('default', 'default', '  egress: [{ hosts: ["data/catalog.data.svc.cluster.local"] }]') +
      sidecarResource(
        'ratings',
        'default',
        '  workloadSelector: { labels: { app: ratings } }\n  egress:\n  - port: { number: 80, protocol: HTTP, name: http }\n    hosts: ["*/httpbin.org"]\n  - hosts: ["./*"]',
      ),
    proxy: sidecar('default', { app: 'client' }),
    calls: [
      routed('catalog.data, its one import', 9080, 'catalog.data', 'outbound|9080||catalog.data.svc.cluster.local'),
      passedThrough('reviews: not imported by the namespace Sidecar', 9080, 'reviews'),
      passedThrough('istiod: the mesh default does not apply', 15012, 'istiod.istio-system.svc.cluster.local'),
    ],
  },
  {
    name: "the workload's Sidecar: port 80 imports httpbin.org only, the catch-all its namespace",
    mesh:
      MESH +
      sidecarResource('default', 'default', '  egress: [{ hosts: ["data/catalog.data.svc.cluster.local"] }]') +
      sidecarResource(
        'ratings',
        'default',
        '  workloadSelector: { labels: { app: ratings } }\n  egress:\n  - port: { number: 80, protocol: HTTP, name: http }\n    hosts: ["*/httpbin.org"]\n  - hosts: ["./*"]',
      ),
    proxy: sidecar('default', { app: 'ratings' }),
    calls: [
      routed('httpbin.org on 80', 80, 'httpbin.org', 'outbound|80||httpbin.org'),
      routed('reviews on 9080 (catch-all)', 9080, 'reviews', 'outbound|9080||reviews.default.svc.cluster.local'),
      passedThrough('catalog.data: not imported here', 9080, 'catalog.data'),
    ],
  },
  {
    name: 'REGISTRY_ONLY in a Sidecar: an unknown host is answered 502 (block_all), an unknown port reset; imports still routed',
    mesh: MESH + sidecarResource('default', 'default', '  outboundTrafficPolicy: { mode: REGISTRY_ONLY }'),
    proxy: sidecar('default'),
    calls: [
      routed('reviews', 9080, 'reviews', 'outbound|9080||reviews.default.svc.cluster.local'),
      routed('httpbin.org, registered by its ServiceEntry', 80, 'httpbin.org', 'outbound|80||httpbin.org'),
      blocked('an unknown host on a known HTTP port: 502', 80, 'www.google.com', 502),
      blocked('an unknown port: the connection is reset', 443, 'www.google.com', undefined),
    ],
  },
  {
    name: 'REGISTRY_ONLY mesh-wide (the istio ConfigMap) applies where no Sidecar says otherwise',
    mesh: `${MESH}apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data: { mesh: "outboundTrafficPolicy:\\n  mode: REGISTRY_ONLY\\n" }
---
`,
    proxy: sidecar('default'),
    calls: [
      blocked('an unknown host: 502', 9080, 'unknown.example.com', 502),
      routed('reviews', 9080, 'reviews', 'outbound|9080||reviews.default.svc.cluster.local'),
    ],
  },
  {
    name: 'a Sidecar with ALLOW_ANY overrides the mesh-wide REGISTRY_ONLY',
    mesh: `${MESH}apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data: { mesh: "outboundTrafficPolicy:\\n  mode: REGISTRY_ONLY\\n" }
---
${sidecarResource('allow', 'default', '  outboundTrafficPolicy: { mode: ALLOW_ANY }')}`,
    proxy: sidecar('default'),
    calls: [passedThrough('an unknown host', 9080, 'unknown.example.com')],
  },
  {
    name: 'REGISTRY_ONLY with imports: a service not imported is refused like any unknown host',
    mesh: MESH + sidecarResource('default', 'default', '  egress: [{ hosts: ["./*"] }]\n  outboundTrafficPolicy: { mode: REGISTRY_ONLY }'),
    proxy: sidecar('default'),
    calls: [
      routed('reviews', 9080, 'reviews', 'outbound|9080||reviews.default.svc.cluster.local'),
      blocked('catalog.data', 9080, 'catalog.data', 502),
      blocked('db.data (TCP, no listener for 5432)', 5432, 'db.data', undefined),
    ],
  },
]);

describe('what a Sidecar changes in the configs', () => {
  const index = (yaml: string) => buildIndex(makeSnapshot(meshOf(yaml), 'v1'));

  test('workloads selected by different Sidecars get different configs; the others share one', () => {
    const cache = new CompileCache(
      index(
        MESH +
          sidecarResource(
            'ratings',
            'default',
            '  workloadSelector: { labels: { app: ratings } }\n  egress: [{ hosts: ["./ratings.default.svc.cluster.local"] }]',
          ),
      ),
    );
    const ratings = configFor(cache, sidecar('default', { app: 'ratings' }));
    const a = configFor(cache, sidecar('default', { app: 'a' }));
    const b = configFor(cache, sidecar('default', { app: 'b' }));
    expect(a).toBe(b);
    expect(ratings).not.toBe(a);
    const hosts = (c: typeof a) => c.listeners.flatMap((l) => l.virtualHosts?.map((v) => v.name) ?? []);
    expect(hosts(ratings)).toEqual(['ratings.default.svc.cluster.local:9080']);
    expect(hosts(a)).toContain('reviews.default.svc.cluster.local:9080');
  });

  test('~/* imports nothing: no outbound listener, no outbound cluster', () => {
    const config = compile(index(MESH + sidecarResource('none', 'default', '  egress: [{ hosts: ["~/*"] }]')), sidecar('default'));
    expect(config.listeners).toEqual([]);
    expect(config.clusters).toEqual([]);
  });
});
