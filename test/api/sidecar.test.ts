import { importsHost, loadYaml, parseHostImport, validate } from '../../api';

const sidecar = (name: string, spec: string, ns = 'default') =>
  `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: { name: ${name}, namespace: ${ns} }\nspec:\n${spec}\n---\n`;
const codes = (yaml: string, scope: 'resource' | 'set' | 'all' = 'resource') =>
  validate(loadYaml(yaml).objects, { scope }).map((f) => [f.code, f.path]);

const FILES = '{ mode: SIMPLE, serverCertificate: /etc/certs/tls.crt, privateKey: /etc/certs/tls.key }';

test("ingress-sidecar-tls-termination's Sidecar validates without findings", () => {
  const spec = `  workloadSelector: { labels: { app: httpbin, version: v1 } }
  ingress:
  - port: { number: 9080, protocol: HTTPS, name: external }
    defaultEndpoint: 0.0.0.0:80
    tls: { mode: MUTUAL, privateKey: /etc/istio/tls-certs/tls.key, serverCertificate: /etc/istio/tls-certs/tls.crt, caCertificates: /etc/istio/tls-ca-certs/ca.crt }
  - port: { number: 9081, protocol: HTTP, name: internal }
    defaultEndpoint: 0.0.0.0:80`;
  expect(codes(sidecar('ingress-sidecar', spec, 'test'))).toEqual([]);
});

test("the tasks' Sidecars validate without findings (configuration scoping, egress control)", () => {
  const yaml =
    sidecar('default', '  egress:\n  - hosts: ["./*", "istio-system/*"]', 'istio-system') +
    sidecar(
      'ratings',
      '  workloadSelector: { labels: { app: ratings } }\n  egress:\n  - port: { number: 9080, protocol: HTTP, name: http }\n    hosts: ["./*"]\n  - hosts: ["*/*.example.com", "~/*"]',
    ) +
    sidecar('registry-only', '  outboundTrafficPolicy: { mode: REGISTRY_ONLY }', 'legacy');
  expect(codes(yaml, 'all')).toEqual([]);
});

test.each([
  ['nothing configured', '  workloadSelector: { labels: { app: a } }', [['MAST0125', 'spec']]],
  ['a host without namespace', '  egress: [{ hosts: ["reviews.default.svc.cluster.local"] }]', [['MAST0126', 'spec.egress[0].hosts[0]']]],
  ['a short name', '  egress: [{ hosts: ["./reviews"] }]', [['MAST0126', 'spec.egress[0].hosts[0]']]],
  ['a partial wildcard', '  egress: [{ hosts: ["*/foo*.com"] }]', [['MAST0126', 'spec.egress[0].hosts[0]']]],
  ['no hosts', '  egress: [{ hosts: [] }]', [['MAST0126', 'spec.egress[0].hosts']]],
  ['hosts missing', '  egress: [{ port: { number: 80 } }]', [['MAST0003', 'spec.egress[0].hosts']]],
  [
    'the catch-all listener first',
    '  egress:\n  - hosts: ["./*"]\n  - port: { number: 80 }\n    hosts: ["./*"]',
    [['MAST0127', 'spec.egress[0]']],
  ],
  [
    'two listeners on one port',
    '  egress:\n  - { port: { number: 80 }, hosts: ["./*"] }\n  - { port: { number: 80 }, hosts: ["*/*"] }',
    [['MAST0112', 'spec.egress[1].port.number']],
  ],
  [
    'a defaultEndpoint off the loopback',
    '  ingress: [{ port: { number: 9080, protocol: HTTP }, defaultEndpoint: "10.0.0.1:8080" }]',
    [['MAST0128', 'spec.ingress[0].defaultEndpoint']],
  ],
  [
    'egressProxy with REGISTRY_ONLY',
    '  outboundTrafficPolicy: { mode: REGISTRY_ONLY, egressProxy: { host: proxy.example.com, port: { number: 3128 } } }',
    [
      ['MAST0129', 'spec.outboundTrafficPolicy.egressProxy'],
      ['MAST0301', 'spec.outboundTrafficPolicy.egressProxy'],
    ],
  ],
  ['an unknown mode', '  outboundTrafficPolicy: { mode: ALLOW_ANY_DYNAMIC_DNS }', [['MAST0004', 'spec.outboundTrafficPolicy.mode']]],
  [
    'two ingress listeners on one port',
    '  workloadSelector: { labels: { app: a } }\n  ingress:\n  - { port: { number: 9080, protocol: HTTP } }\n  - { port: { number: 9080, protocol: TCP } }',
    [['MAST0112', 'spec.ingress[1].port.number']],
  ],
  [
    'tls on an HTTP port',
    `  workloadSelector: { labels: { app: a } }\n  ingress:\n  - port: { number: 9080, protocol: HTTP }\n    tls: ${FILES}`,
    [['MAST0175', 'spec.ingress[0].tls']],
  ],
  [
    'tls ISTIO_MUTUAL, credentialName, subjectAltNames',
    '  workloadSelector: { labels: { app: a } }\n  ingress:\n  - port: { number: 9080, protocol: HTTPS }\n    tls: { mode: ISTIO_MUTUAL, credentialName: c, subjectAltNames: [a] }',
    [
      ['MAST0176', 'spec.ingress[0].tls.mode'],
      ['MAST0176', 'spec.ingress[0].tls.credentialName'],
      ['MAST0176', 'spec.ingress[0].tls.subjectAltNames'],
    ],
  ],
  [
    'tls MUTUAL without the client CAs, SIMPLE without a key',
    '  workloadSelector: { labels: { app: a } }\n  ingress:\n  - port: { number: 9080, protocol: HTTPS }\n    tls: { mode: MUTUAL, serverCertificate: /c, privateKey: /k }\n  - port: { number: 9443, protocol: TLS }\n    tls: { mode: SIMPLE, serverCertificate: /c }',
    [
      ['MAST0177', 'spec.ingress[0].tls.caCertificates'],
      ['MAST0177', 'spec.ingress[1].tls.privateKey'],
    ],
  ],
  [
    'what mast does not apply of an ingress listener: bind, captureMode, connectionPool, a unix socket, PASSTHROUGH tls',
    '  workloadSelector: { labels: { app: a } }\n  ingress:\n  - port: { number: 9080, protocol: HTTP }\n    bind: 0.0.0.0\n    captureMode: NONE\n    connectionPool: { tcp: { maxConnections: 10 } }\n    defaultEndpoint: unix:///var/run/app.sock\n  - port: { number: 9443, protocol: TLS }\n    tls: { mode: PASSTHROUGH }',
    [
      ['MAST0301', 'spec.ingress[0].bind'],
      ['MAST0301', 'spec.ingress[0].captureMode'],
      ['MAST0301', 'spec.ingress[0].connectionPool'],
      ['MAST0301', 'spec.ingress[0].defaultEndpoint'],
      ['MAST0301', 'spec.ingress[1].tls.mode'],
    ],
  ],
  [
    'a targetPort on a listener port',
    '  ingress: [{ port: { number: 9080, protocol: HTTP, targetPort: 8080 } }]\n  egress: [{ port: { number: 80, targetPort: 8080 }, hosts: ["./*"] }]',
    [
      ['MAST0178', 'spec.ingress[0].port.targetPort'],
      ['MAST0178', 'spec.egress[0].port.targetPort'],
    ],
  ],
])('%s', (_, spec, expected) => {
  expect(codes(sidecar('s', spec))).toEqual(expected);
});

describe("Istio's sidecar analyzer", () => {
  const pod = (name: string, app: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata: { name: ${name}, namespace: default, labels: { app: ${app} } }\nspec: { containers: [] }\n---\n`;
  test('two Sidecars without selector in one namespace: IST0111 on each', () => {
    const found = validate(
      loadYaml(sidecar('a', '  egress: [{ hosts: ["./*"] }]') + sidecar('b', '  egress: [{ hosts: ["*/*"] }]')).objects,
      {
        scope: 'set',
      },
    );
    expect(found.map((f) => [f.code, f.istioCode, f.name])).toEqual([
      ['MAST0227', 'IST0111', 'a'],
      ['MAST0227', 'IST0111', 'b'],
    ]);
  });
  test('two Sidecars selecting one pod: IST0110 on each; a selector that selects nothing: IST0101', () => {
    const yaml =
      pod('ratings-1', 'ratings') +
      sidecar('one', '  workloadSelector: { labels: { app: ratings } }\n  egress: [{ hosts: ["./*"] }]') +
      sidecar('two', '  workloadSelector: { labels: { app: ratings } }\n  outboundTrafficPolicy: { mode: REGISTRY_ONLY }') +
      sidecar('none', '  workloadSelector: { labels: { app: nothing } }\n  egress: [{ hosts: ["./*"] }]');
    const found = validate(loadYaml(yaml).objects, { scope: 'set' });
    expect(found.map((f) => [f.code, f.istioCode, f.name])).toEqual([
      ['MAST0228', 'IST0101', 'none'],
      ['MAST0226', 'IST0110', 'one'],
      ['MAST0226', 'IST0110', 'two'],
    ]);
    expect(found[1].message).toContain('Sidecars one, two select the same workload (Pod ratings-1)');
  });
});

test.each([
  ['./*', 'default', 'reviews.default.svc.cluster.local', true],
  ['./*', 'other', 'reviews.other.svc.cluster.local', false],
  ['*/*', 'other', 'reviews.other.svc.cluster.local', true],
  ['istio-system/*', 'istio-system', 'istiod.istio-system.svc.cluster.local', true],
  ['~/*', 'default', 'reviews.default.svc.cluster.local', false],
  ['*/*.example.com', 'web', 'www.example.com', true],
  ['*/*.example.com', 'web', 'example.com', false],
  ['default/Reviews.default.svc.cluster.local', 'default', 'reviews.default.svc.cluster.local', true],
])('a Sidecar in default importing %s sees %s/%s: %s', (text, ns, host, seen) => {
  const imp = parseHostImport(text, 'default');
  expect(imp && importsHost(imp, ns, host)).toBe(seen);
});

describe('a Sidecar ingress tls where mTLS is not DISABLE on its port (istiod drops it silently): MAST0179', () => {
  const pa = (name: string, spec: string) =>
    `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: ${name}, namespace: test }\nspec:\n${spec}\n---\n`;
  const pod =
    'apiVersion: v1\nkind: Pod\nmetadata: { name: httpbin-1, namespace: test, labels: { app: httpbin } }\nspec: { containers: [] }\n---\n';
  const withTls = sidecar(
    'ingress-sidecar',
    `  workloadSelector: { labels: { app: httpbin } }\n  ingress:\n  - port: { number: 9080, protocol: HTTPS }\n    tls: ${FILES}`,
    'test',
  );
  const found = (yaml: string) =>
    validate(loadYaml(yaml).objects, { scope: 'set' })
      .filter((f) => f.code === 'MAST0179')
      .map((f) => [f.path, f.message]);

  test("the task's PeerAuthentications (STRICT, 9080 DISABLE for httpbin): applied, nothing said", () => {
    const yaml =
      pa('default', '  mtls: { mode: STRICT }') +
      pa('httpbin', '  selector: { matchLabels: { app: httpbin } }\n  portLevelMtls: { 9080: { mode: DISABLE } }');
    expect(found(pod + yaml + withTls)).toEqual([]);
  });

  test('STRICT on the port: said, with the workload and the mode', () => {
    expect(found(pod + pa('default', '  mtls: { mode: STRICT }') + withTls)).toEqual([
      ['spec.ingress[0].tls', expect.stringMatching(/^port 9080 of .*httpbin-1.* has mTLS STRICT: its tls is not applied/)],
    ]);
  });

  test('no PeerAuthentication at all (PERMISSIVE), and no workload known: said for the selector', () => {
    expect(found(withTls)).toEqual([
      ['spec.ingress[0].tls', expect.stringMatching(/^port 9080 of workloads of \{"app":"httpbin"\} has mTLS PERMISSIVE/)],
    ]);
  });
});
