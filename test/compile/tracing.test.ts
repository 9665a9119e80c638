/**
 * Tracing per proxy from the mesh config and the Telemetries that apply, merged as Istio merges
 * them (root namespace → namespace → selector), with Istio's defaults: compile → the proxy's
 * `tracing`, or none when no provider applies.
 */
import { loadYaml, type KubeObject } from '../../api';
import { buildIndex, compile, configFor, CompileCache, makeSnapshot } from '../../runtime/compile';
import { base, details, GATEWAY, mesh, reviewsV1, reviewsV2 } from './telemetry-mesh';

const OTEL = `extensionProviders:
- name: otel
  opentelemetry: { service: observability/collector.observability.svc.cluster.local, port: 4318, http: { path: v1/traces } }
- name: other
  opentelemetry: { service: other-collector, port: 9411, http: { path: /api/traces } }
`;
const telemetry = (yaml: string) => loadYaml(yaml).objects;
const tracingOf = (objects: KubeObject[], proxy: Parameters<typeof compile>[1] = reviewsV1) =>
  compile(buildIndex(makeSnapshot(objects, 'v1')), proxy).tracing;

test('no provider in the mesh config, or none chosen: no tracing (Istio: no tracer)', () => {
  expect(tracingOf(base)).toBeUndefined();
  expect(tracingOf([...base, mesh(OTEL)])).toBeUndefined();
});

test("defaultProviders.tracing: every proxy traces at Istio's default 1 %, exporting to the provider over OTLP/HTTP", () => {
  const t = tracingOf([...base, mesh(`${OTEL}defaultProviders: { tracing: [otel] }\n`)]);
  expect(t).toEqual({
    samplingPercent: 1,
    // `<namespace>/<host>` is the host; a path without its slash gets one.
    collector: { host: 'collector.observability.svc.cluster.local', port: 4318, path: '/v1/traces' },
    serviceName: 'reviews.default',
    tags: [
      { name: 'istio.canonical_revision', literal: 'v1' },
      { name: 'istio.canonical_service', literal: 'reviews' },
      { name: 'istio.mesh_id', literal: 'cluster.local' },
      { name: 'istio.namespace', literal: 'default' },
    ],
    inboundOperations: {
      '*': 'reviews.default.svc.cluster.local:9080/*',
      '9080': 'reviews.default.svc.cluster.local:9080/*',
      '19001': 'reviews.default.svc.cluster.local:9080/*',
    },
  });
  expect(tracingOf([...base, mesh(`${OTEL}defaultProviders: { tracing: [otel] }\n`)], GATEWAY)).toMatchObject({
    serviceName: 'istio-ingressgateway.default',
    tags: expect.arrayContaining([{ name: 'istio.canonical_service', literal: 'istio-ingressgateway' }]),
  });
});

test("a provider without http is OTLP/gRPC to service:port, as Istio configures Envoy (the collector's 4317)", () => {
  const grpc = `extensionProviders:
- name: otel
  opentelemetry: { service: opentelemetry-collector.observability.svc.cluster.local, port: 4317 }
defaultProviders: { tracing: [otel] }
`;
  expect(tracingOf([...base, mesh(grpc)])?.collector).toEqual({
    host: 'opentelemetry-collector.observability.svc.cluster.local',
    port: 4317,
    path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    protocol: 'grpc',
  });
});

test('enableIstioTags: false leaves the istio.* tags out, the custom ones in', () => {
  const t = tracingOf([
    ...base,
    mesh(OTEL),
    ...telemetry(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - providers: [{ name: otel }]
    enableIstioTags: false
    customTags: { team: { literal: { value: a } } }
`),
  ]);
  expect(t?.tags).toEqual([{ name: 'team', literal: 'a' }]);
});

test.each([
  ['defaultConfig.tracing.sampling', 'defaultConfig: { tracing: { sampling: 25 } }\n', 25],
  // istiod reads a sampling over 100 as 1.
  ['a sampling over 100', 'defaultConfig: { tracing: { sampling: 250 } }\n', 1],
])('%s', (_what, extra, percent) => {
  expect(tracingOf([...base, mesh(`${OTEL}defaultProviders: { tracing: [otel] }\n${extra}`)])?.samplingPercent).toBe(percent);
});

describe('Telemetry merged root namespace → namespace → selector', () => {
  const objects = [
    ...base,
    mesh(`${OTEL}defaultConfig: { tracing: { sampling: 25 } }\n`),
    ...telemetry(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - providers: [{ name: otel }]
    randomSamplingPercentage: 10
    customTags:
      cluster: { literal: { value: east } }
      user: { header: { name: End-User, defaultValue: anonymous } }
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ns, namespace: default }
spec:
  tracing:
  - randomSamplingPercentage: 50
    customTags:
      cluster: { literal: { value: west } }
      region: { environment: { name: REGION } }
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: reviews-v2, namespace: default }
spec:
  selector: { matchLabels: { app: reviews, version: v2 } }
  tracing: [{ randomSamplingPercentage: 100, disableSpanReporting: true }]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: details, namespace: default }
spec:
  selector: { matchLabels: { app: details } }
  tracing: [{ providers: [{ name: other }] }]
`),
  ];

  test("the namespace's overrides the root's sampling and its customTags whole (istiod's shallow merge); the root's provider stays", () => {
    const t = tracingOf(objects)!;
    expect(t.samplingPercent).toBe(50);
    expect(t.collector?.port).toBe(4318);
    expect(t.tags.slice(4)).toEqual([
      { name: 'cluster', literal: 'west' },
      { name: 'region', environment: 'REGION' },
    ]);
  });

  test('a selector picks its workload only: reviews v2 with disableSpanReporting is not traced at all (istiod: no tracing on its listeners)', () => {
    expect(tracingOf(objects, reviewsV2)).toBeUndefined();
    expect(tracingOf(objects, reviewsV1)).toBeDefined();
  });

  test('a workload Telemetry may name another provider', () => {
    expect(tracingOf(objects, details)?.collector).toEqual({ host: 'other-collector', port: 9411, path: '/api/traces' });
  });

  test('a gateway in another namespace gets the root namespace only', () => {
    const gw = { ...GATEWAY, namespace: 'mast-system' };
    expect(tracingOf(objects, gw)).toMatchObject({
      samplingPercent: 10,
      tags: expect.arrayContaining([{ name: 'cluster', literal: 'east' }]),
    });
  });

  test('a traced mesh gives each workload its own config (its service name), not one shared by the namespace', () => {
    const cache = new CompileCache(buildIndex(makeSnapshot(objects, 'v1')));
    const v1 = configFor(cache, reviewsV1);
    const d = configFor(cache, { ...details, inbound: reviewsV1.inbound });
    expect(v1).not.toBe(d);
    expect(d.tracing?.serviceName).toBe('details.default');
  });
});

describe("a zipkin provider, as istiod configures Envoy's Zipkin tracer", () => {
  const zipkin = (fields: string) => `extensionProviders:
- name: zipkin
  zipkin: { service: zipkin.istio-system.svc.cluster.local, port: 9411${fields} }
defaultProviders: { tracing: [zipkin] }
`;
  test('v2 JSON to /api/v2/spans, B3 sent upstream, 128-bit ids', () => {
    expect(tracingOf([...base, mesh(zipkin(''))])).toMatchObject({
      collector: { host: 'zipkin.istio-system.svc.cluster.local', port: 9411, path: '/api/v2/spans', protocol: 'zipkin' },
      b3: 'B3',
    });
    expect(tracingOf([...base, mesh(zipkin(''))])).not.toHaveProperty('traceId64');
  });
  test('path, maxTagLength and enable64bitTraceId taken', () => {
    expect(tracingOf([...base, mesh(zipkin(', path: zipkin/spans, maxTagLength: 99, enable64bitTraceId: true'))])).toMatchObject({
      collector: { path: '/zipkin/spans', protocol: 'zipkin' },
      maxPathTagLength: 99,
      traceId64: true,
    });
  });
});

describe('Telemetry tracing match.mode: the client and server sides merged apart, as istiod', () => {
  const only = (mode: string, extra = '') =>
    telemetry(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - providers: [{ name: otel }]
    match: { mode: ${mode} }
${extra}`);
  test.each([
    ['CLIENT', 'CLIENT'],
    ['SERVER', 'SERVER'],
  ])('mode %s alone, no default provider: a sidecar traces its %s side only', (mode, side) => {
    expect(tracingOf([...base, mesh(OTEL), ...only(mode)])?.only).toBe(side);
  });
  test('CLIENT_AND_SERVER: both sides', () => {
    expect(tracingOf([...base, mesh(OTEL), ...only('CLIENT_AND_SERVER')])).not.toHaveProperty('only');
  });
  test('a gateway is a client: traced under mode CLIENT, not under mode SERVER', () => {
    expect(tracingOf([...base, mesh(OTEL), ...only('CLIENT')], GATEWAY)).toBeDefined();
    expect(tracingOf([...base, mesh(OTEL), ...only('CLIENT')], GATEWAY)).not.toHaveProperty('only');
    expect(tracingOf([...base, mesh(OTEL), ...only('SERVER')], GATEWAY)).toBeUndefined();
  });
  test('with a default provider, a mode entry changes its side only (here its sampling and tags)', () => {
    const t = tracingOf([
      ...base,
      mesh(`${OTEL}defaultProviders: { tracing: [otel] }\n`),
      ...only('SERVER', '    randomSamplingPercentage: 100\n    customTags: { side: { literal: { value: server } } }'),
    ]);
    expect(t).not.toHaveProperty('only');
    expect(t?.samplingPercent).toBe(1);
    expect(t?.tags).not.toContainEqual({ name: 'side', literal: 'server' });
    expect(t?.server?.samplingPercent).toBe(100);
    expect(t?.server?.tags).toContainEqual({ name: 'side', literal: 'server' });
    // The same settings on both sides: no server part.
    expect(tracingOf([...base, mesh(`${OTEL}defaultProviders: { tracing: [otel] }\n`), ...only('SERVER', '')])).not.toHaveProperty(
      'server',
    );
  });
});

test("defaultConfig.tracing's customTags and maxPathTagLength (either spelling) where no Telemetry sets tags and no provider maxTagLength", () => {
  const withDefaults = (telemetryTags: string, providerLength = '') => [
    ...base,
    mesh(`extensionProviders:
- name: zipkin
  zipkin: { service: zipkin.istio-system.svc.cluster.local, port: 9411${providerLength} }
defaultProviders: { tracing: [zipkin] }
defaultConfig:
  tracing:
    max_path_tag_length: 64
    custom_tags:
      clusterID: { environment: { name: ISTIO_META_CLUSTER_ID } }
`),
    ...telemetry(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing: [{ randomSamplingPercentage: 100${telemetryTags} }]
`),
  ];
  const own = (t: ReturnType<typeof tracingOf>) => t?.tags.filter((x) => !x.name.startsWith('istio.'));
  const t = tracingOf(withDefaults(''));
  expect([own(t), t?.maxPathTagLength]).toEqual([[{ name: 'clusterID', environment: 'ISTIO_META_CLUSTER_ID' }], 64]);
  // A Telemetry's tags replace the mesh config's; the provider's maxTagLength wins.
  const u = tracingOf(withDefaults(', customTags: { team: { literal: { value: a } } }', ', maxTagLength: 8'));
  expect([own(u), u?.maxPathTagLength]).toEqual([[{ name: 'team', literal: 'a' }], 8]);
});
