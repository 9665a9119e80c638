/** The mesh config (the `istio` ConfigMap's `mesh`): what mast applies is checked, the rest of MeshConfig named as not applied, never silence. */
import { loadYaml, validate, type Finding } from '../../api';
import { meshConfigDoc } from '../support/mesh-yaml';

const meshConfig = meshConfigDoc;

const found = (yaml: string): Finding[] => validate(loadYaml(yaml).objects, { scope: 'resource' });
const codes = (yaml: string) => found(yaml).map((f) => `${f.code} ${f.path}`);

test("the fields mast applies, with Istio's values, and fields set to what mast already does: no finding", () => {
  expect(
    codes(
      meshConfig(`
pathNormalization: { normalization: MERGE_SLASHES }
h2UpgradePolicy: UPGRADE
outboundTrafficPolicy: { mode: REGISTRY_ONLY }
enableAutoMtls: true
accessLogEncoding: JSON
enablePrometheusMerge: true
rootNamespace: istio-system
defaultConfig: { tracing: { sampling: 10 } }
`),
    ),
  ).toEqual([]);
});

test('a value mast cannot use is an error naming the field and the value (the compiler would keep the default)', () => {
  const f = found(meshConfig('outboundTrafficPolicy: { mode: REGISTRY }\nh2UpgradePolicy: upgrade'));
  expect(f.map((x) => [x.code, x.path])).toEqual([
    ['MAST0004', 'data.mesh.outboundTrafficPolicy.mode'],
    ['MAST0004', 'data.mesh.h2UpgradePolicy'],
  ]);
  expect(f[0]).toMatchObject({ severity: 'Error', kind: 'ConfigMap', name: 'istio', namespace: 'istio-system' });
  expect(f[0].message).toMatch(/REGISTRY/);
});

test('MeshConfig fields mast does not apply are Warnings MAST0301 saying what mast does instead; a value mast matches is none', () => {
  const f = found(
    meshConfig(`
trustDomain: example.com
caCertificates: []
enableAutoMtls: false
defaultHttpRetryPolicy: { attempts: 0 }
outboundTrafficPolicy: { mode: ALLOW_ANY, egressProxy: { host: proxy.example.com } }
`),
  );
  expect(f.map((x) => `${x.code} ${x.path}`)).toEqual([
    'MAST0301 data.mesh.outboundTrafficPolicy.egressProxy',
    'MAST0301 data.mesh.caCertificates',
    'MAST0301 data.mesh.enableAutoMtls',
    'MAST0301 data.mesh.defaultHttpRetryPolicy',
  ]);
  expect(f.find((x) => x.path === 'data.mesh.enableAutoMtls')?.message).toBe(
    'MeshConfig enableAutoMtls is not applied by mast: mast always sends mTLS to workloads with a sidecar',
  );
  expect(f.every((x) => x.severity === 'Warning')).toBe(true);
});

test('a key MeshConfig does not have is unknown, with the field meant when it is a spelling of one', () => {
  const f = found(meshConfig('outbound_traffic_policy: { mode: REGISTRY_ONLY }\nenableTelemetry: true'));
  expect(f.map((x) => [x.code, x.path, x.message])).toEqual([
    [
      'MAST0001',
      'data.mesh.outbound_traffic_policy',
      '"outbound_traffic_policy" is not a MeshConfig field (did you mean "outboundTrafficPolicy"?)',
    ],
    ['MAST0001', 'data.mesh.enableTelemetry', '"enableTelemetry" is not a MeshConfig field'],
  ]);
});

test('text that is not YAML, or not a mapping, is an error; an empty mesh config is Istio’s defaults', () => {
  expect(codes(meshConfig('outboundTrafficPolicy: { mode: [REGISTRY_ONLY'))).toEqual(['MAST0008 data.mesh']);
  expect(codes(meshConfig('- a\n- b'))).toEqual(['MAST0002 data.mesh']);
  expect(codes(meshConfig('# nothing set'))).toEqual([]);
});

test('only the mesh config of a root namespace is read: an `istio` ConfigMap elsewhere is an ordinary ConfigMap', () => {
  expect(codes(meshConfig('nonsense: 1', 'default'))).toEqual([]);
  expect(codes(meshConfig('nonsense: 1', 'mast-system'))).toEqual(['MAST0001 data.mesh.nonsense']);
});

test("meshMTLS.minProtocolVersion takes Istio's values (TLS 1.2 or 1.3); an older one is refused, cipher and curve lists are named as not applied", () => {
  expect(codes(meshConfig('meshMTLS: { minProtocolVersion: TLSV1_3 }'))).toEqual([]);
  expect(codes(meshConfig('meshMTLS: { minProtocolVersion: TLSV1_1 }'))).toEqual(['MAST0004 data.mesh.meshMTLS.minProtocolVersion']);
  expect(codes(meshConfig('meshMTLS: { minProtocolVersion: TLS_AUTO, cipherSuites: [ECDHE-ECDSA-AES256-GCM-SHA384] }'))).toEqual([
    'MAST0301 data.mesh.meshMTLS.cipherSuites',
  ]);
});

test('trustDomain and trustDomainAliases are applied, checked as Istio checks them (dot-separated DNS labels)', () => {
  expect(codes(meshConfig('trustDomain: new-td.example.com\ntrustDomainAliases: [old-td, cluster.local, "legacy."]'))).toEqual([]);
  const f = found(meshConfig('trustDomain: "My_Domain"\ntrustDomainAliases: [old-td, "a/b", 7, ""]'));
  expect(f.map((x) => [x.code, x.path])).toEqual([
    ['MAST0138', 'data.mesh.trustDomain'],
    ['MAST0138', 'data.mesh.trustDomainAliases[1]'],
    ['MAST0002', 'data.mesh.trustDomainAliases[2]'],
    ['MAST0138', 'data.mesh.trustDomainAliases[3]'],
  ]);
  expect(f[0]).toMatchObject({ severity: 'Error' });
  expect(f[0].message).toMatch(/"My_Domain" is not a trust domain/);
  expect(codes(meshConfig('trustDomainAliases: old-td'))).toEqual(['MAST0002 data.mesh.trustDomainAliases']);
});

test('defaultConfig (ProxyConfig for every proxy) is checked whole: what mast reads, the rest named, unknown keys unknown', () => {
  const f = found(
    meshConfig(`
defaultConfig:
  meshId: mesh1
  tracing: { sampling: 10, zipkin: { address: zipkin:9411 } }
  gatewayTopology: { numTrustedProxies: 1, proxyProtocol: {}, hops: 2 }
  holdApplicationUntilProxyStarts: true
  concurrency: 2
  proxy_metadata: {}
`),
  );
  expect(f.map((x) => `${x.code} ${x.path}`)).toEqual([
    'MAST0301 data.mesh.defaultConfig.tracing.zipkin',
    'MAST0001 data.mesh.defaultConfig.gatewayTopology.hops',
    'MAST0301 data.mesh.defaultConfig.holdApplicationUntilProxyStarts',
    'MAST0301 data.mesh.defaultConfig.concurrency',
    'MAST0001 data.mesh.defaultConfig.proxy_metadata',
  ]);
  expect(f.find((x) => x.path.endsWith('.concurrency'))?.message).toBe(
    "ProxyConfig concurrency is not applied by mast: mast-proxy's --workers",
  );
  expect(f.at(-1)?.message).toBe('"proxy_metadata" is not a ProxyConfig field (did you mean "proxyMetadata"?)');
  expect(codes(meshConfig('defaultConfig: { gatewayTopology: { numTrustedProxies: -1 } }'))).toEqual([
    'MAST0002 data.mesh.defaultConfig.gatewayTopology.numTrustedProxies',
  ]);
});

test('access log settings: a file, TEXT or JSON, formats of operators mast-proxy fills; anything else named with its value', () => {
  expect(
    codes(
      meshConfig(`
accessLogFile: /dev/stdout
accessLogEncoding: TEXT
accessLogFormat: '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%'
extensionProviders:
- name: file
  envoyFileAccessLog: { path: /tmp/a.log, logFormat: { labels: { code: "%RESPONSE_CODE%" } } }
defaultProviders: { accessLogging: [envoy, file] }
`),
    ),
  ).toEqual([]);
  const f = found(
    meshConfig(`
accessLogFile: /dev/stdout
accessLogEncoding: XML
accessLogFormat: '%UPSTREAM_PEER_SUBJECT%'
extensionProviders:
- name: als
  envoyHttpAls: { service: als.istio-system.svc.cluster.local, port: 9000 }
- name: file
  envoyFileAccessLog: { logFormat: { text: "%REQ(:METHOD)% %BOGUS%" } }
defaultProviders: { accessLogging: [nope] }
`),
  );
  expect(f.map((x) => `${x.code} ${x.path}`)).toEqual([
    'MAST0004 data.mesh.accessLogEncoding',
    'MAST0301 data.mesh.extensionProviders[0].envoyHttpAls',
    'MAST0162 data.mesh.extensionProviders[1].envoyFileAccessLog.logFormat.text',
    'MAST0164 data.mesh.defaultProviders.accessLogging[0]',
  ]);
  expect(f[2].message).toBe('%BOGUS% is not a command operator mast-proxy fills (see docs/observability.md)');
  expect(codes(meshConfig("accessLogFile: /dev/stdout\naccessLogFormat: '%UPSTREAM_PEER_SUBJECT%'\n"))).toEqual([
    'MAST0162 data.mesh.accessLogFormat',
  ]);
  expect(codes(meshConfig("accessLogEncoding: JSON\naccessLogFormat: '[%START_TIME%]'\n"))).toEqual(['MAST0163 data.mesh.accessLogFormat']);
});

test("gatewayTopology's proxyProtocol is Istio's empty mapping and forwardClientCertDetails one of Envoy's modes", () => {
  expect(codes(meshConfig('defaultConfig: { gatewayTopology: { proxyProtocol: {}, forwardClientCertDetails: APPEND_FORWARD } }'))).toEqual(
    [],
  );
  const f = found(meshConfig('defaultConfig: { gatewayTopology: { proxyProtocol: true, forwardClientCertDetails: sanitize } }'));
  expect(f.map((x) => `${x.code} ${x.path}`)).toEqual([
    'MAST0002 data.mesh.defaultConfig.gatewayTopology.proxyProtocol',
    'MAST0002 data.mesh.defaultConfig.gatewayTopology.forwardClientCertDetails',
  ]);
  expect(f[0].message).toMatch(/a mapping \(Istio's `proxyProtocol: \{\}`\), not true/);
  expect(f[1].message).toMatch(/one of SANITIZE, FORWARD_ONLY, APPEND_FORWARD, SANITIZE_SET, ALWAYS_FORWARD_ONLY, not "sanitize"/);
});

test("envoyOtelAls providers (OpenTelemetry access logs): the task's provider validates; a bad service, port, logName or format is named with its value", () => {
  expect(
    codes(
      meshConfig(`
extensionProviders:
- name: otel
  envoyOtelAls:
    service: opentelemetry-collector.istio-system.svc.cluster.local
    port: 4317
    logName: mesh
    logFormat:
      text: "%REQ(:METHOD)% %RESPONSE_CODE%"
      labels: { pod: "%ENVIRONMENT(POD_NAME)%", mesh: "%ENVIRONMENT(ISTIO_META_MESH_ID)%" }
defaultProviders: { accessLogging: [envoy, otel] }
`),
    ),
  ).toEqual([]);
  const f = found(
    meshConfig(`
extensionProviders:
- name: a
  envoyOtelAls: { port: 0, logName: 7, logFormat: { labels: { code: 200, bad: "%BOGUS%" } }, buffer: 1 }
- name: b
  envoyOtelAls: { service: c, port: 4317, logFormat: { text: "%ENVIRONMENT%" } }
`),
  );
  expect(f.map((x) => [x.code, x.path, x.message])).toEqual([
    ['MAST0001', 'data.mesh.extensionProviders[0].envoyOtelAls.buffer', '"buffer" is not an envoyOtelAls field'],
    [
      'MAST0180',
      'data.mesh.extensionProviders[0].envoyOtelAls.service',
      "the collector's host (e.g. opentelemetry-collector.observability.svc.cluster.local), not undefined",
    ],
    [
      'MAST0180',
      'data.mesh.extensionProviders[0].envoyOtelAls.port',
      "the collector's OTLP/gRPC port (1-65535, 4317 by convention), not 0",
    ],
    ['MAST0180', 'data.mesh.extensionProviders[0].envoyOtelAls.logName', 'a name, not 7'],
    [
      'MAST0163',
      'data.mesh.extensionProviders[0].envoyOtelAls.logFormat.labels.code',
      'a format string (Istio sends only string values), not 200',
    ],
    [
      'MAST0162',
      'data.mesh.extensionProviders[0].envoyOtelAls.logFormat.labels.bad',
      '%BOGUS% is not a command operator mast-proxy fills (see docs/observability.md)',
    ],
    ['MAST0162', 'data.mesh.extensionProviders[1].envoyOtelAls.logFormat.text', '%ENVIRONMENT% needs a variable: %ENVIRONMENT(POD_NAME)%'],
  ]);
});
