/** MAST0301: an Istio field mast-proxy does not apply yet is a Warning, never silence. */
import { loadYaml, validate } from '../../api';

const warnings = (yaml: string) =>
  validate(loadYaml(yaml).objects, { scope: 'resource' })
    .filter((f) => f.code === 'MAST0301')
    .map((f) => [f.kind, f.path, f.severity]);

test.each([
  ['VirtualService', '{ hosts: [a], http: [{ match: [{ sourceNamespace: x }], route: [{ destination: { host: a } }] }] }', []],
  ['VirtualService', '{ hosts: [a], tls: [{ match: [{ sniHosts: [a] }], route: [{ destination: { host: a } }] }] }', []],
  [
    'VirtualService',
    '{ hosts: [a], tcp: [{ match: [{ sourceSubnet: 10.0.0.0/8 }], route: [{ destination: { host: a } }] }] }',
    [['VirtualService', 'spec.tcp[0].match[0].sourceSubnet', 'Warning']],
  ],
  [
    'Gateway',
    '{ servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"], bind: 10.0.0.1 }] }',
    [['Gateway', 'spec.servers[0].bind', 'Warning']],
  ],
  [
    'Gateway',
    '{ servers: [{ port: { number: 443, name: tls, protocol: TLS }, hosts: ["*"], tls: { mode: AUTO_PASSTHROUGH } }] }',
    [['Gateway', 'spec.servers[0].tls.mode', 'Warning']],
  ],
  [
    'Gateway',
    '{ servers: [{ port: { number: 443, name: tls, protocol: TLS }, hosts: ["*"], tls: { mode: ISTIO_MUTUAL } }, { port: { number: 80, name: https, protocol: HTTPS }, hosts: ["*"], tls: { mode: ISTIO_MUTUAL } }] }',
    [['Gateway', 'spec.servers[0].tls.mode', 'Warning']],
  ],
  [
    'DestinationRule',
    '{ host: a, subsets: [{ name: v1, labels: { v: "1" }, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN, warmupDurationSecs: 10s } } }] }',
    [['DestinationRule', 'spec.subsets[0].trafficPolicy.loadBalancer.warmupDurationSecs', 'Warning']],
  ],
  [
    'Gateway',
    '{ servers: [{ port: { number: 9443, name: tls, protocol: TLS }, hosts: ["*"], tls: { mode: SIMPLE, credentialName: c } }] }',
    [['Gateway', 'spec.servers[0].tls.mode', 'Warning']],
  ],
  [
    'Gateway',
    '{ servers: [{ port: { number: 443, name: https, protocol: HTTPS }, hosts: ["*"], tls: { mode: SIMPLE, credentialNames: [rsa, ecdsa] } }] }',
    [['Gateway', 'spec.servers[0].tls.credentialNames', 'Warning']],
  ],
  [
    'Gateway',
    '{ servers: [{ port: { number: 443, name: https, protocol: HTTPS }, hosts: ["*"], tls: { mode: OPTIONAL_MUTUAL, credentialName: c } }] }',
    [],
  ],
  [
    'Gateway',
    '{ servers: [{ port: { number: 443, name: grpc, protocol: GRPC }, hosts: ["*"] }, { port: { number: 80, name: h2, protocol: HTTP2 }, hosts: ["*"] }] }',
    [],
  ],
  [
    'DestinationRule',
    '{ host: a, trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: UPGRADE, http2MaxRequests: 10, maxConcurrentStreams: 5, maxRetries: 3 }, tcp: { maxConnectionDuration: 1h, tcpKeepalive: { time: 10s } } } } }',
    [
      ['DestinationRule', 'spec.trafficPolicy.connectionPool.http.maxRetries', 'Warning'],
      ['DestinationRule', 'spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration', 'Warning'],
      ['DestinationRule', 'spec.trafficPolicy.connectionPool.tcp.tcpKeepalive', 'Warning'],
    ],
  ],
  [
    'DestinationRule',
    '{ host: a, subsets: [{ name: v1, labels: { v: "1" }, trafficPolicy: { connectionPool: { http: { useClientProtocol: true, h2UpgradePolicy: DO_NOT_UPGRADE } } } }] }',
    [],
  ],
  [
    'ServiceEntry',
    // gRPC-Web is translated to gRPC on the port's listeners, as Envoy's grpc_web filter does.
    '{ hosts: [a.example.org], ports: [{ number: 80, name: web, protocol: GRPC-WEB }, { number: 81, name: rpc, protocol: GRPC }], resolution: DNS }',
    [],
  ],
  ['WorkloadEntry', '{ address: 10.0.0.1, weight: 3 }', [['WorkloadEntry', 'spec.weight', 'Warning']]],
  ['AuthorizationPolicy', '{ action: CUSTOM, provider: { name: ext }, rules: [{}] }', [['AuthorizationPolicy', 'spec.action', 'Warning']]],
  [
    'AuthorizationPolicy',
    '{ rules: [{ from: [{ source: { requestPrincipals: ["*"], principals: [a] } }], when: [{ key: "request.auth.claims[iss]", values: [x] }, { key: "request.headers[x]", values: [y] }, { key: connection.sni, values: [a] }] }] }',
    // Request principals and request.auth.* are evaluated (RequestAuthentication); connection.sni is not.
    [['AuthorizationPolicy', 'spec.rules[0].when[2].key', 'Warning']],
  ],
  [
    'RequestAuthentication',
    '{ jwtRules: [{ issuer: a, jwksUri: "https://a.example/jwks", timeout: 10s }, { issuer: b }] }',
    [
      ['RequestAuthentication', 'spec.jwtRules[0].timeout', 'Warning'],
      ['RequestAuthentication', 'spec.jwtRules[1]', 'Warning'],
    ],
  ],
])('%s %s', (kind, spec, expected) => {
  const group = kind === 'AuthorizationPolicy' || kind === 'RequestAuthentication' ? 'security.istio.io' : 'networking.istio.io';
  expect(warnings(`apiVersion: ${group}/v1\nkind: ${kind}\nmetadata: { name: x, namespace: default }\nspec: ${spec}\n`)).toEqual(expected);
});

test('tls routes apply at a gateway (PASSTHROUGH servers) as on sidecars (TLS and HTTPS ports, by SNI)', () => {
  expect(
    warnings(
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: x, namespace: default }\nspec: { hosts: [a], gateways: [edge], tls: [{ match: [{ sniHosts: [a] }], route: [{ destination: { host: a } }] }] }\n',
    ),
  ).toEqual([]);
});

test('an AuthorizationPolicy field mast-proxy does not evaluate: the warning says how it fails closed', () => {
  const messages = (action: string) =>
    validate(
      loadYaml(
        `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: x, namespace: default }\nspec: { action: ${action}, rules: [{ when: [{ key: connection.sni, values: [a] }] }] }\n`,
      ).objects,
      { scope: 'resource' },
    )
      .filter((f) => f.code === 'MAST0301')
      .map((f) => f.message);
  expect(messages('ALLOW')).toEqual(['condition "connection.sni": this ALLOW rule matches nothing (not applied by mast-proxy yet)']);
  expect(messages('DENY')).toEqual([
    'condition "connection.sni": this DENY rule matches with it ignored (it denies more) (not applied by mast-proxy yet)',
  ]);
});

test('request principals and request.auth.* conditions (nested claims too) are evaluated: no warning', () => {
  const found = validate(
    loadYaml(
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: x, namespace: default }\nspec: { rules: [{ from: [{ source: { requestPrincipals: ["a/b"], notRequestPrincipals: ["c/*"] } }], when: [{ key: "request.auth.claims[groups]", values: [g] }, { key: "request.auth.claims[nested][key1]", values: [v] }, { key: request.auth.audiences, values: [x] }, { key: request.auth.presenter, values: [p] }, { key: request.auth.principal, values: [a/b] }] }] }\n',
    ).objects,
    { scope: 'resource' },
  );
  expect(found).toEqual([]);
});
