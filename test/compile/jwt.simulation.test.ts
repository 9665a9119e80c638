/**
 * RequestAuthentication compiled per proxy and replayed: which proxies get which JWT rules (root
 * namespace = mesh-wide, namespace, selector; merged), the keys inline (an inline jwks, or what
 * mastd fetched for a jwksUri), then a request with a token through the proxy's verifier and
 * authorize(): 401, 403 or allowed, as Istio's authn-policy and authz-jwt tasks expect.
 */
import { loadYaml } from '../../api';
import { buildIndex, compile, equivalenceKey, makeSnapshot } from '../../runtime/compile';
import { authorize } from '../../runtime/contract/authz';
import type { ListenerConfig } from '../../runtime/contract/proxy-config';
import type { ProxyIdentity } from '../../runtime/contract/push-protocol';
import { authenticate } from '../../runtime/proxy/jwt';
import { inSeconds, jwksOf, mint, testKey } from '../runtime/proxy/jwt/mint';

const ISSUER = 'testing@secure.istio.io';
const key = testKey('RS256');
const JWKS_URI = 'https://jwks.example.com/jwks.json';

const ra = (name: string, namespace: string, spec: string) => `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: ${name}, namespace: ${namespace} }
spec: ${spec}
---
`;
const ap = (name: string, namespace: string, spec: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${namespace} }
spec: ${spec}
---
`;
const inlineRule = (extra = '') => `{ jwtRules: [{ issuer: "${ISSUER}", jwks: '${jwksOf(key)}'${extra} }] }`;

const HTTPBIN: ProxyIdentity = { mode: 'sidecar', namespace: 'foo', labels: { app: 'httpbin' }, inbound: { port: 15006, appPort: 8000 } };
const SLEEP: ProxyIdentity = { mode: 'sidecar', namespace: 'foo', labels: { app: 'sleep' }, inbound: { port: 15006, appPort: 80 } };
const BAR: ProxyIdentity = { mode: 'sidecar', namespace: 'bar', labels: { app: 'httpbin' }, inbound: { port: 15006, appPort: 8000 } };

function inboundOf(yaml: string, proxy: ProxyIdentity, fetched?: Map<string, never[] | object[]>): ListenerConfig {
  const snapshot = makeSnapshot(loadYaml(yaml).objects, 'v1', fetched as never);
  return compile(buildIndex(snapshot), proxy).listeners.find((l) => l.name === 'virtualInbound')!;
}

/** The request through the listener's JWT rules and policies: 401 (reason), 403, or 200. */
function send(listener: ListenerConfig, headers: Record<string, string> = {}, path = '/headers'): string {
  const outcome = listener.jwt
    ? authenticate(listener.jwt, { header: (n) => headers[n], query: path.split('?')[1] ?? '' })
    : { kind: 'none' as const };
  if (outcome.kind === 'rejected') return `401 ${outcome.message}`;
  if (!listener.authz) return '200';
  const decision = authorize(listener.authz, {
    method: 'GET',
    path,
    host: 'httpbin.foo:8000',
    port: 8000,
    sourceIp: '10.0.0.1',
    remoteIp: '10.0.0.1',
    header: (n) => headers[n],
    ...(outcome.kind === 'verified' ? { auth: outcome.auth } : {}),
  });
  return decision.allowed ? '200' : '403';
}

const token = (claims: Record<string, unknown> = {}) =>
  mint(key, { iss: ISSUER, sub: ISSUER, exp: inSeconds(3600), groups: ['group1'], ...claims });
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('which proxies get which JWT rules', () => {
  test.each([
    ['mesh-wide (root namespace, no selector)', ra('mesh', 'istio-system', inlineRule()), [HTTPBIN, SLEEP, BAR], []],
    ['a namespace', ra('ns', 'foo', inlineRule()), [HTTPBIN, SLEEP], [BAR]],
    [
      'a workload selector',
      ra('w', 'foo', `{ selector: { matchLabels: { app: httpbin } }, ${inlineRule().slice(2)}`),
      [HTTPBIN],
      [SLEEP, BAR],
    ],
    [
      'a root-namespace selector (across namespaces)',
      ra('w', 'istio-system', `{ selector: { matchLabels: { app: httpbin } }, ${inlineRule().slice(2)}`),
      [HTTPBIN, BAR],
      [SLEEP],
    ],
  ] as const)('%s', (_what, yaml, gets, not) => {
    for (const p of gets) expect(inboundOf(yaml, p).jwt?.rules.map((r) => r.issuer)).toEqual([ISSUER]);
    for (const p of not) expect(inboundOf(yaml, p).jwt).toBeUndefined();
  });

  test("a gateway's HTTP servers verify tokens; its TCP servers cannot (no HTTP to read a token from)", () => {
    const gateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - { port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }
  - { port: { number: 31400, name: tcp, protocol: TCP }, hosts: ["*"] }
---
`;
    const yaml = gateway + ra('gw', 'istio-system', `{ selector: { matchLabels: { istio: ingressgateway } }, ${inlineRule().slice(2)}`);
    const proxy: ProxyIdentity = { mode: 'gateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' } };
    const listeners = compile(buildIndex(makeSnapshot(loadYaml(yaml).objects, 'v1')), proxy).listeners;
    expect(listeners.map((l) => [l.matchPort, l.jwt?.rules.length])).toEqual([
      [80, 1],
      [31400, undefined],
    ]);
  });

  test('a VirtualService match on @request.auth.claims.* keeps the claim name as written (headers are lowercased)', () => {
    const yaml = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: r, namespace: foo }
spec:
  hosts: [httpbin.foo.svc.cluster.local]
  http:
  - match: [{ headers: { "@request.auth.claims.Groups": { exact: group1 }, X-Env: { exact: dev } } }]
    route: [{ destination: { host: httpbin.foo.svc.cluster.local } }]
---
apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: foo }
spec: { selector: { app: httpbin }, ports: [{ name: http, port: 8000 }] }
`;
    const config = compile(buildIndex(makeSnapshot(loadYaml(yaml).objects, 'v1')), SLEEP);
    const routes = config.listeners.flatMap((l) => l.virtualHosts ?? []).flatMap((v) => v.routes);
    expect(routes.find((r) => r.matches.length)?.matches[0].headers).toEqual([
      ['@request.auth.claims.Groups', { exact: 'group1' }],
      ['x-env', { exact: 'dev' }],
    ]);
  });

  test('sidecars a root-namespace selector tells apart do not share a config (the push compiles once per key)', () => {
    const yaml = ra('w', 'istio-system', `{ selector: { matchLabels: { app: httpbin } }, ${inlineRule().slice(2)}`);
    const index = buildIndex(makeSnapshot(loadYaml(yaml).objects, 'v1'));
    expect(equivalenceKey(index, HTTPBIN)).not.toBe(equivalenceKey(index, SLEEP));
  });

  test('rules of several policies are merged (mesh, namespace, workload), in name order', () => {
    const yaml =
      ra('mesh', 'istio-system', '{ jwtRules: [{ issuer: a, jwksUri: "https://a.example/jwks" }] }') +
      ra('ns', 'foo', '{ jwtRules: [{ issuer: b, jwksUri: "https://b.example/jwks" }] }') +
      ra('w', 'foo', '{ selector: { matchLabels: { app: httpbin } }, jwtRules: [{ issuer: c, jwksUri: "https://c.example/jwks" }] }');
    expect(inboundOf(yaml, HTTPBIN).jwt?.rules.map((r) => `${r.name} ${r.issuer}`)).toEqual([
      'foo/ns[0] b',
      'foo/w[0] c',
      'istio-system/mesh[0] a',
    ]);
  });

  test("defaults: Authorization Bearer and access_token; a rule's own locations replace them", () => {
    const yaml = ra(
      'ns',
      'foo',
      `{ jwtRules: [{ issuer: a, jwksUri: "${JWKS_URI}" }, { issuer: b, jwksUri: "${JWKS_URI}", fromHeaders: [{ name: X-Jwt }] }] }`,
    );
    const [a, b] = inboundOf(yaml, HTTPBIN).jwt!.rules;
    expect([a.fromHeaders, a.fromParams, a.fromCookies]).toEqual([[{ name: 'authorization', prefix: 'Bearer ' }], ['access_token'], []]);
    expect([b.fromHeaders, b.fromParams, b.fromCookies]).toEqual([[{ name: 'x-jwt' }], [], []]);
  });

  test("a jwksUri's keys come from what mastd fetched; not fetched: no keys (tokens refused)", () => {
    const yaml = ra('ns', 'foo', `{ jwtRules: [{ issuer: "${ISSUER}", jwksUri: "${JWKS_URI}" }] }`);
    expect(inboundOf(yaml, HTTPBIN, new Map([[JWKS_URI, [key.jwk]]])).jwt?.rules[0].keys).toEqual([key.jwk]);
    const unfetched = inboundOf(yaml, HTTPBIN);
    expect(unfetched.jwt?.rules[0].keys).toEqual([]);
    expect(send(unfetched, bearer(token()))).toBe("401 Jwks doesn't have key to match kid or alg from Jwt");
  });
});

describe('authn-policy task: end-user authentication', () => {
  const yaml = ra('jwt-example', 'foo', `{ selector: { matchLabels: { app: httpbin } }, ${inlineRule().slice(2)}`);
  const l = inboundOf(yaml, HTTPBIN);
  test('a valid token 200, an invalid one 401, none 200 (no policy requires one)', () => {
    expect(send(l, bearer(token()))).toBe('200');
    expect(send(l, { authorization: 'Bearer deadbeef' })).toBe(
      '401 Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
    );
    expect(send(l)).toBe('200');
    expect(send(l, bearer(token({ exp: inSeconds(-120) })))).toBe('401 Jwt is expired');
  });

  test('requestPrincipals ["*"]: a request without a token is denied (403)', () => {
    const withPolicy = inboundOf(
      yaml +
        ap(
          'frontend-ingress',
          'foo',
          '{ selector: { matchLabels: { app: httpbin } }, action: DENY, rules: [{ from: [{ source: { notRequestPrincipals: ["*"] } }] }] }',
        ),
      HTTPBIN,
    );
    expect(send(withPolicy)).toBe('403');
    expect(send(withPolicy, bearer(token()))).toBe('200');
  });

  test('per path: a token required on /headers only', () => {
    const withPolicy = inboundOf(
      yaml +
        ap(
          'require-jwt',
          'foo',
          '{ selector: { matchLabels: { app: httpbin } }, action: ALLOW, rules: [{ from: [{ source: { requestPrincipals: ["*"] } }], to: [{ operation: { paths: ["/headers"] } }] }, { to: [{ operation: { paths: ["/ip"] } }] }] }',
        ),
      HTTPBIN,
    );
    expect(send(withPolicy, {}, '/headers')).toBe('403');
    expect(send(withPolicy, bearer(token()), '/headers')).toBe('200');
    expect(send(withPolicy, {}, '/ip')).toBe('200');
  });
});

describe('authz-jwt task: requestPrincipals and claims', () => {
  const yaml = ra('jwt-example', 'foo', `{ selector: { matchLabels: { app: httpbin } }, ${inlineRule().slice(2)}`);
  test('ALLOW for one principal; then also requiring the groups claim', () => {
    const principal = inboundOf(
      yaml +
        ap(
          'require-jwt',
          'foo',
          `{ selector: { matchLabels: { app: httpbin } }, action: ALLOW, rules: [{ from: [{ source: { requestPrincipals: ["${ISSUER}/${ISSUER}"] } }] }] }`,
        ),
      HTTPBIN,
    );
    expect(send(principal)).toBe('403');
    expect(send(principal, bearer(token()))).toBe('200');
    expect(send(principal, bearer(token({ sub: 'someone-else' })))).toBe('403');
    const claims = inboundOf(
      yaml +
        ap(
          'require-jwt',
          'foo',
          `{ selector: { matchLabels: { app: httpbin } }, action: ALLOW, rules: [{ from: [{ source: { requestPrincipals: ["${ISSUER}/${ISSUER}"] } }], when: [{ key: "request.auth.claims[groups]", values: [group1] }] }] }`,
        ),
      HTTPBIN,
    );
    expect(send(claims, bearer(token()))).toBe('200');
    expect(send(claims, bearer(token({ groups: ['group2'] })))).toBe('403');
    expect(send(claims, bearer(token({ groups: undefined })))).toBe('403');
  });

  test('nested claims, audiences and presenter conditions', () => {
    const policy = inboundOf(
      yaml +
        ap(
          'nested',
          'foo',
          '{ action: ALLOW, rules: [{ when: [{ key: "request.auth.claims[nested][key1]", values: [valueC] }, { key: request.auth.audiences, values: ["aud-*"] }, { key: request.auth.presenter, notValues: [evil] }] }] }',
        ),
      HTTPBIN,
    );
    const good = { nested: { key1: 'valueC' }, aud: ['other', 'aud-1'], azp: 'web' };
    expect(send(policy, bearer(token(good)))).toBe('200');
    expect(send(policy, bearer(token({ ...good, nested: { key1: 'valueX' } })))).toBe('403');
    expect(send(policy, bearer(token({ ...good, aud: 'x' })))).toBe('403');
    expect(send(policy, bearer(token({ ...good, azp: 'evil' })))).toBe('403');
  });
});
