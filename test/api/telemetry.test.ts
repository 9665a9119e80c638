/** Telemetry and the mesh config's tracing parts: what validates, what is refused, and what is reported as not applied. */
import { loadYaml, validate } from '../../api';

/** A Telemetry t in default with these spec lines, checked alone (its per-resource rules). */
const checkSpec = (spec: string) =>
  validate(
    loadYaml(`apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: { name: t, namespace: default }\nspec:${spec}`).objects,
    {
      scope: 'resource',
    },
  );

const codes = (yaml: string) => validate(loadYaml(yaml).objects, { scope: 'resource' }).map((f) => `${f.code} ${f.path}`);

test("Istio's tracing task Telemetry (sampling, custom tags of each kind, a provider) validates without findings", () => {
  expect(
    codes(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - providers: [{ name: otel-tracing }]
    randomSamplingPercentage: 10
    customTags:
      my_tag_literal: { literal: { value: foo } }
      my_tag_env: { environment: { name: ENV_VAR, defaultValue: unknown } }
      my_tag_header: { header: { name: x-user, defaultValue: anonymous } }
---
apiVersion: telemetry.istio.io/v1alpha1
kind: Telemetry
metadata: { name: reviews, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  tracing: [{ disableSpanReporting: true }]
`),
  ).toEqual([]);
});

test('a sampling percentage out of range, a tag of two kinds, several providers, an unserved version', () => {
  expect(
    codes(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: t, namespace: default }
spec:
  tracing:
  - randomSamplingPercentage: 150
    providers: [{ name: a }, { name: b }]
    customTags:
      both: { literal: { value: x }, header: { name: y } }
---
apiVersion: telemetry.istio.io/v2
kind: Telemetry
metadata: { name: u, namespace: default }
spec: {}
`),
  ).toEqual([
    'MAST0005 spec.tracing[0].randomSamplingPercentage',
    'MAST0131 spec.tracing[0].providers',
    'MAST0130 spec.tracing[0].customTags["both"]',
    'MAST0006 apiVersion',
  ]);
});

test('a one-sided tracing match and useRequestIdForTraceSampling are applied, as metrics and accessLogging', () => {
  const found = checkSpec(`
  metrics: [{ overrides: [{ match: { metric: REQUEST_COUNT }, disabled: true }] }]
  accessLogging: [{ filter: { expression: "response.code >= 400" } }]
  tracing: [{ match: { mode: SERVER }, useRequestIdForTraceSampling: false }, { match: { mode: CLIENT } }]
`);
  expect(found).toEqual([]);
});

test("metrics: Istio's webhook rules for tag overrides, a value that is not CEL, a custom metric, an unknown metric name", () => {
  const found = checkSpec(`
  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides:
        no_value: { operation: UPSERT }
        remove_with_value: { operation: REMOVE, value: request.host }
        not_cel: { value: "request.host ==" }
        fine: { value: "request.headers['x-user']" }
    - match: { customMetric: my_metric }
      disabled: true
    - match: { metric: REQUEST_COUNTS }
    reportingInterval: 10s
`);
  expect(found.map((f) => [f.code, f.severity, f.path])).toEqual([
    ['MAST0004', 'Error', 'spec.metrics[0].overrides[2].match.metric'],
    ['MAST0185', 'Error', 'spec.metrics[0].overrides[0].tagOverrides["no_value"].value'],
    ['MAST0185', 'Error', 'spec.metrics[0].overrides[0].tagOverrides["remove_with_value"].value'],
    ['MAST0186', 'Warning', 'spec.metrics[0].overrides[0].tagOverrides["not_cel"].value'],
    ['MAST0187', 'Warning', 'spec.metrics[0].overrides[1].match.customMetric'],
  ]);
  expect(found[3].message).toContain('"request.host ==" is not a CEL expression');
});

test('metrics providers: a Telemetry or the mesh defaults naming a provider that is not Prometheus (MAST0187)', () => {
  const found = validate(
    loadYaml(`apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    defaultProviders: { metrics: [prometheus, sd] }
    extensionProviders:
    - { name: sd, stackdriver: {} }
    - { name: prom2, prometheus: {} }
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: t, namespace: istio-system }
spec:
  metrics: [{ providers: [{ name: prom2 }, { name: sd }, { name: nowhere }] }]
`).objects,
  );
  expect(found.map((f) => [f.code, f.path])).toEqual([
    ['MAST0187', 'data.mesh.defaultProviders.metrics[1]'],
    ['MAST0187', 'spec.metrics[0].providers[1].name'],
    ['MAST0187', 'spec.metrics[0].providers[2].name'],
  ]);
});

const meshConfig = (mesh: string) => `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
${mesh
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
`;

test('mesh config: an OTLP/HTTP provider, the default provider and sampling validate', () => {
  expect(
    codes(
      meshConfig(`extensionProviders:
- name: otel-tracing
  opentelemetry:
    service: opentelemetry-collector.observability.svc.cluster.local
    port: 4318
    http: { path: /v1/traces, timeout: 5s }
defaultProviders: { tracing: [otel-tracing] }
defaultConfig: { tracing: { sampling: 100 } }`),
    ),
  ).toEqual([]);
});

test('mesh config: an OTLP/gRPC provider (no http) validates; a missing port, an unknown default provider and a bad sampling are errors', () => {
  const found = validate(
    loadYaml(
      meshConfig(`extensionProviders:
- name: grpc
  opentelemetry: { service: collector.observability.svc.cluster.local, port: 4317 }
- name: broken
  opentelemetry: { service: collector, http: { path: /v1/traces } }
defaultProviders: { tracing: [nowhere] }
defaultConfig: { tracing: { sampling: 200 } }`),
    ).objects,
    { scope: 'resource' },
  );
  expect(found.map((f) => [f.code, f.severity, f.path])).toEqual([
    ['MAST0132', 'Error', 'data.mesh.extensionProviders[1].opentelemetry.port'],
    ['MAST0132', 'Error', 'data.mesh.defaultProviders.tracing[0]'],
    ['MAST0132', 'Error', 'data.mesh.defaultConfig.tracing.sampling'],
  ]);
});

test('mesh config: a zipkin provider validates; a bad one is MAST0183, its timeout/headers MAST0301, another tracer kind MAST0184', () => {
  const found = (mesh: string) =>
    validate(loadYaml(meshConfig(mesh)).objects, { scope: 'resource' }).map((f) => [f.code, f.severity, f.path]);
  expect(
    found(`extensionProviders:
- name: zipkin
  zipkin: { service: zipkin.istio-system.svc.cluster.local, port: 9411, maxTagLength: 56, enable64bitTraceId: true, path: /api/v2/spans }
defaultProviders: { tracing: [zipkin] }`),
  ).toEqual([]);
  expect(
    found(`extensionProviders:
- name: zipkin
  zipkin: { service: zipkin, port: 0, traceContextOption: W3C_ONLY, timeout: 1s }
- name: sky
  skywalking: { service: tracing.istio-system.svc.cluster.local, port: 11800 }`),
  ).toEqual([
    ['MAST0183', 'Error', 'data.mesh.extensionProviders[0].zipkin.port'],
    ['MAST0183', 'Error', 'data.mesh.extensionProviders[0].zipkin.traceContextOption'],
    ['MAST0301', 'Warning', 'data.mesh.extensionProviders[0].zipkin.timeout'],
    ['MAST0184', 'Warning', 'data.mesh.extensionProviders[1].skywalking'],
  ]);
});

test("mesh config: defaultConfig.tracing's customTags and max_path_tag_length are applied (either spelling); bad ones are errors", () => {
  const found = (tracing: string) =>
    validate(loadYaml(meshConfig(`defaultConfig:\n  tracing: ${tracing}`)).objects, { scope: 'resource' }).map((f) => [f.code, f.path]);
  expect(
    found('{ sampling: 10, max_path_tag_length: 256, custom_tags: { clusterID: { environment: { name: ISTIO_META_CLUSTER_ID } } } }'),
  ).toEqual([]);
  expect(found('{ maxPathTagLength: -1, customTags: { x: {} }, zipkin: { address: "z:9411" } }')).toEqual([
    ['MAST0132', 'data.mesh.defaultConfig.tracing.maxPathTagLength'],
    ['MAST0130', 'data.mesh.defaultConfig.tracing.customTags["x"]'],
    ['MAST0301', 'data.mesh.defaultConfig.tracing.zipkin'],
  ]);
});

test('accessLogging: a filter expression that is not CEL is an error with the parse error; a mode out of the enum is one too', () => {
  const found = checkSpec(`
  accessLogging:
  - providers: [{ name: envoy }]
    filter: { expression: "response.code >= 400" }
  - providers: [{ name: envoy }]
    match: { mode: BOTH }
    filter: { expression: "response.code >= " }
`);
  expect(found.map((f) => [f.code, f.path])).toEqual([
    ['MAST0004', 'spec.accessLogging[1].match.mode'],
    ['MAST0161', 'spec.accessLogging[1].filter.expression'],
  ]);
  expect(found[1].message).toMatch(/^"response.code >= " is not a CEL expression: .+/);
});

test('accessLogging providers: one the mesh config has not, or one that logs nothing, is a Warning MAST0165 (Istio skips it in silence)', () => {
  const found = validate(
    loadYaml(`apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    extensionProviders:
    - name: otel
      envoyOtelAls: { service: otel.istio-system.svc.cluster.local, port: 4317 }
    - name: file
      envoyFileAccessLog: { path: /tmp/a.log }
    - name: als
      envoyTcpAls: { service: als.istio-system.svc.cluster.local, port: 9000 }
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: t, namespace: default }
spec:
  accessLogging:
  - providers: [{ name: envoy }, { name: file }, { name: otel }, { name: als }, { name: loki }]
`).objects,
  ).filter((f) => f.code === 'MAST0165');
  expect(found.map((f) => [f.severity, f.path, f.message])).toEqual([
    [
      'Warning',
      'spec.accessLogging[0].providers[3].name',
      'provider "als" is envoyTcpAls; mast-proxy writes access logs to files (envoyFileAccessLog) and OpenTelemetry collectors (envoyOtelAls): nothing is logged for it',
    ],
    [
      'Warning',
      'spec.accessLogging[0].providers[4].name',
      'no extension provider named "loki" in the mesh config (nor the built-in "envoy"): nothing is logged for it',
    ],
  ]);
});
