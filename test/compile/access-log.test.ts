/**
 * Access logs per proxy from the mesh config and the Telemetries that apply, merged as istiod
 * merges them (root namespace → namespace → selector, per side: SERVER a sidecar's inbound, CLIENT
 * its outbound and a gateway): compile → the proxy's `accessLogs`, or none when nothing says
 * anything (the proxy's --access-log flag then applies).
 */
import { ISTIO_JSON_LABELS, ISTIO_TEXT_FORMAT, loadYaml, type KubeObject } from '../../api';
import { buildIndex, compile, configFor, CompileCache, equivalenceKey, makeSnapshot } from '../../runtime/compile';
import { base, details, GATEWAY, mesh, reviewsV1, telemetry } from './telemetry-mesh';

const logsOf = (objects: KubeObject[], proxy: Parameters<typeof compile>[1] = reviewsV1) =>
  compile(buildIndex(makeSnapshot(objects, 'v1')), proxy).accessLogs;
const TEXT = { text: ISTIO_TEXT_FORMAT };
const envoy = (filter?: string) => ({ provider: 'envoy', path: '/dev/stdout', format: TEXT, ...(filter ? { filter } : {}) });

test('nothing said (no accessLogFile, no Telemetry accessLogging): no access logs in the config', () => {
  expect(logsOf(base)).toBeUndefined();
  expect(logsOf([...base, mesh('accessLogFile: ""\n')])).toBeUndefined();
  // A gateway too: its --access-log flag applies (mast local's gateways log through it).
  expect(logsOf(base, GATEWAY)).toBeUndefined();
});

test("accessLogFile: both sides of a sidecar and a gateway log there, in Istio's TEXT default; JSON and formats as given", () => {
  const legacy = { provider: 'accessLogFile', path: '/dev/stdout', format: TEXT };
  expect(logsOf([...base, mesh('accessLogFile: /dev/stdout\n')])).toEqual({ server: [legacy], client: [legacy] });
  expect(logsOf([...base, mesh('accessLogFile: /dev/stdout\n')], GATEWAY)).toEqual({ server: [], client: [legacy] });
  expect(logsOf([...base, mesh('accessLogFile: /var/log/a.log\naccessLogEncoding: JSON\n')])?.client).toEqual([
    { provider: 'accessLogFile', path: '/var/log/a.log', format: { json: ISTIO_JSON_LABELS } },
  ]);
  expect(logsOf([...base, mesh('accessLogFile: /dev/stdout\naccessLogFormat: "%RESPONSE_CODE%"\n')])?.client[0].format).toEqual({
    text: '%RESPONSE_CODE%\n',
  });
  expect(
    logsOf([...base, mesh(`accessLogFile: /dev/stdout\naccessLogEncoding: JSON\naccessLogFormat: '{"code":"%RESPONSE_CODE%"}'\n`)])
      ?.client[0].format,
  ).toEqual({ json: { code: '%RESPONSE_CODE%' } });
});

test('a root Telemetry enabling the envoy provider logs both sides; the built-in provider follows the mesh encoding', () => {
  const on = telemetry('mesh-default', 'istio-system', '  accessLogging:\n  - providers: [{ name: envoy }]');
  expect(logsOf([...base, ...on])).toEqual({ server: [envoy()], client: [envoy()] });
  expect(logsOf([...base, ...on, mesh('accessLogEncoding: JSON\n')])?.server[0].format).toEqual({ json: ISTIO_JSON_LABELS });
});

test('a workload Telemetry with disabled: true turns that workload off, the others keep logging', () => {
  const objects = [
    ...base,
    ...telemetry('mesh-default', 'istio-system', '  accessLogging:\n  - providers: [{ name: envoy }]'),
    ...telemetry('disable-reviews', 'default', '  selector: { matchLabels: { app: reviews } }\n  accessLogging:\n  - disabled: true'),
  ];
  expect(logsOf(objects)).toEqual({ server: [], client: [] });
  expect(logsOf(objects, details)).toEqual({ server: [envoy()], client: [envoy()] });
  // Their labels now tell them apart: not one shared config.
  const index = buildIndex(makeSnapshot(objects, 'v1'));
  expect(equivalenceKey(index, reviewsV1)).not.toBe(equivalenceKey(index, details));
  expect(configFor(new CompileCache(index), details).accessLogs?.server).toHaveLength(1);
});

test('match.mode SERVER disables only the inbound side; a filter applies to the side it matches', () => {
  const objects = [
    ...base,
    ...telemetry('mesh-default', 'istio-system', '  accessLogging:\n  - providers: [{ name: envoy }]'),
    ...telemetry(
      'reviews',
      'default',
      `  selector: { matchLabels: { app: reviews } }
  accessLogging:
  - providers: [{ name: envoy }]
    match: { mode: SERVER }
    disabled: true
  - providers: [{ name: envoy }]
    match: { mode: CLIENT }
    filter: { expression: "response.code >= 400" }`,
    ),
  ];
  expect(logsOf(objects)).toEqual({ server: [], client: [envoy('response.code >= 400')] });
});

test('a namespace Telemetry overrides the root one; the workload one overrides both (filter last given wins)', () => {
  const objects = [
    ...base,
    ...telemetry('mesh-default', 'istio-system', '  accessLogging:\n  - providers: [{ name: envoy }]'),
    ...telemetry('ns', 'default', '  accessLogging:\n  - providers: [{ name: envoy }]\n    filter: { expression: "response.code >= 500" }'),
    ...telemetry(
      'w',
      'default',
      '  selector: { matchLabels: { app: details } }\n  accessLogging:\n  - providers: [{ name: envoy }]\n    filter: { expression: "response.code >= 400" }',
    ),
  ];
  expect(logsOf(objects)?.client).toEqual([envoy('response.code >= 500')]);
  expect(logsOf(objects, details)?.client).toEqual([envoy('response.code >= 400')]);
  // A gateway in another namespace: only the root's.
  expect(logsOf(objects, { ...GATEWAY, namespace: 'istio-system' })).toEqual({ server: [], client: [envoy()] });
});

test('envoyFileAccessLog providers: path and text or labels; defaultProviders.accessLogging enables them without a Telemetry', () => {
  const providers = `extensionProviders:
- name: json-file
  envoyFileAccessLog: { path: /tmp/mesh.log, logFormat: { labels: { code: "%RESPONSE_CODE%" } } }
- name: plain
  envoyFileAccessLog: { logFormat: { text: "%REQ(:METHOD)% %RESPONSE_CODE%" } }
- name: otel-als
  envoyOtelAls: { service: otel.istio-system.svc.cluster.local, port: 4317 }
`;
  expect(logsOf([...base, mesh(`${providers}defaultProviders: { accessLogging: [json-file, plain, otel-als] }\n`)])?.client).toEqual([
    { provider: 'json-file', path: '/tmp/mesh.log', format: { json: { code: '%RESPONSE_CODE%' } } },
    // An envoyOtelAls provider: Istio's default TEXT format as the body, its collector's host and port, Istio's default log name.
    {
      provider: 'otel-als',
      path: '',
      format: TEXT,
      otlp: { host: 'otel.istio-system.svc.cluster.local', port: 4317, logName: 'otel_envoy_accesslog' },
    },
    { provider: 'plain', path: '/dev/stdout', format: { text: '%REQ(:METHOD)% %RESPONSE_CODE%\n' } },
  ]);
});

test("envoyOtelAls as istiod builds it: text as given (no newline added, never the mesh config's format), labels as attributes by name, logName, <namespace>/<host>", () => {
  const otel = mesh(`accessLogFormat: '%RESPONSE_CODE%'
extensionProviders:
- name: otel
  envoyOtelAls:
    service: istio-system/opentelemetry-collector.istio-system.svc.cluster.local
    port: 4317
    logName: mesh-logs
    logFormat:
      text: '%REQ(:METHOD)% %RESPONSE_CODE%'
      labels: { pod: '%ENVIRONMENT(POD_NAME)%', cluster: '%ENVIRONMENT(ISTIO_META_CLUSTER_ID)%' }
- name: labels-only
  envoyOtelAls: { service: collector, port: 4317, logFormat: { labels: { code: '%RESPONSE_CODE%' } } }
`);
  const root = telemetry(
    'mesh-logging-default',
    'istio-system',
    '  accessLogging:\n  - providers: [{ name: otel }, { name: labels-only }]',
  );
  expect(logsOf([...base, otel, ...root])).toEqual({
    server: [
      {
        provider: 'labels-only',
        path: '',
        format: TEXT,
        otlp: { host: 'collector', port: 4317, logName: 'otel_envoy_accesslog', attributes: { code: '%RESPONSE_CODE%' } },
      },
      {
        provider: 'otel',
        path: '',
        format: { text: '%REQ(:METHOD)% %RESPONSE_CODE%' },
        otlp: {
          host: 'opentelemetry-collector.istio-system.svc.cluster.local',
          port: 4317,
          logName: 'mesh-logs',
          attributes: { cluster: '%ENVIRONMENT(ISTIO_META_CLUSTER_ID)%', pod: '%ENVIRONMENT(POD_NAME)%' },
        },
      },
    ],
    client: expect.any(Array),
  });
  expect(Object.keys(logsOf([...base, otel, ...root])!.server[1].otlp!.attributes!)).toEqual(['cluster', 'pod']);
});

test("a side no Telemetry gives a provider that writes a file falls back to accessLogFile, as istiod's listeners do; a disabled one does not", () => {
  const legacy = { provider: 'accessLogFile', path: '/var/log/mesh.log', format: TEXT };
  const file = mesh('accessLogFile: /var/log/mesh.log\nextensionProviders:\n- name: als\n  envoyHttpAls: { service: als, port: 9000 }\n');
  // Only the server side named: the client side keeps the mesh config's file.
  const serverOnly = telemetry('s', 'default', '  accessLogging:\n  - providers: [{ name: envoy }]\n    match: { mode: SERVER }');
  expect(logsOf([...base, file, ...serverOnly])).toEqual({
    server: [{ provider: 'envoy', path: '/dev/stdout', format: TEXT }],
    client: [legacy],
  });
  // A provider that logs nothing (Envoy's own ALS, MAST0301) or that the mesh config has not: the file.
  expect(logsOf([...base, file, ...telemetry('o', 'default', '  accessLogging:\n  - providers: [{ name: als }, { name: loki }]')])).toEqual(
    {
      server: [legacy],
      client: [legacy],
    },
  );
  // Disabled: no log on that side, not the file.
  expect(
    logsOf([...base, file, ...telemetry('d', 'default', '  accessLogging:\n  - providers: [{ name: envoy }]\n    disabled: true')]),
  ).toEqual({
    server: [],
    client: [],
  });
  // Nothing in scope and no file: the proxy's flag applies.
  expect(logsOf([...base, ...telemetry('o', 'default', '  accessLogging:\n  - providers: [{ name: loki }]')])).toBeUndefined();
});

test("a provider's service the mesh knows is reached at its endpoint, as istiod's LookupCluster finds the cluster; tracing alike", () => {
  const collector: KubeObject[] = loadYaml(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: opentelemetry-collector, namespace: istio-system }
spec:
  hosts: [opentelemetry-collector.istio-system.svc.cluster.local]
  ports: [{ number: 4317, name: grpc, protocol: GRPC }]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints: [{ address: 10.1.2.3, ports: { grpc: 14317 } }]
`).objects;
  const config = mesh(`extensionProviders:
- name: otel
  envoyOtelAls: { service: opentelemetry-collector.istio-system.svc.cluster.local, port: 4317 }
- name: by-namespace
  envoyOtelAls: { service: istio-system/opentelemetry-collector.istio-system.svc.cluster.local, port: 4317 }
- name: elsewhere
  envoyOtelAls: { service: collector.example.com, port: 4317 }
- name: tracing
  opentelemetry: { service: opentelemetry-collector.istio-system.svc.cluster.local, port: 4317 }
defaultProviders: { accessLogging: [otel, by-namespace, elsewhere], tracing: [tracing] }
`);
  const objects = [...base, ...collector, config];
  const at = (name: string) => logsOf(objects)?.client.find((l) => l.provider === name)?.otlp;
  // Its host stays the calls' :authority.
  expect(at('otel')).toMatchObject({ host: '10.1.2.3', port: 14317, authority: 'opentelemetry-collector.istio-system.svc.cluster.local' });
  expect(at('by-namespace')).toMatchObject({ host: '10.1.2.3', port: 14317 });
  // Not a service of the mesh: its host, resolved by the proxy.
  expect(at('elsewhere')).toMatchObject({ host: 'collector.example.com', port: 4317 });
  expect(compile(buildIndex(makeSnapshot(objects, 'v1')), reviewsV1).tracing?.collector).toMatchObject({
    host: '10.1.2.3',
    port: 14317,
    protocol: 'grpc',
  });
});
