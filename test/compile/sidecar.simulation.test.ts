/**
 * Sidecars: the names a client may use for a service, default routes, exportTo visibility, the
 * endpoints of ServiceEntries, WorkloadEntries and Kubernetes EndpointSlices, routes for some
 * clients only (sourceLabels, sourceNamespace), mesh-bound VirtualServices, and TCP ports.
 * Given this mesh, this request from this sidecar goes there.
 */
import { DEFAULT_RETRY } from '../../runtime/contract/proxy-config';
import { runSimulations, sidecar } from './simulation';

const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';
const K8S = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080, targetPort: 9080 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: reviews-1, namespace: default, labels: { kubernetes.io/service-name: reviews } }
ports: [{ name: http, port: 9080 }]
endpoints:
- { addresses: [10.0.0.1], conditions: { ready: true }, targetRef: { kind: Pod, name: reviews-v1-0, namespace: default } }
- { addresses: [10.0.0.2], conditions: { ready: true }, targetRef: { kind: Pod, name: reviews-v2-0, namespace: default } }
- { addresses: [10.0.0.3], conditions: { ready: false }, targetRef: { kind: Pod, name: reviews-v2-1, namespace: default } }
---
apiVersion: v1
kind: Pod
metadata: { name: reviews-v1-0, namespace: default, labels: { app: reviews, version: v1 } }
spec: { serviceAccountName: reviews }
---
apiVersion: v1
kind: Pod
metadata: { name: reviews-v2-0, namespace: default, labels: { app: reviews, version: v2 } }
spec: { serviceAccountName: reviews }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec: { host: reviews, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }
`;

/** A ServiceEntry and a VirtualService of namespace default, both exported to their own namespace only. */
const PRIVATE_TO_DEFAULT = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: private, namespace: default }
spec: { hosts: [private.default.svc.cluster.local], exportTo: ["."], location: MESH_INTERNAL, resolution: STATIC, ports: [{ number: 9080, name: http, protocol: HTTP }], endpoints: [{ address: 10.9.0.1 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-private, namespace: default }
spec: { hosts: [reviews], exportTo: ["."], http: [{ name: pinned, route: [{ destination: { host: reviews, subset: v2 } }] }] }`;

runSimulations([
  {
    name: 'a service by every name Kubernetes DNS gives it; ready endpoints only; no VirtualService: the default route',
    proxy: sidecar('default'),
    port: 9080,
    mesh: K8S,
    calls: [
      ...[
        'reviews',
        'reviews:9080',
        'reviews.default',
        'reviews.default.svc',
        'reviews.default.svc.cluster.local',
        'REVIEWS.default.svc.cluster.local:9080',
      ].map((host) => ({
        name: `as ${host}`,
        request: { host },
        expect: {
          outcome: 'routed' as const,
          listener: 'outbound_9080',
          virtualHost: 'reviews.default.svc.cluster.local:9080',
          route: 'default',
          cluster: REVIEWS,
          endpoints: ['10.0.0.1:9080', '10.0.0.2:9080'],
          retries: DEFAULT_RETRY,
          timeoutMs: undefined,
        },
      })),
      {
        name: 'a port no service has: on to where the app sent it (ALLOW_ANY)',
        request: { port: 9081, host: 'reviews' },
        expect: { outcome: 'passthrough', listener: undefined, cluster: 'PassthroughCluster' },
      },
      {
        name: 'a host the mesh does not know, on a known port: on to where the app sent it',
        request: { host: 'ratings' },
        expect: { outcome: 'passthrough', listener: 'outbound_9080', cluster: 'PassthroughCluster', status: undefined },
      },
    ],
  },
  {
    name: 'from another namespace the short name is not the service',
    proxy: sidecar('shop'),
    port: 9080,
    mesh: K8S,
    calls: [
      {
        name: 'reviews: not a name of the service here (passed through as the app sent it)',
        request: { host: 'reviews' },
        expect: { outcome: 'passthrough', cluster: 'PassthroughCluster' },
      },
      { name: 'reviews.default', request: { host: 'reviews.default' }, expect: { cluster: REVIEWS } },
    ],
  },
  {
    name: 'mesh VirtualService: subsets by pod labels, routes for some clients (sourceLabels, sourceNamespace); gateway-only VirtualServices do not apply',
    proxy: sidecar('default', { app: 'productpage' }),
    port: 9080,
    mesh: `${K8S}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - { name: from-productpage, match: [{ uri: { prefix: /pp }, sourceLabels: { app: productpage } }], route: [{ destination: { host: reviews, subset: v2 } }] }
  - { name: from-ratings, match: [{ uri: { prefix: /ratings }, sourceLabels: { app: ratings } }], route: [{ destination: { host: reviews, subset: v2 } }] }
  - { name: from-shop, match: [{ uri: { prefix: /shop }, sourceNamespace: shop }], route: [{ destination: { host: reviews, subset: v2 } }] }
  - { name: everyone, route: [{ destination: { host: reviews, subset: v1 } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge-only, namespace: default }
spec: { hosts: [reviews], gateways: [edge], http: [{ name: edge, route: [{ destination: { host: reviews, subset: v2 } }] }] }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }] }`,
    calls: [
      {
        name: "a route for this sidecar's labels",
        request: { host: 'reviews', path: '/pp' },
        expect: { route: 'from-productpage', cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local', endpoints: ['10.0.0.2:9080'] },
      },
      {
        name: 'a route for other labels is not in this sidecar',
        request: { host: 'reviews', path: '/ratings' },
        expect: { route: 'everyone', cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local', endpoints: ['10.0.0.1:9080'] },
      },
      { name: 'a route for another namespace is not either', request: { host: 'reviews', path: '/shop' }, expect: { route: 'everyone' } },
    ],
  },
  {
    name: 'a mesh VirtualService for a wildcard host routes the services it covers (Istio matches service hosts against it)',
    proxy: sidecar('default'),
    port: 9080,
    mesh: `${K8S}---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: shop }
spec: { selector: { app: ratings }, ports: [{ name: http, port: 9080, targetPort: 9080 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: all-of-default, namespace: default }
spec:
  hosts: ['*.default.svc.cluster.local']
  http: [{ name: wildcard, route: [{ destination: { host: reviews, subset: v2 } }] }]`,
    calls: [
      {
        name: 'reviews: covered by the wildcard, routed by it',
        request: { host: 'reviews' },
        expect: { route: 'wildcard', cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local' },
      },
      {
        name: 'ratings.shop: not covered, the default route',
        request: { host: 'ratings.shop' },
        expect: { route: 'default', cluster: 'outbound|9080||ratings.shop.svc.cluster.local' },
      },
    ],
  },
  {
    name: 'a port match: a VirtualService for a two-port service routes each port by its own rules',
    proxy: sidecar('default'),
    port: 9080,
    mesh: `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: default }
spec: { hosts: [api.default.svc.cluster.local], location: MESH_INTERNAL, resolution: STATIC, ports: [{ number: 9080, name: http, protocol: HTTP }, { number: 9090, name: http-admin, protocol: HTTP }], endpoints: [{ address: 10.7.0.1 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: default }
spec:
  hosts: [api]
  http:
  - { name: admin-port, match: [{ port: 9090 }], route: [{ destination: { host: api, port: { number: 9090 } } }], timeout: 1s }
  - { name: any-port, route: [{ destination: { host: api, port: { number: 9080 } } }] }`,
    calls: [
      {
        name: 'port 9080',
        request: { host: 'api' },
        expect: {
          listener: 'outbound_9080',
          route: 'any-port',
          cluster: 'outbound|9080||api.default.svc.cluster.local',
          endpoints: ['10.7.0.1:9080'],
        },
      },
      {
        name: 'port 9090',
        request: { port: 9090, host: 'api:9090' },
        expect: {
          listener: 'outbound_9090',
          route: 'admin-port',
          cluster: 'outbound|9090||api.default.svc.cluster.local',
          timeoutMs: 1000,
        },
      },
    ],
  },
  {
    name: "a VirtualService applies from any namespace it is exported to: the service's (producer), the client's (consumer), a third",
    proxy: sidecar('consumer'),
    port: 80,
    mesh: ['p', 'c', 'x']
      .map(
        (s) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${s}, namespace: producer }
spec: { hosts: [${s}.producer.svc.cluster.local], location: MESH_INTERNAL, resolution: STATIC, ports: [{ number: 80, name: http, protocol: HTTP }], endpoints: [{ address: 10.8.0.1 }] }
`,
      )
      .join('')
      .concat(
        [
          ['producer', 'p'],
          ['consumer', 'c'],
          ['arbitrary', 'x'],
        ]
          .map(
            ([ns, s]) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${s}, namespace: ${ns} }
spec: { hosts: [${s}.producer.svc.cluster.local], http: [{ name: ${ns}-rule, directResponse: { status: 418 } }] }
`,
          )
          .join(''),
      ),
    calls: [
      { name: 'producer rule', request: { host: 'p.producer' }, expect: { route: 'producer-rule', status: 418 } },
      { name: 'consumer rule', request: { host: 'c.producer' }, expect: { route: 'consumer-rule', status: 418 } },
      {
        name: 'arbitrary namespace rule',
        request: { host: 'x.producer.svc.cluster.local' },
        expect: { route: 'arbitrary-rule', status: 418 },
      },
    ],
  },
  {
    name: 'sourceNamespace: the route is in the sidecars of that namespace',
    proxy: sidecar('shop'),
    port: 9080,
    mesh: `${K8S}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews.default.svc.cluster.local]
  http:
  - { name: from-shop, match: [{ sourceNamespace: shop }], route: [{ destination: { host: reviews, subset: v2 } }] }
  - { name: everyone, route: [{ destination: { host: reviews, subset: v1 } }] }`,
    calls: [
      {
        name: 'from shop',
        request: { host: 'reviews.default' },
        expect: { route: 'from-shop', cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local' },
      },
    ],
  },
  {
    name: 'exportTo: a ServiceEntry or VirtualService kept to its namespace is invisible elsewhere',
    proxy: sidecar('other'),
    port: 9080,
    mesh: `${K8S}---
${PRIVATE_TO_DEFAULT}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-for-other, namespace: other }
spec: { hosts: [reviews.default.svc.cluster.local], exportTo: ["."], http: [{ name: other-own, route: [{ destination: { host: reviews.default.svc.cluster.local, subset: v1 } }] }] }`,
    calls: [
      {
        name: 'a ServiceEntry exported to its namespace only: unknown here',
        request: { host: 'private.default.svc.cluster.local' },
        expect: { outcome: 'passthrough', cluster: 'PassthroughCluster' },
      },
      {
        name: "another namespace's VirtualService kept to itself does not apply; this namespace's does",
        request: { host: 'reviews.default' },
        expect: { route: 'other-own', cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local' },
      },
    ],
  },
  {
    name: 'exportTo, seen from inside: the namespace sees its own ServiceEntry and VirtualService',
    proxy: sidecar('default'),
    port: 9080,
    mesh: `${K8S}---
${PRIVATE_TO_DEFAULT}`,
    calls: [
      {
        name: 'the private ServiceEntry',
        request: { host: 'private' },
        expect: { cluster: 'outbound|9080||private.default.svc.cluster.local', endpoints: ['10.9.0.1:9080'] },
      },
      { name: 'the private VirtualService', request: { host: 'reviews' }, expect: { route: 'pinned' } },
    ],
  },
  {
    name: 'ServiceEntry endpoints: listed (port by name), WorkloadEntries by selector, DNS without endpoints',
    proxy: sidecar('default'),
    port: 8080,
    mesh: `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: listed, namespace: default }
spec:
  hosts: [listed.example.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 8080, name: http, protocol: HTTP, targetPort: 18080 }]
  endpoints: [{ address: 10.1.0.1 }, { address: 10.1.0.2, ports: { http: 28080 } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: selected, namespace: default }
spec:
  hosts: [selected.example.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  workloadSelector: { labels: { app: vm } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm-1, namespace: default }
spec: { address: 10.2.0.1, labels: { app: vm }, ports: { http: 9999 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm-2, namespace: default }
spec: { address: 10.2.0.2, labels: { app: vm } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: other, namespace: default }
spec: { address: 10.2.0.3, labels: { app: other } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: external, namespace: default }
spec: { hosts: [api.example.org], location: MESH_EXTERNAL, resolution: DNS, ports: [{ number: 8080, name: http, protocol: HTTP }] }`,
    calls: [
      {
        name: 'listed endpoints: targetPort, or the port named for the endpoint',
        request: { host: 'listed.example.internal' },
        expect: { cluster: 'outbound|8080||listed.example.internal', endpoints: ['10.1.0.1:18080', '10.1.0.2:28080'] },
      },
      {
        name: 'WorkloadEntries the selector selects, on their named port',
        request: { host: 'selected.example.internal' },
        expect: { endpoints: ['10.2.0.1:9999', '10.2.0.2:8080'] },
      },
      {
        name: 'DNS without endpoints: the host itself',
        request: { host: 'api.example.org' },
        expect: { cluster: 'outbound|8080||api.example.org', endpoints: ['api.example.org:8080'] },
      },
    ],
  },
  {
    name: 'TCP ports: a connection by destination port; a VirtualService tcp route applies',
    proxy: sidecar('default'),
    port: 5432,
    mesh: `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: default }
spec: { hosts: [db.default.svc.cluster.local], location: MESH_INTERNAL, resolution: STATIC, ports: [{ number: 5432, name: tcp-pg, protocol: TCP }], endpoints: [{ address: 10.3.0.1 }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: cache, namespace: default }
spec: { hosts: [cache.default.svc.cluster.local], location: MESH_INTERNAL, resolution: STATIC, ports: [{ number: 6379, name: tcp-redis, protocol: TCP }], endpoints: [{ address: 10.3.1.1 }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: cache-replica, namespace: default }
spec: { hosts: [cache-replica.default.svc.cluster.local], location: MESH_INTERNAL, resolution: STATIC, ports: [{ number: 6380, name: tcp-redis, protocol: TCP }], endpoints: [{ address: 10.3.2.1 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: cache, namespace: default }
spec: { hosts: [cache.default.svc.cluster.local], tcp: [{ route: [{ destination: { host: cache-replica, port: { number: 6380 } } }] }] }`,
    calls: [
      {
        name: 'the only TCP service on the port',
        request: {},
        expect: {
          outcome: 'connection',
          listener: 'outbound_5432_tcp',
          cluster: 'outbound|5432||db.default.svc.cluster.local',
          endpoints: ['10.3.0.1:5432'],
        },
      },
      {
        name: 'a tcp route sends it elsewhere',
        request: { port: 6379 },
        expect: {
          outcome: 'connection',
          listener: 'outbound_6379_tcp',
          cluster: 'outbound|6380||cache-replica.default.svc.cluster.local',
          endpoints: ['10.3.2.1:6380'],
        },
      },
    ],
  },
]);
