/**
 * Protocol selection, as Istio's: a port is HTTP/2 upstream by its name's prefix, its appProtocol
 * or its ServiceEntry protocol; a sniffed port keeps the client's HTTP version on sidecars;
 * DestinationRule h2UpgradePolicy / useClientProtocol and the mesh's h2UpgradePolicy on top. And
 * the gRPC route features: a fault abort with a gRPC status, gRPC retry conditions.
 * Given this mesh, a request from this proxy goes to this cluster, which speaks this HTTP version.
 */
import { buildIndex, CompileCache, compile, configFor, makeSnapshot } from '../../runtime/compile';
import { compileMesh, GATEWAY, meshOf, ratingsEntry, runSimulations, sidecar, type Call } from './simulation';

const service = (name: string, port: string) => `
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec: { selector: { app: ${name} }, ports: [${port}] }
---`;

const SERVICES = [
  service('grpc', '{ name: grpc, port: 9000 }'),
  service('grpc-dash', '{ name: grpc-orders, port: 9001 }'),
  service('upper', '{ name: GRPC-Orders, port: 9002 }'),
  service('h2', '{ name: http2-api, port: 9003 }'),
  service('grpcweb', '{ name: grpc-web-ui, port: 9004 }'),
  service('h2c', '{ name: web, port: 9005, appProtocol: kubernetes.io/h2c }'),
  service('approto', '{ name: http, port: 9006, appProtocol: grpc }'),
  service('plain', '{ name: http-web, port: 9007, protocol: TCP }'),
  service('sniffed', '{ name: api, port: 9008 }'),
  service('db', '{ name: db, port: 9009, protocol: TCP }'),
  service('smtp', '{ name: mail, port: 25 }'),
].join('\n');

const ENTRIES = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: external, namespace: default }
spec:
  hosts: [grpc.example.org, h2.example.org, web.example.org, http.example.org, bare.example.org]
  location: MESH_EXTERNAL
  resolution: DNS
  ports:
  - { number: 9100, name: rpc, protocol: GRPC }
  - { number: 9101, name: h2, protocol: http2 }
  - { number: 9102, name: web, protocol: GRPC-WEB }
  - { number: 9103, name: grpc-named, protocol: HTTP }
  - { number: 9104, name: grpc-unset }
---`;

const out = (port: number, host: string) => `outbound|${port}||${host}`;
const k8s = (name: string) => `${name}.default.svc.cluster.local`;
const row = (name: string, host: string, port: number, upstreamProtocol: string, cluster = out(port, host)): Call => ({
  name,
  request: { host, port },
  expect: { outcome: 'routed', cluster, upstreamProtocol: upstreamProtocol as 'h2' },
});

runSimulations([
  {
    name: 'Kubernetes Service ports: the name prefix (any case) or appProtocol says HTTP/2; the L4 protocol does not',
    proxy: sidecar('default'),
    mesh: SERVICES,
    calls: [
      row('name grpc', k8s('grpc'), 9000, 'h2'),
      row('name grpc-orders', k8s('grpc-dash'), 9001, 'h2'),
      row('name GRPC-Orders (case-insensitive)', k8s('upper'), 9002, 'h2'),
      row('name http2-api', k8s('h2'), 9003, 'h2'),
      row('name grpc-web-ui: HTTP/2 upstream, as Istio (Envoy turns gRPC-Web into gRPC)', k8s('grpcweb'), 9004, 'h2'),
      row('appProtocol kubernetes.io/h2c', k8s('h2c'), 9005, 'h2'),
      row('appProtocol grpc wins over the name http', k8s('approto'), 9006, 'h2'),
      row('name http-web with protocol TCP: HTTP/1.1, routed as HTTP', k8s('plain'), 9007, 'http/1.1'),
      row('name api, no protocol: sniffed by Istio, the client’s version on a sidecar', k8s('sniffed'), 9008, 'client'),
      { name: 'name db with protocol TCP: proxied as TCP', request: { port: 9009 }, expect: { outcome: 'connection' } },
      { name: 'unnamed port 25 (SMTP, never sniffed): TCP', request: { port: 25 }, expect: { outcome: 'connection' } },
    ],
  },
  {
    name: 'ServiceEntry ports: the protocol field alone says HTTP/2 (the name does not)',
    proxy: sidecar('default'),
    mesh: ENTRIES,
    calls: [
      row('GRPC', 'grpc.example.org', 9100, 'h2'),
      row('http2 (any case)', 'h2.example.org', 9101, 'h2'),
      row('GRPC-WEB', 'web.example.org', 9102, 'h2'),
      row('HTTP, though named grpc-named', 'http.example.org', 9103, 'http/1.1'),
      row('no protocol: sniffed, the client’s version on a sidecar', 'bare.example.org', 9104, 'client'),
    ],
  },
  {
    name: 'at a gateway: HTTP2 and GRPC servers route HTTP; a sniffed port goes HTTP/1.1 (Istio keeps the client’s version on sidecars only)',
    proxy: GATEWAY,
    port: 443,
    mesh: `${SERVICES}
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: mast-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - { port: { number: 443, name: grpc, protocol: GRPC }, hosts: ["*"] }
  - { port: { number: 80, name: http2, protocol: HTTP2 }, hosts: ["*"] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge, namespace: default }
spec:
  hosts: [api.example.com]
  gateways: [mast-system/gw]
  http:
  - match: [{ uri: { prefix: /orders.Orders/ } }]
    route: [{ destination: { host: grpc, port: { number: 9000 } } }]
  - route: [{ destination: { host: sniffed, port: { number: 9008 } } }]
`,
    calls: [
      {
        name: 'a gRPC method on the GRPC server',
        request: { host: 'api.example.com', path: '/orders.Orders/Get', method: 'POST' },
        expect: { outcome: 'routed', cluster: out(9000, k8s('grpc')), upstreamProtocol: 'h2' },
      },
      {
        name: 'the HTTP2 server routes too',
        request: { host: 'api.example.com', port: 80, path: '/orders.Orders/Get' },
        expect: { outcome: 'routed', cluster: out(9000, k8s('grpc')), upstreamProtocol: 'h2' },
      },
      {
        name: 'a sniffed port from the gateway',
        request: { host: 'api.example.com', path: '/' },
        expect: { outcome: 'routed', cluster: out(9008, k8s('sniffed')), upstreamProtocol: 'http/1.1' },
      },
    ],
  },
  {
    name: 'DestinationRule h2UpgradePolicy and useClientProtocol, merged per subset and per port as Istio does',
    proxy: sidecar('default'),
    mesh: `${SERVICES}
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: plain, namespace: default }
spec:
  host: plain
  trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: UPGRADE } } }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 }, trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: DO_NOT_UPGRADE } } } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: grpc, namespace: default }
spec: { host: grpc, trafficPolicy: { connectionPool: { http: { useClientProtocol: true } } } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: h2, namespace: default }
spec:
  host: h2
  trafficPolicy:
    portLevelSettings: [{ port: { number: 9003 }, connectionPool: { http: { h2UpgradePolicy: DO_NOT_UPGRADE } } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: sniffed, namespace: default }
spec: { host: sniffed, trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: UPGRADE } } } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: plain, namespace: default }
spec:
  hosts: [plain]
  http:
  - match: [{ headers: { x-version: { exact: v1 } } }]
    route: [{ destination: { host: plain, subset: v1 } }]
  - match: [{ headers: { x-version: { exact: v2 } } }]
    route: [{ destination: { host: plain, subset: v2 } }]
  - route: [{ destination: { host: plain } }]
`,
    calls: [
      row('UPGRADE: an HTTP/1.1 port goes HTTP/2', k8s('plain'), 9007, 'h2'),
      {
        name: 'a subset without its own policy keeps the rule’s UPGRADE',
        request: { host: k8s('plain'), port: 9007, headers: { 'x-version': 'v1' } },
        expect: { cluster: 'outbound|9007|v1|plain.default.svc.cluster.local', upstreamProtocol: 'h2' },
      },
      {
        name: 'a subset’s DO_NOT_UPGRADE',
        request: { host: k8s('plain'), port: 9007, headers: { 'x-version': 'v2' } },
        expect: { cluster: 'outbound|9007|v2|plain.default.svc.cluster.local', upstreamProtocol: 'http/1.1' },
      },
      row('useClientProtocol on a gRPC port: the client’s version', k8s('grpc'), 9000, 'client'),
      row('DO_NOT_UPGRADE (port level) never downgrades an HTTP/2 port', k8s('h2'), 9003, 'h2'),
      row('UPGRADE on a sniffed port: a sidecar keeps the client’s version (set first, as Envoy)', k8s('sniffed'), 9008, 'client'),
    ],
  },
  {
    name: 'the mesh’s h2UpgradePolicy: UPGRADE upgrades ports declared HTTP, not sniffed ones; a rule’s DO_NOT_UPGRADE wins',
    proxy: sidecar('default'),
    mesh: `${SERVICES}
${service('legacy', '{ name: http, port: 9010 }')}
apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data: { mesh: "h2UpgradePolicy: UPGRADE\\n" }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: legacy, namespace: default }
spec: { host: legacy, trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: DO_NOT_UPGRADE } } } }
`,
    calls: [
      row('name http-web', k8s('plain'), 9007, 'h2'),
      row('a sniffed port', k8s('sniffed'), 9008, 'client'),
      row('DO_NOT_UPGRADE in the rule', k8s('legacy'), 9010, 'http/1.1'),
    ],
  },
]);

describe('fault abort with a gRPC status, and gRPC retry conditions', () => {
  runSimulations([
    {
      name: 'abort and retries on a gRPC service',
      proxy: sidecar('default'),
      mesh: `${SERVICES}
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: grpc, namespace: default }
spec:
  hosts: [grpc]
  http:
  - match: [{ uri: { exact: /orders.Orders/Get } }]
    fault: { abort: { grpcStatus: UNAVAILABLE, percentage: { value: 50 } } }
    route: [{ destination: { host: grpc } }]
  - match: [{ uri: { exact: /orders.Orders/Put } }]
    fault: { abort: { httpStatus: 503 } }
    route: [{ destination: { host: grpc } }]
  - route: [{ destination: { host: grpc } }]
    retries: { attempts: 3, retryOn: " unavailable, cancelled,deadline-exceeded ,resource-exhausted,internal,5xx,503" }
`,
      port: 9000,
      calls: [
        {
          name: 'a gRPC request gets UNAVAILABLE (14); any other request HTTP 200, as Envoy’s fault filter answers',
          request: { host: 'grpc', path: '/orders.Orders/Get' },
          random: 0.2,
          expect: { outcome: 'routed', status: 200, grpcStatus: 14 },
        },
        {
          name: 'outside the percentage: forwarded over HTTP/2',
          request: { host: 'grpc', path: '/orders.Orders/Get' },
          random: 0.7,
          expect: { status: undefined, grpcStatus: undefined, upstreamProtocol: 'h2' },
        },
        {
          name: 'an httpStatus abort carries no gRPC code (the proxy maps it for gRPC clients, as Envoy)',
          request: { host: 'grpc', path: '/orders.Orders/Put' },
          expect: { status: 503, grpcStatus: undefined },
        },
        {
          name: 'retryOn: gRPC and HTTP conditions, blanks around them dropped',
          request: { host: 'grpc', path: '/orders.Orders/List' },
          expect: {
            retries: {
              attempts: 3,
              retryOn: ['unavailable', 'cancelled', 'deadline-exceeded', 'resource-exhausted', 'internal', '5xx', '503'],
              perTryTimeoutMs: undefined,
            },
          },
        },
      ],
    },
  ]);

  test.each([
    ['OK', 0],
    ['CANCELLED', 1],
    ['DEADLINE_EXCEEDED', 4],
    ['RESOURCE_EXHAUSTED', 8],
    ['UNIMPLEMENTED', 12],
    ['UNAUTHENTICATED', 16],
  ])('grpcStatus %s is code %d', (name, code) => {
    const config = compileMesh(
      `${SERVICES}
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: grpc, namespace: default }
spec: { hosts: [grpc], http: [{ fault: { abort: { grpcStatus: ${name} } }, route: [{ destination: { host: grpc } }] }] }
`,
      sidecar('default'),
    );
    const route = config.listeners.find((l) => l.matchPort === 9000)!.virtualHosts![0].routes[0];
    expect(route.fault?.abort).toEqual({ status: 200, grpcStatus: code, fraction: 1 });
  });
});

describe('connection pool limits for HTTP/2', () => {
  const pool = (host: string, http: string) => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${host}, namespace: default }
spec: { host: ${host}, trafficPolicy: { connectionPool: { http: ${http} } } }
---`;
  const mesh = [
    SERVICES,
    pool('grpc', '{ http2MaxRequests: 500, maxConcurrentStreams: 50 }'),
    pool('plain', '{ http2MaxRequests: 20, maxConcurrentStreams: 50 }'),
    pool('h2', '{ http2MaxRequests: 0, maxConcurrentStreams: 0 }'),
  ].join('\n');
  const config = compileMesh(mesh, sidecar('default'));
  const cluster = (port: number, name: string) => config.clusters.find((c) => c.name === out(port, k8s(name)))!;

  test.each([
    ['an HTTP/2 cluster: both', 9000, 'grpc', { maxRequests: 500, maxConcurrentStreams: 50 }],
    [
      'an HTTP/1.1 cluster: requests in flight; streams per connection mean nothing there (Istio sets them on HTTP/2 only)',
      9007,
      'plain',
      { maxRequests: 20, maxConcurrentStreams: undefined },
    ],
    ['0 is unset (proto3), as Istio reads it: no limit', 9003, 'h2', { maxRequests: undefined, maxConcurrentStreams: undefined }],
  ])('%s', (_what, port, name, expected) => {
    const c = cluster(port as number, name as string);
    expect({ maxRequests: c.maxRequests, maxConcurrentStreams: c.maxConcurrentStreams }).toEqual(expected);
  });
});

describe('a sidecar’s inbound cluster to its app', () => {
  const appCluster = (yaml: string, labels: Record<string, string>, appPort: number) => {
    const config = compile(buildIndex(makeSnapshot(meshOf(yaml), 'v1')), {
      mode: 'sidecar',
      namespace: 'default',
      labels,
      inbound: { port: 15006, appPort },
    });
    return config.clusters.find((c) => c.name === `inbound|${appPort}||`)!;
  };

  test.each([
    ['a gRPC port (by number)', { app: 'grpc' }, 9000, 'h2'],
    ['an HTTP/1.1 port', { app: 'plain' }, 9007, undefined],
    ['a sniffed port: the client’s version', { app: 'sniffed' }, 9008, 'client'],
    ['a port no service declares', { app: 'grpc' }, 7777, undefined],
  ])('%s', (_what, labels, appPort, expected) => {
    expect(appCluster(SERVICES, labels, appPort as number).upstreamProtocol).toBe(expected);
  });

  test('mast local: the port a WorkloadEntry maps the ServiceEntry port’s name to', () => {
    const yaml = `
${ratingsEntry('{ number: 9080, name: grpc, protocol: GRPC }', 'workloadSelector: { labels: { app: ratings } }')}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ratings-1, namespace: default }
spec: { address: 127.0.0.1, ports: { grpc: 19080 }, labels: { app: ratings } }
`;
    expect(appCluster(yaml, { app: 'ratings' }, 19080).upstreamProtocol).toBe('h2');
    // Another service's workload on that port is not this one.
    expect(appCluster(yaml, { app: 'other' }, 19080).upstreamProtocol).toBeUndefined();
    // mast local points the WorkloadEntry's ports at the sidecar's inbound port: the app port's protocol is that one's.
    expect(appCluster(yaml.replace('grpc: 19080', 'grpc: 15006'), { app: 'ratings' }, 19080).upstreamProtocol).toBe('h2');
  });

  test('one app port named by an HTTP/1.1 and a gRPC service port: the client’s version (both kinds of call reach it)', () => {
    const yaml = `
${ratingsEntry('{ number: 9080, name: http, protocol: HTTP }, { number: 9090, name: grpc, protocol: GRPC }', 'workloadSelector: { labels: { app: ratings } }')}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ratings-1, namespace: default }
spec: { address: 127.0.0.1, ports: { http: 19080, grpc: 19080 }, labels: { app: ratings } }
`;
    expect(appCluster(yaml, { app: 'ratings' }, 19080).upstreamProtocol).toBe('client');
  });

  test('in a pod (no app port): one passthrough cluster, the HTTP version by each original destination port', () => {
    const yaml = `${SERVICES}
${service('multi', '{ name: grpc-api, port: 80, targetPort: 9090 }, { name: http-admin, port: 81, targetPort: 8081 }, { name: metrics, port: 82 }')}
`;
    const index = buildIndex(makeSnapshot(meshOf(yaml), 'v1'));
    const pod = (app: string, version = 'v1') => ({
      mode: 'sidecar' as const,
      namespace: 'default',
      labels: { app, version },
      inbound: { port: 15006 },
    });
    const passthrough = (app: string) => compile(index, pod(app)).clusters.find((c) => c.name === 'inbound|passthrough||')!;
    expect(passthrough('multi').upstreamProtocolByPort).toEqual({ 9090: 'h2', 82: 'client' });
    expect(passthrough('plain').upstreamProtocolByPort).toBeUndefined();
    // Two workloads no policy tells apart share a config only when their apps' ports speak alike (and the same services select them).
    const cache = new CompileCache(index);
    expect(configFor(cache, pod('multi'))).not.toBe(configFor(cache, pod('plain')));
    expect(configFor(cache, pod('plain'))).not.toBe(configFor(cache, pod('db')));
    expect(configFor(cache, pod('plain', 'v2'))).toBe(configFor(cache, pod('plain', 'v1')));
  });

  test('h2UpgradePolicy does not reach the inbound cluster (Istio upgrades outbound clusters only)', () => {
    const yaml = `${SERVICES}
apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data: { mesh: "h2UpgradePolicy: UPGRADE\\n" }
`;
    expect(appCluster(yaml, { app: 'plain' }, 9007).upstreamProtocol).toBeUndefined();
  });
});

describe("which listeners translate gRPC-Web (Istio adds Envoy's grpc_web filter on GRPC-WEB ports only)", () => {
  const webGateway = `${SERVICES}
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: mast-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - { port: { number: 8080, name: web, protocol: GRPC-WEB }, hosts: ["*"] }
  - { port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }
---`;
  const byPort = (listeners: { matchPort: number; grpcWeb?: unknown }[]) =>
    Object.fromEntries(listeners.map((l) => [l.matchPort, l.grpcWeb ?? false]));

  test('a gateway: the port of a GRPC-WEB server, not an HTTP one', () => {
    expect(byPort(compileMesh(webGateway, GATEWAY).listeners)).toEqual({ 80: false, 8080: true });
  });

  test("a sidecar's outbound: the port of a grpc-web service only", () => {
    const out = byPort(compileMesh(SERVICES, sidecar('default')).listeners);
    expect(out[9004]).toBe(true);
    expect([out[9000], out[9003], out[9008]]).toEqual([false, false, false]);
  });

  test("a sidecar's inbound: its app's grpc-web port (mast local), or in a pod the list of such ports by original destination", () => {
    const inbound = (appPort?: number) =>
      compile(buildIndex(makeSnapshot(meshOf(SERVICES), 'v1')), {
        mode: 'sidecar',
        namespace: 'default',
        labels: { app: 'grpcweb' },
        inbound: { port: 15006, ...(appPort ? { appPort } : {}) },
      }).listeners.find((l) => l.trafficDirection === 'INBOUND')!.grpcWeb;
    expect(inbound(9004)).toBe(true);
    expect(inbound()).toEqual([9004]);
    const grpcApp = compile(buildIndex(makeSnapshot(meshOf(SERVICES), 'v1')), {
      mode: 'sidecar',
      namespace: 'default',
      labels: { app: 'grpc' },
      inbound: { port: 15006, appPort: 9000 },
    });
    expect(grpcApp.listeners.find((l) => l.trafficDirection === 'INBOUND')!.grpcWeb).toBeUndefined();
  });
});
