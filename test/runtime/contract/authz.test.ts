import { loadYaml } from '../../../api';
import { authzFor } from '../../../runtime/compile/authz';
import { buildIndex, makeSnapshot } from '../../../runtime/compile';
import {
  applicable,
  authorize,
  authorizeConnection,
  matchesPattern,
  NO_ALLOW_MATCHED,
  rbacDeniedDetails,
  type AuthzConfig,
  type AuthzConnection,
  type AuthzRequest,
} from '../../../runtime/contract/authz';

const request = (over: Partial<AuthzRequest> = {}, headers: Record<string, string> = {}): AuthzRequest => ({
  method: 'GET',
  path: '/api/v1/products/1?x=1',
  host: 'reviews:9080',
  port: 9080,
  sourceIp: '10.1.2.3',
  remoteIp: '10.1.2.3',
  header: (n) => headers[n],
  ...over,
});

describe('authorization: evaluation (Istio semantics)', () => {
  test('patterns: exact, prefix*, *suffix, * (any non-empty)', () => {
    expect(matchesPattern('/api/*', '/api/x')).toBe(true);
    expect(matchesPattern('*.js', '/app.js')).toBe(true);
    expect(matchesPattern('*', '')).toBe(false);
    expect(matchesPattern('*', undefined)).toBe(false);
    expect(matchesPattern('GET', 'GET')).toBe(true);
  });

  test('no ALLOW policy: allowed unless a DENY rule matches', () => {
    const cfg: AuthzConfig = { deny: [{ name: 'default/no-admin[0]', to: [{ paths: ['/admin*'] }] }] };
    expect(authorize(cfg, request())).toEqual({ allowed: true });
    expect(authorize(cfg, request({ path: '/admin/users' }))).toEqual({ allowed: false, policy: 'default/no-admin[0]' });
  });

  test('ALLOW policies: only a matching rule lets a request through; ALLOW without rules denies all; DENY wins over ALLOW', () => {
    const cfg: AuthzConfig = {
      deny: [{ name: 'd[0]', to: [{ methods: ['DELETE'] }] }],
      allow: [{ name: 'a[0]', when: [{ key: 'request.headers[end-user]', values: ['jason'] }] }],
    };
    expect(authorize(cfg, request({}, { 'end-user': 'jason' }))).toEqual({ allowed: true });
    expect(authorize(cfg, request({}, { 'end-user': 'bob' }))).toEqual({ allowed: false, policy: 'no ALLOW rule matched' });
    expect(authorize(cfg, request({ method: 'DELETE' }, { 'end-user': 'jason' }))).toEqual({ allowed: false, policy: 'd[0]' });
    expect(authorize({ deny: [], allow: [] }, request())).toMatchObject({ allowed: false });
    expect(authorize({ deny: [], allow: [{ name: 'all' }] }, request())).toEqual({ allowed: true });
  });

  test('a rule needs one source, one operation and every condition; not* fields exclude', () => {
    const rule = {
      name: 'r',
      from: [{ ipBlocks: ['10.1.0.0/16'] }, { ipBlocks: ['192.168.0.1'] }],
      to: [{ methods: ['GET'], notPaths: ['/private*'], ports: ['9080'] }],
      when: [{ key: 'source.ip', notValues: ['10.1.2.99/32'] }],
    };
    const cfg: AuthzConfig = { deny: [], allow: [rule] };
    expect(authorize(cfg, request()).allowed).toBe(true);
    expect(authorize(cfg, request({ sourceIp: '::ffff:192.168.0.1' })).allowed).toBe(true);
    expect(authorize(cfg, request({ sourceIp: '10.2.0.1' })).allowed).toBe(false);
    expect(authorize(cfg, request({ path: '/private/x' })).allowed).toBe(false);
    expect(authorize(cfg, request({ port: 8080 })).allowed).toBe(false);
    expect(authorize(cfg, request({ sourceIp: '10.1.2.99' })).allowed).toBe(false);
  });

  test('without mTLS there is no peer identity: principals and namespaces never match', () => {
    const cfg: AuthzConfig = { deny: [], allow: [{ name: 'r', from: [{ principals: ['*'] }] }] };
    expect(authorize(cfg, request()).allowed).toBe(false);
    expect(authorize(cfg, request({ principal: 'cluster.local/ns/default/sa/productpage' })).allowed).toBe(true);
    expect(
      authorize({ deny: [], allow: [{ name: 'r', when: [{ key: 'request.auth.claims[iss]', values: ['*'] }] }] }, request()).allowed,
    ).toBe(false);
  });
});

/**
 * Policy → compiled (what mastd sends) → decision, for HTTP requests and for TCP connections, as
 * Istio documents them ("Authorization for TCP traffic", the AuthorizationPolicy reference).
 */
describe('authorization: the same policies on HTTP and on TCP (fail closed)', () => {
  const tcpEcho = { mode: 'sidecar' as const, namespace: 'foo', labels: { app: 'tcp-echo' } };
  const compiled = (spec: string): AuthzConfig => {
    const index = buildIndex(
      makeSnapshot(
        loadYaml(
          `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: tcp-policy, namespace: foo }\nspec: ${spec}\n`,
        ).objects,
        'v1',
      ),
    );
    return authzFor(index, tcpEcho)!;
  };
  const conn = (over: Partial<AuthzConnection> = {}): AuthzConnection => ({
    port: 9000,
    sourceIp: '10.1.2.3',
    remoteIp: '10.1.2.3',
    ...over,
  });
  const tcp = (spec: string, over?: Partial<AuthzConnection>) => authorizeConnection(compiled(spec), conn(over)).allowed;
  const http = (spec: string, over?: Partial<AuthzRequest>, headers?: Record<string, string>) =>
    authorize(compiled(spec), request({ port: 9000, ...over }, headers)).allowed;
  const SLEEP = 'cluster.local/ns/foo/sa/sleep';

  test.each([
    // [what, policy spec, connection, allowed]
    ['ALLOW on ports: the listed port', '{ action: ALLOW, rules: [{ to: [{ operation: { ports: ["9000", "9001"] } }] }] }', {}, true],
    [
      'ALLOW on ports: another port',
      '{ action: ALLOW, rules: [{ to: [{ operation: { ports: ["9000", "9001"] } }] }] }',
      { port: 9002 },
      false,
    ],
    [
      'ALLOW with methods + ports: the rule is dropped, nothing matches',
      '{ action: ALLOW, rules: [{ to: [{ operation: { methods: [GET], ports: ["9000"] } }] }] }',
      {},
      false,
    ],
    [
      'ALLOW: a dropped rule leaves the others',
      '{ action: ALLOW, rules: [{ to: [{ operation: { paths: ["/x"] } }] }, { to: [{ operation: { ports: ["9000"] } }] }] }',
      {},
      true,
    ],
    [
      'DENY with methods only: denies every connection',
      '{ action: DENY, rules: [{ to: [{ operation: { methods: [GET] } }] }] }',
      { port: 9001 },
      false,
    ],
    [
      'DENY with methods + ports: the port',
      '{ action: DENY, rules: [{ to: [{ operation: { methods: [GET], ports: ["9000"] } }] }] }',
      {},
      false,
    ],
    [
      'DENY with methods + ports: another port',
      '{ action: DENY, rules: [{ to: [{ operation: { methods: [GET], ports: ["9000"] } }] }] }',
      { port: 9001 },
      true,
    ],
    [
      'DENY with a header condition: ignored, denies',
      '{ action: DENY, rules: [{ when: [{ key: "request.headers[x-user]", values: [bob] }] }] }',
      {},
      false,
    ],
    [
      'DENY with requestPrincipals: ignored, denies',
      '{ action: DENY, rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }] }',
      {},
      false,
    ],
    [
      'ALLOW with notRequestPrincipals: dropped',
      '{ action: ALLOW, rules: [{ from: [{ source: { notRequestPrincipals: ["*"] } }] }] }',
      {},
      false,
    ],
    [
      'ALLOW on principals: the verified peer',
      `{ action: ALLOW, rules: [{ from: [{ source: { principals: ["${SLEEP}"] } }] }] }`,
      { principal: SLEEP, namespace: 'foo' },
      true,
    ],
    [
      'ALLOW on principals: no mTLS, no identity',
      `{ action: ALLOW, rules: [{ from: [{ source: { principals: ["${SLEEP}"] } }] }] }`,
      {},
      false,
    ],
    [
      'ALLOW on namespaces',
      '{ action: ALLOW, rules: [{ from: [{ source: { namespaces: [foo] } }] }] }',
      { principal: SLEEP, namespace: 'foo' },
      true,
    ],
    [
      'DENY on notNamespaces: a peer without identity is in no namespace',
      '{ action: DENY, rules: [{ from: [{ source: { notNamespaces: [foo] } }] }] }',
      {},
      false,
    ],
    ['ALLOW on ipBlocks: the direct peer', '{ action: ALLOW, rules: [{ from: [{ source: { ipBlocks: ["10.1.0.0/16"] } }] }] }', {}, true],
    [
      'ALLOW on ipBlocks: not the PROXY protocol source',
      '{ action: ALLOW, rules: [{ from: [{ source: { ipBlocks: ["203.0.113.7"] } }] }] }',
      { remoteIp: '203.0.113.7' },
      false,
    ],
    [
      'ALLOW on remoteIpBlocks: the PROXY protocol source',
      '{ action: ALLOW, rules: [{ from: [{ source: { remoteIpBlocks: ["203.0.113.0/24"] } }] }] }',
      { remoteIp: '203.0.113.7' },
      true,
    ],
    [
      'DENY on notRemoteIpBlocks',
      '{ action: DENY, rules: [{ from: [{ source: { notRemoteIpBlocks: ["203.0.113.0/24"] } }] }] }',
      { remoteIp: '198.51.100.1' },
      false,
    ],
    [
      'when destination.port and source.ip apply on TCP',
      '{ action: ALLOW, rules: [{ when: [{ key: destination.port, values: ["9000"] }, { key: source.ip, values: ["10.0.0.0/8"] }] }] }',
      {},
      true,
    ],
    [
      'ALLOW with a key mast does not evaluate (connection.sni): dropped',
      '{ action: ALLOW, rules: [{ when: [{ key: connection.sni, values: ["*"] }] }] }',
      {},
      false,
    ],
    [
      'ALLOW with a field of a newer Istio (trustDomains): dropped',
      '{ action: ALLOW, rules: [{ from: [{ source: { trustDomains: [cluster.local] } }] }] }',
      { principal: SLEEP },
      false,
    ],
    [
      "ALLOW serviceAccounts: a bare name is in the policy's namespace",
      '{ action: ALLOW, rules: [{ from: [{ source: { serviceAccounts: [sleep] } }] }] }',
      { principal: SLEEP, namespace: 'foo' },
      true,
    ],
    [
      'ALLOW serviceAccounts: the same name in another namespace',
      '{ action: ALLOW, rules: [{ from: [{ source: { serviceAccounts: [sleep] } }] }] }',
      { principal: 'cluster.local/ns/bar/sa/sleep', namespace: 'bar' },
      false,
    ],
    [
      'ALLOW serviceAccounts: ns/name',
      '{ action: ALLOW, rules: [{ from: [{ source: { serviceAccounts: [bar/sleep] } }] }] }',
      { principal: 'cluster.local/ns/bar/sa/sleep', namespace: 'bar' },
      true,
    ],
    [
      'DENY notServiceAccounts: a peer without identity has no service account',
      '{ action: DENY, rules: [{ from: [{ source: { notServiceAccounts: [sleep] } }] }] }',
      {},
      false,
    ],
    [
      'DENY with an empty list: the list says nothing (Istio reads [] as absent)',
      '{ action: DENY, rules: [{ to: [{ operation: { methods: [], ports: ["9000"] } }] }] }',
      {},
      false,
    ],
    ['ALLOW without rules: denies all', '{ action: ALLOW }', {}, false],
    ['DENY without rules: denies nothing', '{ action: DENY }', {}, true],
    [
      'CUSTOM (not supported): its rules deny',
      '{ action: CUSTOM, provider: { name: opa }, rules: [{ to: [{ operation: { ports: ["9000"] } }] }] }',
      {},
      false,
    ],
    ['AUDIT decides nothing', '{ action: AUDIT, rules: [{}] }', {}, true],
  ] as Array<[string, string, Partial<AuthzConnection>, boolean]>)('TCP: %s', (_what, spec, over, allowed) => {
    expect(tcp(spec, over)).toBe(allowed);
  });

  test.each([
    [
      'ALLOW with requestPrincipals ["*"]: no token, no match',
      '{ action: ALLOW, rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }] }',
      {},
      false,
    ],
    [
      'ALLOW with requestPrincipals ["*"]: a verified token matches',
      '{ action: ALLOW, rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }] }',
      { auth: { principal: 'iss/sub', audiences: [], claims: {} } },
      true,
    ],
    [
      'ALLOW with a request.auth.claims condition in notValues: a request without the claim matches',
      '{ action: ALLOW, rules: [{ when: [{ key: "request.auth.claims[group]", notValues: [guest] }] }] }',
      {},
      true,
    ],
    [
      'ALLOW with a request.auth.claims condition in notValues: the excluded claim value does not match',
      '{ action: ALLOW, rules: [{ when: [{ key: "request.auth.claims[group]", notValues: [guest] }] }] }',
      { auth: { principal: 'iss/sub', audiences: [], claims: { group: ['staff', 'guest'] } } },
      false,
    ],
    [
      'DENY with requestPrincipals and a path: denies the path to a token holder',
      '{ action: DENY, rules: [{ from: [{ source: { requestPrincipals: ["*"] } }], to: [{ operation: { paths: ["/admin*"] } }] }] }',
      { path: '/admin/x', auth: { principal: 'iss/sub', audiences: [], claims: {} } },
      false,
    ],
    [
      'DENY with requestPrincipals and a path: no token, the rule does not match',
      '{ action: DENY, rules: [{ from: [{ source: { requestPrincipals: ["*"] } }], to: [{ operation: { paths: ["/admin*"] } }] }] }',
      { path: '/admin/x' },
      true,
    ],
    [
      'DENY with requestPrincipals and a path: other paths pass',
      '{ action: DENY, rules: [{ from: [{ source: { requestPrincipals: ["*"] } }], to: [{ operation: { paths: ["/admin*"] } }] }] }',
      { path: '/public' },
      true,
    ],
    [
      'DENY with an empty methods list: the list says nothing, the path still denies (it used to match nothing)',
      '{ action: DENY, rules: [{ to: [{ operation: { methods: [], paths: ["/admin"] } }] }] }',
      { path: '/admin' },
      false,
    ],
    [
      'ALLOW with methods: HTTP fields apply on HTTP',
      '{ action: ALLOW, rules: [{ to: [{ operation: { methods: [GET], ports: ["9000"] } }] }] }',
      {},
      true,
    ],
    [
      'ALLOW with a field of a newer Istio (trustDomains): dropped',
      '{ action: ALLOW, rules: [{ from: [{ source: { trustDomains: [cluster.local] } }] }] }',
      { principal: SLEEP },
      false,
    ],
    [
      'DENY with a field of a newer Istio: ignored, denies',
      '{ action: DENY, rules: [{ from: [{ source: { trustDomains: [cluster.local] } }], to: [{ operation: { methods: [DELETE] } }] }] }',
      { method: 'DELETE' },
      false,
    ],
  ] as Array<[string, string, Partial<AuthzRequest>, boolean]>)('HTTP: %s', (_what, spec, over, allowed) => {
    expect(http(spec, over)).toBe(allowed);
  });

  test('applicable(): what a rule becomes on TCP and on HTTP, by action', () => {
    const rule = {
      name: 'r',
      from: [{ principals: ['a'], requestPrincipals: ['*'] }],
      to: [{ ports: ['9000'], methods: ['GET'] }],
      when: [
        { key: 'request.headers[x]', values: ['y'] },
        { key: 'destination.port', values: ['9000'] },
      ],
    };
    expect(applicable(rule, 'tcp', 'ALLOW')).toBeUndefined();
    expect(applicable(rule, 'tcp', 'DENY')).toEqual({
      name: 'r',
      from: [{ principals: ['a'] }],
      to: [{ ports: ['9000'] }],
      when: [{ key: 'destination.port', values: ['9000'] }],
    });
    // On HTTP request principals apply (a verified JWT, RequestAuthentication).
    expect(applicable(rule, 'http', 'DENY')).toEqual({
      name: 'r',
      from: [{ principals: ['a'], requestPrincipals: ['*'] }],
      to: [{ ports: ['9000'], methods: ['GET'] }],
      when: rule.when,
    });
    expect(applicable({ name: 'plain', to: [{ ports: ['1'] }] }, 'tcp', 'ALLOW')).toEqual({ name: 'plain', to: [{ ports: ['1'] }] });
  });
});

test.each([
  ['foo/deny-tcp[0]', 'rbac_access_denied_matched_policy[ns[foo]-policy[deny-tcp]-rule[0]]'],
  ['istio-system/mesh.wide[12]', 'rbac_access_denied_matched_policy[ns[istio-system]-policy[mesh.wide]-rule[12]]'],
  [NO_ALLOW_MATCHED, 'rbac_access_denied_matched_policy[none]'],
  ['odd name', 'rbac_access_denied_matched_policy[odd_name]'],
])("a denial's details as Envoy's RBAC writes them with Istio's policy ids: %s", (policy, details) => {
  expect(rbacDeniedDetails(policy)).toBe(details);
});
