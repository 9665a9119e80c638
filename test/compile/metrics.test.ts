/**
 * Istio's standard metrics per proxy from the Telemetries that apply and the mesh config, merged as
 * istiod's mergeMetrics (root namespace → namespace → selector; per provider and side): compile →
 * the proxy's `metrics`, or none when it reports the standard metrics as they are. The cases are the
 * ones of Istio's telemetry-api metrics task.
 */
import type { KubeObject } from '../../api';
import { buildIndex, compile, configFor, CompileCache, equivalenceKey, makeSnapshot } from '../../runtime/compile';
import { base, details, GATEWAY, mesh, reviewsV1, telemetry } from './telemetry-mesh';

const metricsOf = (objects: KubeObject[], proxy: Parameters<typeof compile>[1] = reviewsV1) =>
  compile(buildIndex(makeSnapshot(objects, 'v1')), proxy).metrics;

test("nothing said, or only the mesh config naming Istio's default provider: the standard metrics, no `metrics` in the config", () => {
  expect(metricsOf(base)).toBeUndefined();
  expect(metricsOf([...base, mesh('defaultProviders:\n  metrics: [prometheus]\n')])).toBeUndefined();
  expect(metricsOf([...base, ...telemetry('t', 'istio-system', '  metrics:\n  - providers: [{name: prometheus}]')])).toBeUndefined();
});

test("REQUEST_COUNT without grpc_response_status on both sides (the task's remove-tags)", () => {
  const remove = telemetry(
    'remove-tags',
    'istio-system',
    `  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {mode: CLIENT_AND_SERVER, metric: REQUEST_COUNT}
      tagOverrides:
        grpc_response_status: {operation: REMOVE}`,
  );
  const side = { overrides: [{ metric: 'REQUEST_COUNT', tags: [{ name: 'grpc_response_status' }] }] };
  expect(metricsOf([...base, ...remove])).toEqual({ server: side, client: side });
  expect(metricsOf([...base, ...remove], GATEWAY)).toEqual({ server: side, client: side });
});

test("custom tags by side from the peers (the task's custom-tags): CLIENT destination_x, SERVER source_x, on every metric", () => {
  const custom = telemetry(
    'custom-tags',
    'istio-system',
    `  metrics:
  - overrides:
    - match: {metric: ALL_METRICS, mode: CLIENT}
      tagOverrides:
        destination_x: {value: "upstream_peer.labels['app'].value"}
    - match: {metric: ALL_METRICS, mode: SERVER}
      tagOverrides:
        source_x: {value: "downstream_peer.labels['app'].value"}
    providers: [{name: prometheus}]`,
  );
  const m = metricsOf([...base, ...custom]);
  expect(m?.client.overrides?.map((o) => o.metric)).toEqual([
    'GRPC_REQUEST_MESSAGES',
    'GRPC_RESPONSE_MESSAGES',
    'REQUEST_COUNT',
    'REQUEST_DURATION',
    'REQUEST_SIZE',
    'RESPONSE_SIZE',
    'TCP_CLOSED_CONNECTIONS',
    'TCP_OPENED_CONNECTIONS',
    'TCP_RECEIVED_BYTES',
    'TCP_SENT_BYTES',
  ]);
  expect(new Set(m?.client.overrides?.map((o) => JSON.stringify(o.tags)))).toEqual(
    new Set([JSON.stringify([{ name: 'destination_x', value: "upstream_peer.labels['app'].value" }])]),
  );
  expect(m?.server.overrides?.[0].tags).toEqual([{ name: 'source_x', value: "downstream_peer.labels['app'].value" }]);
});

test('disabling: all metrics, REQUEST_COUNT on both sides, for the client only, for the server only', () => {
  const disable = (mode: string, metric: string) =>
    telemetry(
      'd',
      'istio-system',
      `  metrics:\n  - providers: [{name: prometheus}]\n    overrides:\n    - disabled: true\n      match: {mode: ${mode}, metric: ${metric}}`,
    );
  expect(metricsOf([...base, ...disable('CLIENT_AND_SERVER', 'ALL_METRICS')])).toEqual({
    server: { disabled: true },
    client: { disabled: true },
  });
  const count = { overrides: [{ metric: 'REQUEST_COUNT', disabled: true }] };
  expect(metricsOf([...base, ...disable('CLIENT_AND_SERVER', 'REQUEST_COUNT')])).toEqual({ server: count, client: count });
  expect(metricsOf([...base, ...disable('CLIENT', 'REQUEST_COUNT')])).toEqual({ server: {}, client: count });
  expect(metricsOf([...base, ...disable('SERVER', 'REQUEST_COUNT')])).toEqual({ server: count, client: {} });
  // An override without a match is every metric on both sides, as Istio reads it.
  expect(metricsOf([...base, ...telemetry('d', 'istio-system', '  metrics:\n  - overrides:\n    - disabled: true')])).toEqual({
    server: { disabled: true },
    client: { disabled: true },
  });
});

test('levels: the root disables all, a namespace re-enables by overriding; a workload Telemetry adds its own tag on top', () => {
  const root = telemetry('off', 'istio-system', '  metrics:\n  - overrides:\n    - disabled: true\n      match: {metric: ALL_METRICS}');
  const ns = telemetry('on', 'default', '  metrics:\n  - overrides:\n    - disabled: false\n      match: {metric: REQUEST_COUNT}');
  expect(metricsOf([...base, ...root])).toEqual({ server: { disabled: true }, client: { disabled: true } });
  // Istio then reports every metric again (a later override for the side lifts the "all disabled").
  expect(metricsOf([...base, ...root, ...ns])).toBeUndefined();
  const workload = telemetry(
    'mine',
    'default',
    `  selector: {matchLabels: {app: reviews}}
  metrics:
  - overrides:
    - match: {metric: REQUEST_COUNT, mode: SERVER}
      tagOverrides: {request_host: {value: request.host}}`,
  );
  const objects = [...base, ...root, ...ns, ...workload];
  expect(metricsOf(objects)).toEqual({
    server: { overrides: [{ metric: 'REQUEST_COUNT', tags: [{ name: 'request_host', value: 'request.host' }] }] },
    client: {},
  });
  // details is not selected; its config says nothing (and the two are told apart: no shared config).
  expect(metricsOf(objects, details)).toBeUndefined();
  const index = buildIndex(makeSnapshot(objects, 'v1'));
  expect(equivalenceKey(index, reviewsV1)).not.toEqual(equivalenceKey(index, { ...reviewsV1, labels: { app: 'ratings' } }));
  const cache = new CompileCache(index);
  expect(configFor(cache, reviewsV1).metrics).toBeDefined();
});

test('providers: none Prometheus in scope reports no Istio metric; an extension provider of kind prometheus counts', () => {
  expect(metricsOf([...base, mesh('defaultProviders:\n  metrics: []\n')])).toEqual({
    server: { disabled: true },
    client: { disabled: true },
  });
  const sd = telemetry('sd', 'istio-system', '  metrics:\n  - providers: [{name: stackdriver}]');
  expect(metricsOf([...base, mesh('extensionProviders:\n- name: stackdriver\n  stackdriver: {}\n'), ...sd])).toEqual({
    server: { disabled: true },
    client: { disabled: true },
  });
  const prom = telemetry(
    'p',
    'istio-system',
    '  metrics:\n  - providers: [{name: prom2}]\n    overrides:\n    - match: {metric: REQUEST_SIZE}\n      disabled: true',
  );
  const size = { overrides: [{ metric: 'REQUEST_SIZE', disabled: true }] };
  expect(metricsOf([...base, mesh('extensionProviders:\n- name: prom2\n  prometheus: {}\n'), ...prom])).toEqual({
    server: size,
    client: size,
  });
});
