import { CODES, validate, type Finding } from '../../api';
import { baseMesh, meshWith } from '../fixtures/mesh';

const codes = (findings: Finding[]) => findings.map((f) => f.code);
const only = (findings: Finding[], code: string) => findings.filter((f) => f.code === code);

describe('validate()', () => {
  test('the base mesh is clean', () => {
    expect(validate(baseMesh())).toEqual([]);
  });

  // One case per code: an edit of the base mesh that must produce exactly that finding.
  const cases: Array<[string, string, string, (o: any) => void, string, RegExp]> = [
    [
      'MAST0001',
      'VirtualService',
      'reviews',
      (o) => (o.spec.http[1].timout = '1s'),
      'spec.http[1].timout',
      /unknown field "timout" \(did you mean "timeout"\?\)/,
    ],
    [
      'MAST0002',
      'VirtualService',
      'reviews',
      (o) => (o.spec.http[1].route[0].weight = '90'),
      'spec.http[1].route[0].weight',
      /expected an integer, got a string "90"/,
    ],
    ['MAST0003', 'DestinationRule', 'reviews', (o) => delete o.spec.host, 'spec.host', /"host" is required/],
    [
      'MAST0004',
      'DestinationRule',
      'reviews',
      (o) => (o.spec.trafficPolicy = { loadBalancer: { simple: 'FASTEST' } }),
      'spec.trafficPolicy.loadBalancer.simple',
      /"FASTEST" is not one of/,
    ],
    [
      'MAST0005',
      'VirtualService',
      'reviews',
      (o) => (o.spec.http[1].route[0].weight = -1),
      'spec.http[1].route[0].weight',
      /-1 is outside 0..inf/,
    ],
    ['MAST0006', 'VirtualService', 'reviews', (o) => (o.kind = 'EnvoyFilter'), 'kind', /EnvoyFilter .* is not supported/],
    ['MAST0007', 'VirtualService', 'reviews', (o) => (o.metadata.name = 'Reviews_VS'), 'metadata.name', /"Reviews_VS" is not a valid name/],
    [
      'MAST0101',
      'VirtualService',
      'reviews',
      (o) => o.spec.http[1].route.forEach((r: any) => (r.weight = 0)),
      'spec.http[1].route',
      /all 2 destination weights are 0/,
    ],
    [
      'MAST0102',
      'VirtualService',
      'reviews',
      (o) => (o.spec.http[1].route[1].weight = 30),
      'spec.http[1].route',
      /sum to 120; each destination gets weight\/120/,
    ],
    ['MAST0103', 'VirtualService', 'reviews', (o) => (o.spec.http[1].redirect = { uri: '/x' }), 'spec.http[1]', /sets route and redirect/],
    [
      'MAST0104',
      'VirtualService',
      'reviews',
      (o) => Object.assign(o.spec.http[1], { mirror: { host: 'reviews' }, mirrorPercentage: { value: 150 } }),
      'spec.http[1].mirrorPercentage.value',
      /150 is outside 0-100/,
    ],
    [
      'MAST0105',
      'VirtualService',
      'reviews',
      (o) => (o.spec.http[0].match[0].uri = { regex: '/api/(?!v1)' }),
      'spec.http[0].match[0].uri.regex',
      /look-ahead is not supported by RE2/,
    ],
    [
      'MAST0106',
      'VirtualService',
      'reviews',
      (o) => (o.spec.http[1].timeout = '10 seconds'),
      'spec.http[1].timeout',
      /"10 seconds" is not a duration/,
    ],
    [
      'MAST0107',
      'VirtualService',
      'reviews',
      (o) => (o.spec.http[0].match[0].uri = { exact: '/a', prefix: '/b' }),
      'spec.http[0].match[0].uri',
      /sets exact and prefix/,
    ],
    [
      'MAST0108',
      'VirtualService',
      'reviews',
      (o) => delete o.spec.http[0].route,
      'spec.http[0]',
      /needs one of route, redirect, directResponse or delegate/,
    ],
    [
      'MAST0109',
      'Gateway',
      'edge',
      (o) => (o.spec.servers[0].port.protocol = 'HTTP3'),
      'spec.servers[0].port.protocol',
      /"HTTP3" is not a known protocol/,
    ],
    [
      'MAST0110',
      'VirtualService',
      'reviews',
      (o) => o.spec.hosts.push('bad_host!'),
      'spec.hosts[1]',
      /"bad_host!" is not a valid host name/,
    ],
    [
      'MAST0111',
      'DestinationRule',
      'reviews',
      (o) => o.spec.subsets.push({ name: 'v1', labels: { version: 'v1' } }),
      'spec.subsets[2].name',
      /subset "v1" is defined twice/,
    ],
    [
      'MAST0112',
      'Gateway',
      'edge',
      (o) => o.spec.servers.push({ port: { number: 80, name: 'tcp', protocol: 'TCP' }, hosts: ['alpha.example.com'] }),
      'spec.servers[1].port',
      /port 80 is TCP here but HTTP/,
    ],
    [
      'MAST0113',
      'VirtualService',
      'reviews',
      (o) => Object.assign(o.spec.http[1], { mirror: { host: 'reviews' }, mirrors: [{ destination: { host: 'reviews' } }] }),
      'spec.http[1].mirrors',
      /either mirror .* or mirrors/,
    ],
    [
      'MAST0134',
      'VirtualService',
      'reviews',
      (o) => Object.assign(o.spec.http[1], { mirror: { host: 'reviews', subset: 'v2' }, mirrorPercent: 50 }),
      'spec.http[1].mirrorPercent',
      /mirrorPercent is deprecated in Istio: write mirrorPercentage: \{ value: 50 \}/,
    ],
    [
      'MAST0114',
      'Gateway',
      'edge',
      (o) =>
        o.spec.servers.push({
          port: { number: 443, name: 'https', protocol: 'HTTPS' },
          hosts: ['alpha.example.com'],
          tls: { mode: 'SIMPLE' },
        }),
      'spec.servers[1].tls.credentialName',
      /SIMPLE needs credentialName/,
    ],
    [
      'MAST0115',
      'VirtualService',
      'reviews',
      (o) => (o.spec.http[1].retries = { attempts: 2, retryOn: 'unavailable, 5xx,unavailible' }),
      'spec.http[1].retries.retryOn',
      /"unavailible" is not a retry condition/,
    ],
    [
      'MAST0116',
      'VirtualService',
      'reviews',
      (o) => (o.spec.http[1].fault = { abort: { grpcStatus: 'Unavailable' } }),
      'spec.http[1].fault.abort.grpcStatus',
      /"Unavailable" is not a gRPC status name \(did you mean UNAVAILABLE\?\)/,
    ],
    [
      'MAST0117',
      'VirtualService',
      'reviews',
      (o) => (o.spec.http[1].fault = { abort: { httpStatus: 503, grpcStatus: 'UNAVAILABLE' } }),
      'spec.http[1].fault.abort',
      /sets httpStatus and grpcStatus/,
    ],
    [
      'MAST0118',
      'VirtualService',
      'reviews',
      (o) => (o.spec.http[1].fault = { abort: { http2Error: 'REFUSED_STREAM' } }),
      'spec.http[1].fault.abort.http2Error',
      /Istio rejects HTTP\/2 error aborts/,
    ],
    [
      'MAST0119',
      'DestinationRule',
      'reviews',
      (o) => (o.spec.subsets[1].trafficPolicy = { connectionPool: { http: { h2UpgradePolicy: 'UPGRADE', useClientProtocol: true } } }),
      'spec.subsets[1].trafficPolicy.connectionPool.http.useClientProtocol',
      /must not be true when h2UpgradePolicy is UPGRADE/,
    ],
    [
      'MAST0120',
      'DestinationRule',
      'reviews',
      (o) =>
        (o.spec.trafficPolicy = { portLevelSettings: [{ port: { number: 9080 }, connectionPool: { http: { http2MaxRequests: 0 } } }] }),
      'spec.trafficPolicy.portLevelSettings[0].connectionPool.http.http2MaxRequests',
      /0 is unset to Istio/,
    ],
    [
      'MAST0201',
      'VirtualService',
      'edge',
      (o) => (o.spec.gateways = ['missing-gw']),
      'spec.gateways[0]',
      /gateway "default\/missing-gw" does not exist/,
    ],
    [
      'MAST0202',
      'VirtualService',
      'edge',
      (o) => (o.spec.http[0].route[0].destination.host = 'ratings'),
      'spec.http[0].route[0].destination.host',
      /host "ratings" matches no Service or ServiceEntry visible here \(looked for ratings.default.svc.cluster.local\)/,
    ],
    [
      'MAST0203',
      'VirtualService',
      'reviews',
      (o) => (o.spec.http[0].route[0].destination.subset = 'v9'),
      'spec.http[0].route[0].destination.subset',
      /subset "v9" of host "reviews" is not defined .* define v1, v2/,
    ],
    [
      'MAST0205',
      'DestinationRule',
      'reviews',
      (o) => o.spec.subsets.push({ name: 'v3', labels: { version: 'v3' } }),
      'spec.subsets[2].labels',
      /subset "v3" .* selects no workload/,
    ],
    [
      'MAST0206',
      'Gateway',
      'edge',
      (o) => o.spec.servers[0].hosts.push('beta.example.com'),
      'spec.servers[0].hosts[1]',
      /no VirtualService bound to this gateway serves "beta.example.com"/,
    ],
    [
      'MAST0010',
      'VirtualService',
      'reviews',
      (o) => (o.metadata.annotations = { padding: 'x'.repeat(1_600_000) }),
      'metadata',
      /the resource is 1,6\d\d,\d\d\d bytes; Kubernetes stores at most 1,572,864 per object/,
    ],
    [
      'MAST0207',
      'VirtualService',
      'edge',
      (o) => (o.spec.hosts = ['gamma.example.com']),
      'spec.hosts',
      /none of the hosts \["gamma.example.com"\] is served by Gateway default\/edge/,
    ],
    [
      'MAST0209',
      'VirtualService',
      'edge',
      (o) => (o.spec.gateways = ['istio-ingress/gateway~istio-autogenerated-k8s-gateway~foo']),
      'spec.gateways[0]',
      /generated from a Kubernetes Gateway/,
    ],
    [
      'MAST0210',
      'VirtualService',
      'edge',
      (o) => (o.spec.http[0].route[0].destination.port.number = 9999),
      'spec.http[0].route[0].destination.port.number',
      /host "reviews" has no port 9999 \(it has 9080\)/,
    ],
    [
      'MAST0212',
      'Gateway',
      'edge',
      (o) => (o.spec.selector = { istio: 'egressgateway' }),
      'spec.selector',
      /selector \{"istio":"egressgateway"\} matches no gateway workload/,
    ],
    [
      'MAST0213',
      'Gateway',
      'edge',
      (o) => (o.spec.servers[0].port.number = 81),
      'spec.servers[0].port.number',
      /port 81 is not a port of any Service in front of the selected gateway pods \(80, 8080\)/,
    ],
    [
      'MAST0216',
      'VirtualService',
      'edge',
      (o) => delete o.spec.http[0].route[0].destination.subset,
      'spec.http[0].route[0].destination.subset',
      /subsets VirtualService default\/reviews picks for "reviews" do not apply to requests from this gateway/,
    ],
    [
      'MAST0217',
      'VirtualService',
      'reviews',
      (o) => o.spec.http.push({ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }),
      'spec.http[2]',
      /can never match: rule #1 before it has no match conditions/,
    ],
    [
      'MAST0218',
      'VirtualService',
      'reviews',
      (o) =>
        o.spec.http.splice(1, 0, {
          match: [{ headers: { 'end-user': { exact: 'jason' } } }, { uri: { prefix: '/x' } }],
          route: [{ destination: { host: 'reviews', subset: 'v1' } }],
        }),
      'spec.http[1].match[0]',
      /repeats one of rule #0/,
    ],
    [
      'MAST0219',
      'DestinationRule',
      'reviews',
      (o) => (o.spec.trafficPolicy = { tls: { mode: 'SIMPLE' } }),
      'spec.trafficPolicy.tls',
      /mode SIMPLE without caCertificates/,
    ],
    [
      'MAST0220',
      'DestinationRule',
      'reviews',
      (o) => (o.spec.trafficPolicy = { portLevelSettings: [{ port: { number: 9080 }, tls: { mode: 'MUTUAL' } }] }),
      'spec.trafficPolicy.portLevelSettings[0].tls',
      /mode MUTUAL on port 9080 without caCertificates/,
    ],
    [
      'MAST0221',
      'DestinationRule',
      'reviews',
      (o) => (o.spec.host = 'nothing.example.com'),
      'spec.host',
      /host "nothing.example.com" .* matches no Service or ServiceEntry/,
    ],
    [
      'MAST0301',
      'DestinationRule',
      'reviews',
      (o) => (o.spec.trafficPolicy = { loadBalancer: { simple: 'ROUND_ROBIN', warmupDurationSecs: '30s' } }),
      'spec.trafficPolicy.loadBalancer.warmupDurationSecs',
      /^warmup: new endpoints get their full share at once \(not applied by mast-proxy yet\)$/,
    ],
  ];

  test("every code has a case here (MAST0008 and MAST0011 are the loader's, see load.test.ts; MAST0401 injection's, see test/constructs/inject.test.ts; the Sidecar's, test/api/sidecar.test.ts; localityLbSetting's, test/api/locality.test.ts)", () => {
    const covered = new Set([
      ...cases.map((c) => c[0]),
      ...Object.keys(extra),
      'MAST0204',
      'MAST0208',
      'MAST0009',
      'MAST0008',
      'MAST0011',
      'MAST0401',
      ...['MAST0125', 'MAST0126', 'MAST0127', 'MAST0128', 'MAST0129', 'MAST0226', 'MAST0227', 'MAST0228'],
      // Sidecar ingress listeners' TLS and listener ports: test/api/sidecar.test.ts too.
      ...['MAST0175', 'MAST0176', 'MAST0177', 'MAST0178', 'MAST0179'],
      // Telemetry metrics: test/api/telemetry.test.ts.
      ...['MAST0185', 'MAST0186', 'MAST0187'],
      // Telemetry's and the mesh config's tracing parts: test/api/telemetry.test.ts.
      'MAST0130',
      'MAST0131',
      'MAST0132',
      // Retired (an OTLP/gRPC provider is exported since): never reported.
      'MAST0133',
      // localityLbSetting, in DestinationRules and the mesh config: test/api/locality.test.ts.
      'MAST0135',
      'MAST0136',
      // The istio.io/dry-run annotation's: test/runtime/contract/authz-dry-run.test.ts.
      'MAST0137',
      // The mesh config's trust domains: test/api/mesh-config.test.ts.
      'MAST0138',
      // The MeshDashboards construct's props: test/constructs/dashboards.test.ts.
      'MAST0160',
      // Access logs: Telemetry accessLogging's filter in test/api/telemetry.test.ts, the mesh config's formats and providers in test/api/mesh-config.test.ts.
      'MAST0161',
      'MAST0162',
      'MAST0163',
      'MAST0164',
      'MAST0165',
      // envoyOtelAls providers: test/api/mesh-config.test.ts.
      'MAST0180',
      // zipkin and other tracing providers: test/api/telemetry.test.ts.
      'MAST0183',
      'MAST0184',
      // DestinationRule credentialName: test/api/dr-credentials.test.ts.
      'MAST0170',
      'MAST0171',
    ]);
    expect(Object.keys(CODES).filter((c) => !covered.has(c))).toEqual([]);
  });

  test.each(cases)('%s: %s %s', (code, kind, name, edit, path, message) => {
    const found = only(validate(meshWith(kind, name, edit)), code);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ code, severity: (CODES as Record<string, { severity: string }>)[code].severity, path });
    expect(found[0].message).toMatch(message);
    expect(found[0].name).toBeTruthy();
  });

  // Codes whose input is not an edit of one object of the base mesh.
  const extra: Record<string, [any[], string, RegExp]> = {
    MAST0211: [
      [
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'two' }, spec: { ports: [{ port: 80 }, { port: 443 }] } },
        vs('a', { hosts: ['two'], http: [{ route: [{ destination: { host: 'two' } }] }] }),
      ],
      'spec.http[0].route[0].destination.port',
      /host "two" has several ports \(80, 443\)/,
    ],
    MAST0214: [
      [gw('a', { credentialName: 'cert' }), gw('b', { credentialName: 'cert' })],
      'spec.servers',
      /same certificate as Gateway default\/b/,
    ],
    MAST0012: [
      [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'default' }, spec: {} }],
      'kind',
      /^HTTPRoute \(gateway.networking.k8s.io\/v1\) is not read by mast and is ignored; use Gateway and VirtualService of networking.istio.io$/,
    ],
    MAST0215: [
      [gw('a', { credentialName: 'missing' }), { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'other', namespace: 'default' } }],
      'spec.servers[0].tls.credentialName',
      /Secret "missing" not found in mast-system/,
    ],
    MAST0229: [
      [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'Gateway',
          metadata: { name: 'two-certs', namespace: 'default' },
          spec: {
            selector: { istio: 'ingressgateway' },
            servers: [
              {
                port: { number: 443, name: 'https-a', protocol: 'HTTPS' },
                hosts: ['a.example.com'],
                tls: { mode: 'SIMPLE', credentialName: 'a' },
              },
              {
                port: { number: 443, name: 'https-b', protocol: 'HTTPS' },
                hosts: ['a.example.com'],
                tls: { mode: 'SIMPLE', credentialName: 'b' },
              },
            ],
          },
        },
      ],
      'spec.servers[1].hosts',
      /host "a\.example\.com" is already a TLS host of spec\.servers\[0\] on port 443: this server is not served/,
    ],
    MAST0222: [
      [
        {
          apiVersion: 'security.istio.io/v1',
          kind: 'AuthorizationPolicy',
          metadata: { name: 'p', namespace: 'default' },
          spec: { selector: { matchLabels: { app: 'ghost' } } },
        },
      ],
      'spec.selector',
      /selector \{"app":"ghost"\} matches no workload in default: nothing enforces its ALLOW with no rules \(deny all\)/,
    ],
    MAST0223: [
      [
        {
          apiVersion: 'security.istio.io/v1',
          kind: 'AuthorizationPolicy',
          metadata: { name: 'p', namespace: 'default' },
          spec: { rules: [{ from: [{ source: { namespaces: ['prod-*'] } }] }] },
        },
      ],
      'spec.rules[0].from[0].source.namespaces[0]',
      /no namespace matches "prod-\*"/,
    ],
    MAST0121: [
      [ra({ jwksUri: 'https://a.example/jwks', jwks: '{"keys":[{"kty":"RSA","n":"x","e":"AQAB"}]}' })],
      'spec.jwtRules[0].jwks',
      /set jwks or jwksUri, not both/,
    ],
    MAST0122: [[ra({ jwks: '{"keys": []}' })], 'spec.jwtRules[0].jwks', /jwks: no "keys" array with at least one key/],
    MAST0123: [
      [ra({ jwksUri: 'ftp://a.example/jwks' })],
      'spec.jwtRules[0].jwksUri',
      /"ftp:\/\/a.example\/jwks": scheme ftp: \(http or https only\)/,
    ],
    MAST0124: [
      [ra({ jwksUri: 'https://a.example/jwks', fromHeaders: [{ name: '' }] })],
      'spec.jwtRules[0].fromHeaders[0].name',
      /header name is empty/,
    ],
    MAST0224: [[se('a', 'example.com', 'TCP')], 'spec.ports[0].protocol', /port 5432 is TCP and the entry has no addresses/],
    MAST0225: [
      [se('a', 'example.com', 'HTTP'), se('b', 'example.com', 'HTTPS')],
      'spec.ports',
      /host "example.com" port 5432 is HTTP here but another protocol in ServiceEntry default\/b/,
    ],
  };
  function ra(jwtRule: any) {
    return {
      apiVersion: 'security.istio.io/v1',
      kind: 'RequestAuthentication',
      metadata: { name: 'jwt', namespace: 'default' },
      spec: { jwtRules: [{ issuer: 'testing@secure.istio.io', ...jwtRule }] },
    };
  }
  function vs(name: string, spec: any) {
    return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec };
  }
  function gw(name: string, tls: any) {
    return {
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { name, namespace: 'default' },
      spec: {
        selector: { istio: 'ingressgateway' },
        servers: [
          { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: [`${name}.example.com`], tls: { mode: 'SIMPLE', ...tls } },
        ],
      },
    };
  }
  function se(name: string, host: string, protocol: string) {
    return {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name, namespace: 'default' },
      spec: { hosts: [host], ports: [{ number: 5432, name: `p-${name}`, protocol }], resolution: 'DNS' },
    };
  }

  test.each(Object.entries(extra))('%s', (code, [objects, path, message]) => {
    const found = only(validate([...baseMesh(), ...objects], { defaultIngressGateway: true }), code);
    expect(found[0]).toMatchObject({ code, path });
    expect(found[0].message).toMatch(message);
  });

  test('MAST0229: a wildcard TLS server beside a name it covers, with other TLS settings, is said; a plaintext server sharing a host is not', () => {
    const server = (name: string, port: number, host: string, tls?: Record<string, unknown>) => ({
      port: { number: port, name, protocol: tls?.mode ? 'HTTPS' : 'HTTP' },
      hosts: [host],
      ...(tls ? { tls } : {}),
    });
    const gateway = (servers: object[]) => ({
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { name: 'edge', namespace: 'default' },
      spec: { selector: { istio: 'ingressgateway' }, servers },
    });
    const wildcard = gateway([
      server('https-any', 443, '*.example.com', { mode: 'SIMPLE', credentialName: 'any' }),
      server('https-a', 443, 'a.example.com', { mode: 'MUTUAL', credentialName: 'a' }),
    ]);
    expect(only(validate([wildcard], { defaultIngressGateway: true }), 'MAST0229')).toEqual([
      expect.objectContaining({
        path: 'spec.servers[1].hosts',
        message: expect.stringMatching(
          /^host "a\.example\.com" overlaps the hosts of spec\.servers\[0\] on port 443 with other TLS settings/,
        ),
      }),
    ]);
    const plain = gateway([server('http', 80, 'a.example.com'), server('http-2', 80, 'a.example.com', { httpsRedirect: true })]);
    expect(only(validate([plain], { defaultIngressGateway: true }), 'MAST0229')).toEqual([]);
  });

  test('MAST0215: a credentialName Secret in another namespace than the gateway’s is named with both namespaces (the assumed gateway reads mast-system and istio-system)', () => {
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'httpbin-credential', namespace: 'default' } };
    const found = only(
      validate([...baseMesh(), gw('a', { credentialName: 'httpbin-credential' }), secret], { defaultIngressGateway: true }),
      'MAST0215',
    );
    expect(found).toEqual([
      expect.objectContaining({
        path: 'spec.servers[0].tls.credentialName',
        message: expect.stringMatching(
          /^Secret "httpbin-credential" is in namespace default, not in mast-system, istio-system where the gateway runs/,
        ),
      }),
    ]);
  });

  test('MAST0222 (IST0127): a policy selecting no workload says what it would have enforced; only when the input describes workloads', () => {
    const policy = (namespace: string, matchLabels: Record<string, string>) => ({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'ingress-policy', namespace },
      spec: {
        selector: { matchLabels },
        action: 'DENY',
        rules: [{ from: [{ source: { ipBlocks: ['1.2.3.4'] } }], to: [{ operation: { ports: ['9000'] } }] }],
      },
    });
    const ghost = only(validate([...baseMesh(), policy('default', { app: 'ghost' })]), 'MAST0222');
    expect(ghost.map((f) => f.message)).toEqual([
      'selector {"app":"ghost"} matches no workload in default: nothing enforces its DENY (from ipBlocks 1.2.3.4; to ports 9000) on the workloads it was written for',
    ]);
    // Without a workload in the input nothing can be said (a directory of policies alone; the assumed default gateway is no evidence).
    expect(only(validate([policy('default', { app: 'ghost' })]), 'MAST0222')).toEqual([]);
    expect(only(validate([policy('default', { app: 'ghost' })], { defaultIngressGateway: true }), 'MAST0222')).toEqual([]);
    // Istio's ingress gateway labels: the default gateway carries both.
    for (const labels of [{ app: 'istio-ingressgateway' }, { istio: 'ingressgateway' }] as Array<Record<string, string>>)
      expect(only(validate([...baseMesh(), policy('istio-system', labels)], { defaultIngressGateway: true }), 'MAST0222')).toEqual([]);
  });

  test('with no Services or ServiceEntries in the input, destination hosts are not judged; with no DestinationRules, every subset is MAST0203 (IST0101, as istioctl analyze)', () => {
    const routesOnly = baseMesh().filter((o) => o.kind === 'VirtualService');
    expect(codes(validate(routesOnly)).filter((c) => c === 'MAST0202')).toEqual([]);
    const subsets = only(validate(routesOnly), 'MAST0203');
    expect(subsets.length).toBeGreaterThan(0);
    expect(subsets[0]).toMatchObject({ istioCode: 'IST0101', severity: 'Error' });
    expect(subsets[0].message).toMatch(/^subset "\w+" of host "[\w.-]+" is not defined by any DestinationRule$/);
  });

  test('exportTo: a Service exported elsewhere is not visible to a route here', () => {
    const mesh = meshWith('Service', 'reviews', (o) => (o.metadata.annotations = { 'networking.istio.io/exportTo': 'banana' }));
    expect(only(validate(mesh), 'MAST0202').length).toBeGreaterThan(0);
  });

  test('MAST0204: two VirtualServices for one host on the mesh conflict; on an ingress gateway they merge', () => {
    const mesh = baseMesh();
    const copy = JSON.parse(JSON.stringify(mesh.find((o) => o.kind === 'VirtualService' && o.metadata.name === 'reviews')));
    copy.metadata.name = 'reviews-2';
    copy.spec.hosts = ['reviews.default.svc.cluster.local'];
    const findings = only(validate([...mesh, copy]), 'MAST0204');
    expect(findings.map((f) => f.name).sort()).toEqual(['reviews', 'reviews-2']);
    expect(findings[0]).toMatchObject({ istioCode: 'IST0109', severity: 'Error' });

    const edge2 = JSON.parse(JSON.stringify(mesh.find((o) => o.kind === 'VirtualService' && o.metadata.name === 'edge')));
    edge2.metadata.name = 'edge-2';
    expect(only(validate([...mesh, edge2]), 'MAST0204')).toEqual([]);
  });

  test('pair checks look only at resources whose hosts can overlap, wildcards included', () => {
    // Among many unrelated hosts (bucketed by host), a wildcard still meets the exact host it covers.
    const many = Array.from({ length: 200 }, (_, i) => se(`s${i}`, `s${i}.example.com`, 'HTTP'));
    const found = only(validate([...many, se('wild', '*.example.com', 'HTTPS')]), 'MAST0225');
    // One finding on each side of each pair: every exact entry, and the wildcard once per entry.
    expect(found).toHaveLength(400);
    expect(new Set(found.map((f) => f.name))).toEqual(new Set([...many.map((m) => m.metadata.name), 'wild']));
    const vss = Array.from({ length: 200 }, (_, i) =>
      vs(`v${i}`, { hosts: [`v${i}.example.com`], http: [{ directResponse: { status: 200 } }] }),
    );
    const conflicts = only(
      validate([...vss, vs('wild', { hosts: ['*.example.com'], http: [{ directResponse: { status: 200 } }] })]),
      'MAST0204',
    );
    expect(conflicts).toHaveLength(400);
    expect(only(validate(vss), 'MAST0204')).toEqual([]);
  });

  test('MAST0208: two Gateways with one selector, port and host conflict', () => {
    const mesh = baseMesh();
    const gw = JSON.parse(JSON.stringify(mesh.find((o) => o.kind === 'Gateway')));
    gw.metadata.name = 'edge-2';
    expect(codes(validate([...mesh, gw]))).toEqual(expect.arrayContaining(['MAST0208']));
  });

  test('MAST0009: the same resource twice', () => {
    const mesh = baseMesh();
    expect(codes(validate([...mesh, mesh[4]]))).toContain('MAST0009');
  });

  test('weights not summing to 100 are only Info: Istio sends weight/sum', () => {
    const [f] = only(validate(meshWith('VirtualService', 'reviews', (o) => (o.spec.http[1].route[1].weight = 30))), 'MAST0102');
    expect(f.severity).toBe('Info');
  });

  test('a single destination without weight gets everything', () => {
    expect(
      validate(meshWith('VirtualService', 'reviews', (o) => (o.spec.http[1].route = [{ destination: { host: 'reviews', subset: 'v1' } }]))),
    ).toEqual([]);
  });

  test('CDK tokens are opaque, never errors', () => {
    const mesh = meshWith('VirtualService', 'edge', (o) => {
      o.spec.http[0].route[0].destination.host = '${Token[TOKEN.123]}';
      o.spec.http[0].route[0].weight = -1.8881545897087626e289;
      o.spec.http[0].timeout = '${Token[TOKEN.77]}';
    });
    expect(validate(mesh)).toEqual([]);
  });

  test('older served versions (v1beta1, v1alpha3) validate like v1; unknown versions do not', () => {
    expect(validate(meshWith('VirtualService', 'reviews', (o) => (o.apiVersion = 'networking.istio.io/v1alpha3')))).toEqual([]);
    expect(codes(validate(meshWith('VirtualService', 'reviews', (o) => (o.apiVersion = 'networking.istio.io/v2'))))).toContain('MAST0006');
  });

  test('a type error stops the set rules from reasoning about that resource', () => {
    const findings = validate(meshWith('VirtualService', 'reviews', (o) => (o.spec.http = 'oops')));
    expect(codes(findings)).toEqual(['MAST0002']);
  });

  test('empty headers match means "present", as in Istio', () => {
    expect(validate(meshWith('VirtualService', 'reviews', (o) => (o.spec.http[0].match[0].headers = { 'end-user': {} })))).toEqual([]);
  });

  test('ServiceEntry hosts, including wildcards, are in the registry', () => {
    const se = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: 'ext', namespace: 'default' },
      spec: { hosts: ['*.googleapis.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS' },
    };
    const mesh = meshWith('VirtualService', 'edge', (o) => (o.spec.http[0].route[0].destination.host = 'storage.googleapis.com'));
    expect(only(validate([...mesh, se]), 'MAST0202')).toEqual([]);
    expect(only(validate(mesh), 'MAST0202')).toHaveLength(1);
  });
});
