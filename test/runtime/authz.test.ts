import { loadYaml } from '../../api';
import { authzFor } from '../../runtime/compile/authz';
import { makeSnapshot } from '../../runtime/compile/snapshot';
import { authorize, matchesPattern, type AuthzConfig, type AuthzRequest } from '../../runtime/shared/authz';

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
    const cfg: AuthzConfig = { deny: [{ name: 'd[0]', to: [{ methods: ['DELETE'] }] }], allow: [{ name: 'a[0]', when: [{ key: 'request.headers[end-user]', values: ['jason'] }] }] };
    expect(authorize(cfg, request({}, { 'end-user': 'jason' }))).toEqual({ allowed: true });
    expect(authorize(cfg, request({}, { 'end-user': 'bob' }))).toEqual({ allowed: false, policy: 'no ALLOW rule matched' });
    expect(authorize(cfg, request({ method: 'DELETE' }, { 'end-user': 'jason' }))).toEqual({ allowed: false, policy: 'd[0]' });
    expect(authorize({ deny: [], allow: [] }, request())).toMatchObject({ allowed: false });
    expect(authorize({ deny: [], allow: [{ name: 'all' }] }, request())).toEqual({ allowed: true });
  });

  test('a rule needs one source, one operation and every condition; not* fields exclude', () => {
    const rule = { name: 'r', from: [{ ipBlocks: ['10.1.0.0/16'] }, { ipBlocks: ['192.168.0.1'] }], to: [{ methods: ['GET'], notPaths: ['/private*'], ports: ['9080'] }], when: [{ key: 'source.ip', notValues: ['10.1.2.99/32'] }] };
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
    expect(authorize({ deny: [], allow: [{ name: 'r', when: [{ key: 'request.auth.claims[iss]', values: ['*'] }] }] }, request()).allowed).toBe(false);
  });
});

describe('authorization: which policies apply to a proxy', () => {
  const snapshot = makeSnapshot(
    loadYaml(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: mesh-deny-delete, namespace: mast-system }
spec: { action: DENY, rules: [{ to: [{ operation: { methods: [DELETE] } }] }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ratings-jason, namespace: default }
spec:
  selector: { matchLabels: { app: ratings } }
  rules: [{ when: [{ key: "request.headers[end-user]", values: [jason] }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: other-ns, namespace: shop }
spec: { action: DENY, rules: [{}] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: external, namespace: default }
spec: { selector: { matchLabels: { app: details } }, action: CUSTOM, provider: { name: opa }, rules: [{ to: [{ operation: { paths: [/admin*] } }] }] }
`).objects,
    'v1',
  );
  const sidecar = (labels: Record<string, string>, namespace = 'default') => authzFor(snapshot, { mode: 'sidecar', namespace, labels });

  test('root-namespace policies apply everywhere; selectors pick workloads; other namespaces do not leak', () => {
    expect(sidecar({ app: 'ratings' })).toEqual({
      deny: [{ name: 'mast-system/mesh-deny-delete[0]', to: [{ methods: ['DELETE'] }] }],
      allow: [{ name: 'default/ratings-jason[0]', when: [{ key: 'request.headers[end-user]', values: ['jason'] }] }],
    });
    expect(sidecar({ app: 'reviews' })).toEqual({ deny: [{ name: 'mast-system/mesh-deny-delete[0]', to: [{ methods: ['DELETE'] }] }] });
    expect(sidecar({ app: 'x' }, 'shop')?.deny.map((r) => r.name)).toEqual(['mast-system/mesh-deny-delete[0]', 'shop/other-ns[0]']);
  });

  test('CUSTOM (an external authorizer) is not supported: it fails closed, its rules deny', () => {
    expect(sidecar({ app: 'details' })?.deny.map((r) => r.name)).toContain('default/external[0]');
  });
});
