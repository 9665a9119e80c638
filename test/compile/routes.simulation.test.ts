/**
 * HTTP routes, as a gateway applies them (the same RouteConfig reaches sidecars): every match
 * kind, weights, subsets, redirect, direct response, rewrites, delegation, mirror, fault, CORS
 * preflight, timeouts and retries. Given this mesh, this request goes there.
 */
import { DEFAULT_RETRY } from '../../runtime/contract/proxy-config';
import { GATEWAY, compileMesh, outcome, runSimulations, seeded } from './simulation';

/** A gateway for every host on port 80, and two services: a (subsets v1, v2) and b. */
const BASE = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: a, namespace: default }
spec:
  hosts: [a.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  endpoints: [{ address: 10.0.0.1, labels: { version: v1 } }, { address: 10.0.0.2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: b, namespace: default }
spec:
  hosts: [b.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9090, name: http, protocol: HTTP }]
  endpoints: [{ address: 10.0.1.1 }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: a, namespace: default }
spec: { host: a.default.svc.cluster.local, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }
`;
const A = 'outbound|8080||a.default.svc.cluster.local';
const A_V1 = 'outbound|8080|v1|a.default.svc.cluster.local';
const A_V2 = 'outbound|8080|v2|a.default.svc.cluster.local';
const B = 'outbound|9090||b.default.svc.cluster.local';

/** BASE and one VirtualService for example.com bound to the gateway, with these http routes (YAML flow lists). */
const withRoutes = (http: string, extra = '') => `${BASE}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: site, namespace: default }
spec:
  hosts: [example.com]
  gateways: [edge]
  http:
${http}
${extra}`;

runSimulations([
  {
    name: 'uri matches: exact, prefix, regex (whole path, RE2), ignoreUriCase',
    proxy: GATEWAY,
    mesh: withRoutes(`
  - { name: exact, match: [{ uri: { exact: /exact } }], route: [{ destination: { host: a } }] }
  - { name: prefix, match: [{ uri: { prefix: /api/ } }], route: [{ destination: { host: b } }] }
  - { name: regex, match: [{ uri: { regex: "/items/[0-9]+" } }], route: [{ destination: { host: a, subset: v2 } }] }
  - { name: nocase, match: [{ uri: { exact: /CaseLess }, ignoreUriCase: true }, { uri: { prefix: /Docs }, ignoreUriCase: true }], route: [{ destination: { host: a, subset: v1 } }] }`),
    calls: [
      {
        name: 'exact path',
        request: { path: '/exact' },
        expect: {
          outcome: 'routed',
          listener: '0.0.0.0_80',
          virtualHost: 'example.com:80',
          route: 'exact',
          cluster: A,
          endpoints: ['10.0.0.1:8080', '10.0.0.2:8080'],
          path: '/exact',
        },
      },
      { name: 'exact ignores the query', request: { path: '/exact?x=1' }, expect: { route: 'exact', path: '/exact?x=1' } },
      { name: 'exact is not a prefix', request: { path: '/exact/more' }, expect: { outcome: 'no-route', status: 404 } },
      { name: 'prefix', request: { path: '/api/users' }, expect: { route: 'prefix', cluster: B, endpoints: ['10.0.1.1:9090'] } },
      { name: 'prefix is case-sensitive', request: { path: '/API/users' }, expect: { outcome: 'no-route', status: 404 } },
      {
        name: 'regex, whole path',
        request: { path: '/items/42' },
        expect: { route: 'regex', cluster: A_V2, endpoints: ['10.0.0.2:8080'] },
      },
      { name: 'regex does not match a part', request: { path: '/items/42/x' }, expect: { outcome: 'no-route' } },
      { name: 'ignoreUriCase exact', request: { path: '/CASELESS' }, expect: { route: 'nocase', cluster: A_V1 } },
      { name: 'ignoreUriCase prefix (second match of the rule)', request: { path: '/docs/intro' }, expect: { route: 'nocase' } },
      {
        name: 'unknown host: the catch-all server host still needs a VirtualService host',
        request: { host: 'other.org', path: '/exact' },
        expect: { outcome: 'no-route', status: 404 },
      },
    ],
  },
  {
    name: 'request matches: headers, withoutHeaders, queryParams, method, authority, port; first rule wins',
    proxy: GATEWAY,
    mesh: withRoutes(
      `
  - { name: jason, match: [{ headers: { end-user: { exact: jason } } }], route: [{ destination: { host: a, subset: v2 } }] }
  - { name: beta-prefix, match: [{ headers: { x-group: { prefix: beta- } } }], route: [{ destination: { host: b } }] }
  - { name: header-regex, match: [{ headers: { x-build: { regex: "[0-9]+\\\\.[0-9]+" } } }], route: [{ destination: { host: b } }] }
  - { name: not-debug, match: [{ uri: { prefix: /nodebug }, withoutHeaders: { x-debug: { exact: "1" } } }], route: [{ destination: { host: a, subset: v1 } }] }
  - { name: query, match: [{ queryParams: { version: { exact: v2 } } }], route: [{ destination: { host: a, subset: v2 } }] }
  - { name: post, match: [{ method: { exact: POST } }], route: [{ destination: { host: b } }] }
  - { name: authority, match: [{ authority: { prefix: api. } }], route: [{ destination: { host: b } }] }
  - { name: other-port, match: [{ port: 8080 }], route: [{ destination: { host: b } }] }
  - { name: this-port, match: [{ uri: { prefix: /port }, port: 80 }], route: [{ destination: { host: b } }] }
  - { name: https-only, match: [{ scheme: { exact: https } }], route: [{ destination: { host: b } }] }
  - { name: canary-present, match: [{ headers: { x-canary: {} } }], route: [{ destination: { host: a, subset: v2 } }] }
  - { name: rest, route: [{ destination: { host: a, subset: v1 } }] }`,
      `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com]
  gateways: [edge]
  http:
  - { name: authority-api, match: [{ authority: { prefix: api. } }], route: [{ destination: { host: b } }] }`,
    ),
    calls: [
      { name: 'header exact', request: { headers: { 'end-user': 'jason' } }, expect: { route: 'jason', cluster: A_V2 } },
      { name: 'header names are case-insensitive', request: { headers: { 'End-User': 'jason' } }, expect: { route: 'jason' } },
      { name: 'header values are not', request: { headers: { 'end-user': 'Jason' } }, expect: { route: 'rest', cluster: A_V1 } },
      { name: 'header prefix', request: { headers: { 'x-group': 'beta-testers' } }, expect: { route: 'beta-prefix', cluster: B } },
      { name: 'header regex', request: { headers: { 'x-build': '1.25' } }, expect: { route: 'header-regex' } },
      { name: 'header regex, whole value', request: { headers: { 'x-build': 'v1.25' } }, expect: { route: 'rest' } },
      { name: 'withoutHeaders: absent', request: { path: '/nodebug' }, expect: { route: 'not-debug' } },
      {
        name: 'withoutHeaders: present with another value',
        request: { path: '/nodebug', headers: { 'x-debug': '0' } },
        expect: { route: 'not-debug' },
      },
      {
        name: 'withoutHeaders: present with the value',
        request: { path: '/nodebug', headers: { 'x-debug': '1' } },
        expect: { route: 'rest' },
      },
      { name: 'query parameter', request: { path: '/?a=1&version=v2' }, expect: { route: 'query', cluster: A_V2 } },
      { name: 'query parameter, another value', request: { path: '/?version=v3' }, expect: { route: 'rest' } },
      { name: 'method', request: { method: 'POST' }, expect: { route: 'post', cluster: B } },
      { name: 'authority of this virtual host does not start with api.', request: { host: 'example.com' }, expect: { route: 'rest' } },
      {
        name: 'authority prefix on its own virtual host',
        request: { host: 'api.example.com' },
        expect: { virtualHost: 'api.example.com:80', route: 'authority-api' },
      },
      { name: 'a match for another port never applies here (compiled out)', request: {}, expect: { route: 'rest' } },
      { name: 'a match for this port', request: { path: '/port' }, expect: { route: 'this-port', cluster: B } },
      { name: 'scheme', request: { scheme: 'https' }, expect: { route: 'https-only' } },
      {
        name: 'a header present with any value (an empty StringMatch)',
        request: { headers: { 'x-canary': '' } },
        expect: { route: 'canary-present', cluster: A_V2 },
      },
      {
        name: 'the first rule that matches wins',
        request: { method: 'POST', headers: { 'end-user': 'jason' } },
        expect: { route: 'jason' },
      },
    ],
  },
  {
    name: 'route destinations: subsets by endpoint labels, by short name or FQDN and port',
    proxy: GATEWAY,
    mesh: withRoutes(`
  - { name: v1, match: [{ uri: { prefix: /v1 } }], route: [{ destination: { host: a, subset: v1 } }] }
  - { name: v2, match: [{ uri: { prefix: /v2 } }], route: [{ destination: { host: a.default.svc.cluster.local, subset: v2, port: { number: 8080 } } }] }
  - { name: all, route: [{ destination: { host: a } }] }`),
    calls: [
      { name: 'subset v1: only its endpoints', request: { path: '/v1' }, expect: { cluster: A_V1, endpoints: ['10.0.0.1:8080'] } },
      { name: 'subset v2 by FQDN and port', request: { path: '/v2' }, expect: { cluster: A_V2, endpoints: ['10.0.0.2:8080'] } },
      { name: 'no subset: every endpoint', request: { path: '/' }, expect: { cluster: A, endpoints: ['10.0.0.1:8080', '10.0.0.2:8080'] } },
    ],
  },
  {
    name: 'redirect and direct response: answered by the proxy',
    proxy: GATEWAY,
    mesh: withRoutes(`
  - { name: moved, match: [{ uri: { exact: /old } }], redirect: { uri: /new } }
  - { name: found, match: [{ uri: { exact: /temp } }], redirect: { uri: /elsewhere, authority: other.example.com, redirectCode: 302 } }
  - { name: to-https, match: [{ uri: { prefix: /secure } }], redirect: { scheme: https, port: 8443 } }
  - { name: down, match: [{ uri: { prefix: /down } }], directResponse: { status: 503, body: { string: "maintenance" } } }
  - { name: empty, match: [{ uri: { prefix: /empty } }], directResponse: { status: 204 } }`),
    calls: [
      {
        name: 'redirect: 301 by default, same authority',
        request: { path: '/old' },
        expect: { route: 'moved', status: 301, location: 'http://example.com/new', cluster: undefined },
      },
      {
        name: 'redirect with authority and code',
        request: { path: '/temp' },
        expect: { status: 302, location: 'http://other.example.com/elsewhere' },
      },
      {
        name: 'redirect of scheme and port keeps the path',
        request: { path: '/secure/a?b=1' },
        expect: { status: 301, location: 'https://example.com:8443/secure/a?b=1' },
      },
      { name: 'direct response with a body', request: { path: '/down' }, expect: { route: 'down', status: 503, body: 'maintenance' } },
      { name: 'direct response without a body', request: { path: '/empty' }, expect: { status: 204, body: undefined } },
    ],
  },
  {
    name: 'rewrite: uri prefix (the matched prefix, else the whole path; the query kept), authority, uriRegexRewrite',
    proxy: GATEWAY,
    mesh: withRoutes(`
  - { name: prefix, match: [{ uri: { prefix: /api/ } }], rewrite: { uri: /internal/ }, route: [{ destination: { host: b } }] }
  - { name: exact, match: [{ uri: { exact: /login } }], rewrite: { uri: /auth/login }, route: [{ destination: { host: b } }] }
  - { name: root, match: [{ uri: { prefix: /strip } }], rewrite: { uri: "/" }, route: [{ destination: { host: b } }] }
  - { name: authority, match: [{ uri: { prefix: /host } }], rewrite: { authority: b.internal }, route: [{ destination: { host: b } }] }
  - { name: regex, match: [{ uri: { prefix: /users/ } }], rewrite: { uriRegexRewrite: { match: "^/users/([^/]+)/profile$", rewrite: "/profiles/\\\\1" } }, route: [{ destination: { host: b } }] }
  - { name: plain, route: [{ destination: { host: a } }] }`),
    calls: [
      {
        name: 'prefix replaced, rest and query kept',
        request: { path: '/api/v1/x?q=1' },
        expect: { route: 'prefix', path: '/internal/v1/x?q=1', authority: 'example.com' },
      },
      {
        name: 'exact match: the whole path replaced',
        request: { path: '/login?next=/' },
        expect: { route: 'exact', path: '/auth/login?next=/' },
      },
      { name: 'prefix to /', request: { path: '/strip/a' }, expect: { path: '//a' } },
      {
        name: 'authority rewritten, path kept',
        request: { path: '/host/x' },
        expect: { route: 'authority', path: '/host/x', authority: 'b.internal' },
      },
      { name: 'uriRegexRewrite with a group', request: { path: '/users/ann/profile' }, expect: { route: 'regex', path: '/profiles/ann' } },
      {
        name: 'uriRegexRewrite that does not match leaves the path',
        request: { path: '/users/ann' },
        expect: { route: 'regex', path: '/users/ann' },
      },
      { name: 'no rewrite', request: { path: '/other' }, expect: { route: 'plain', path: '/other', authority: 'example.com' } },
    ],
  },
  {
    name: 'delegate: the child routes within the root match, the root name prefixed',
    proxy: GATEWAY,
    mesh: withRoutes(
      `
  - { name: shop, match: [{ uri: { prefix: /shop } }], delegate: { name: shop-routes, namespace: shop } }
  - { name: rest, route: [{ destination: { host: a } }] }`,
      `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop-routes, namespace: shop }
spec:
  http:
  - { name: cart, match: [{ uri: { prefix: /shop/cart } }], route: [{ destination: { host: b.default.svc.cluster.local } }] }
  - { name: outside, match: [{ uri: { prefix: /admin } }], route: [{ destination: { host: b.default.svc.cluster.local } }] }
  - { name: any, route: [{ destination: { host: a.default.svc.cluster.local, subset: v2 } }] }`,
    ),
    calls: [
      { name: 'a child prefix under the root prefix', request: { path: '/shop/cart/1' }, expect: { route: 'shop-cart', cluster: B } },
      {
        name: 'a child without a match takes the root match',
        request: { path: '/shop/other' },
        expect: { route: 'shop-any', cluster: A_V2 },
      },
      { name: 'a child match outside the root prefix is dropped', request: { path: '/admin' }, expect: { route: 'rest', cluster: A } },
    ],
  },
  {
    name: 'mirror, mirrors with percentages, fault delay and abort by fraction',
    proxy: GATEWAY,
    mesh: withRoutes(`
  - { name: mirrored, match: [{ uri: { prefix: /m } }], route: [{ destination: { host: a } }], mirror: { host: b }, mirrorPercentage: { value: 25 } }
  - { name: mirrors, match: [{ uri: { prefix: /n } }], route: [{ destination: { host: a } }], mirrors: [{ destination: { host: b } }, { destination: { host: a, subset: v2 }, percentage: { value: 10 } }] }
  - { name: abort, match: [{ uri: { prefix: /abort } }], fault: { abort: { httpStatus: 503, percentage: { value: 50 } } }, route: [{ destination: { host: a } }] }
  - { name: delay, match: [{ uri: { prefix: /delay } }], fault: { delay: { fixedDelay: 1.5s, percentage: { value: 100 } } }, route: [{ destination: { host: a } }] }`),
    calls: [
      { name: 'mirror at 25 %', request: { path: '/m' }, expect: { cluster: A, mirrors: [`${B}@0.25`] } },
      { name: 'mirrors: 100 % unless a percentage is given', request: { path: '/n' }, expect: { mirrors: [`${B}@1`, `${A_V2}@0.1`] } },
      {
        name: 'abort fires below its fraction',
        request: { path: '/abort' },
        random: 0.4,
        expect: { route: 'abort', status: 503, cluster: A },
      },
      {
        name: 'abort does not fire above it',
        request: { path: '/abort' },
        random: 0.6,
        expect: { route: 'abort', status: undefined, path: '/abort' },
      },
      {
        name: 'delay, then forwarded',
        request: { path: '/delay' },
        random: 0.99,
        expect: { delayMs: 1500, cluster: A, status: undefined },
      },
    ],
  },
  {
    name: 'CORS: a preflight from an allowed origin is answered here; anything else is forwarded',
    proxy: GATEWAY,
    mesh: withRoutes(`
  - name: cors
    corsPolicy: { allowOrigins: [{ exact: "https://app.example.com" }, { regex: "https://.*\\\\.dev\\\\.example\\\\.com" }], allowMethods: [GET, POST], allowHeaders: [x-token], maxAge: 24h, allowCredentials: true }
    route: [{ destination: { host: a } }]`),
    calls: [
      {
        name: 'preflight from an exact origin',
        request: { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } },
        expect: {
          status: 200,
          headers: {
            'access-control-allow-origin': 'https://app.example.com',
            'access-control-allow-methods': 'GET,POST',
            'access-control-allow-headers': 'x-token',
            'access-control-max-age': '86400',
            'access-control-allow-credentials': 'true',
          },
        },
      },
      {
        name: 'preflight from a regex origin',
        request: { method: 'OPTIONS', headers: { origin: 'https://x.dev.example.com', 'access-control-request-method': 'GET' } },
        expect: { status: 200 },
      },
      {
        name: 'an origin not allowed is forwarded',
        request: { method: 'OPTIONS', headers: { origin: 'https://evil.example.org', 'access-control-request-method': 'GET' } },
        expect: { status: undefined, cluster: A },
      },
      {
        name: 'OPTIONS without Access-Control-Request-Method is not a preflight',
        request: { method: 'OPTIONS', headers: { origin: 'https://app.example.com' } },
        expect: { status: undefined, cluster: A },
      },
      {
        name: 'a simple GET is forwarded',
        request: { headers: { origin: 'https://app.example.com' } },
        expect: { status: undefined, cluster: A },
      },
    ],
  },
  {
    name: "header operations: the route's, then the destination's, on the request and the response",
    proxy: GATEWAY,
    mesh: withRoutes(`
  - name: headers
    headers: { request: { set: { x-route: r }, remove: [X-Debug] }, response: { add: { x-served-by: mast } } }
    route:
    - { destination: { host: a, subset: v1 }, weight: 50, headers: { request: { add: { x-subset: v1 } }, response: { remove: [server] } } }
    - { destination: { host: a, subset: v2 }, weight: 50 }`),
    calls: [
      {
        name: 'to v1: both',
        request: {},
        random: 0.1,
        expect: {
          cluster: A_V1,
          requestHeaders: [
            { set: [['x-route', 'r']], add: undefined, remove: ['x-debug'] },
            { set: undefined, add: [['x-subset', 'v1']], remove: undefined },
          ],
          responseHeaders: [
            { set: undefined, add: [['x-served-by', 'mast']], remove: undefined },
            { set: undefined, add: undefined, remove: ['server'] },
          ],
        },
      },
      {
        name: "to v2: the route's only",
        request: {},
        random: 0.9,
        expect: { cluster: A_V2, requestHeaders: [{ set: [['x-route', 'r']], add: undefined, remove: ['x-debug'] }] },
      },
    ],
  },
  {
    name: 'timeouts and retries in the plan',
    proxy: GATEWAY,
    mesh: withRoutes(`
  - { name: timed, match: [{ uri: { prefix: /t } }], timeout: 2s, route: [{ destination: { host: a } }] }
  - { name: retried, match: [{ uri: { prefix: /r } }], retries: { attempts: 3, perTryTimeout: 500ms, retryOn: "5xx,reset" }, route: [{ destination: { host: a } }] }
  - { name: no-retry, match: [{ uri: { prefix: /n } }], retries: { attempts: 0 }, route: [{ destination: { host: a } }] }
  - { name: defaults, route: [{ destination: { host: a } }] }`),
    calls: [
      { name: 'timeout', request: { path: '/t' }, expect: { timeoutMs: 2000, retries: DEFAULT_RETRY } },
      {
        name: 'retries as written',
        request: { path: '/r' },
        expect: { timeoutMs: undefined, retries: { attempts: 3, perTryTimeoutMs: 500, retryOn: ['5xx', 'reset'] } },
      },
      {
        name: 'attempts 0: no retries, the default conditions kept',
        request: { path: '/n' },
        expect: { retries: { attempts: 0, perTryTimeoutMs: undefined, retryOn: DEFAULT_RETRY.retryOn } },
      },
      {
        name: "silent: Istio's default retries, no timeout",
        request: { path: '/' },
        expect: { timeoutMs: undefined, retries: DEFAULT_RETRY },
      },
    ],
  },
  {
    name: 'matches that name gateways or clients: applied where they hold (per match, compiled per proxy)',
    proxy: GATEWAY,
    mesh: `${BASE}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: other, namespace: default }
spec: { selector: { app: other-gateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: other-gateway, namespace: default }
spec: { template: { metadata: { labels: { app: other-gateway } } } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: site, namespace: default }
spec:
  hosts: [example.com]
  gateways: [edge, other, mesh]
  http:
  - { name: at-other, match: [{ gateways: [other] }], route: [{ destination: { host: b } }] }
  - { name: at-edge, match: [{ uri: { prefix: /edge }, gateways: [default/edge] }], route: [{ destination: { host: b } }] }
  - { name: ingress-clients, match: [{ uri: { prefix: /src }, sourceLabels: { istio: ingressgateway } }], route: [{ destination: { host: a, subset: v2 } }] }
  - { name: other-clients, match: [{ uri: { prefix: /other }, sourceLabels: { app: web } }], route: [{ destination: { host: b } }] }
  - { name: rest, route: [{ destination: { host: a, subset: v1 } }] }`,
    calls: [
      { name: 'a match for another gateway is left out', request: { path: '/' }, expect: { route: 'rest' } },
      { name: 'a match for this gateway (ns/name)', request: { path: '/edge' }, expect: { route: 'at-edge', cluster: B } },
      {
        name: "sourceLabels that select this gateway's labels",
        request: { path: '/src' },
        expect: { route: 'ingress-clients', cluster: A_V2 },
      },
      { name: 'sourceLabels of another workload', request: { path: '/other' }, expect: { route: 'rest' } },
    ],
  },
]);

describe('weights', () => {
  const config = compileMesh(
    withRoutes(`
  - { name: canary, match: [{ uri: { prefix: /canary } }], route: [{ destination: { host: a, subset: v1 }, weight: 75 }, { destination: { host: a, subset: v2 }, weight: 25 }] }
  - { name: relative, match: [{ uri: { prefix: /relative } }], route: [{ destination: { host: a, subset: v1 }, weight: 1 }, { destination: { host: a, subset: v2 }, weight: 3 }] }
  - { name: zero, match: [{ uri: { prefix: /zero } }], route: [{ destination: { host: a, subset: v1 }, weight: 0 }, { destination: { host: b }, weight: 100 }] }`),
    GATEWAY,
  );
  const at = (path: string, random: number) => outcome(config, { port: 80, host: 'example.com', path }, random).cluster;

  test.each([
    ['/canary', 0, A_V1],
    ['/canary', 0.7499, A_V1],
    ['/canary', 0.75, A_V2],
    ['/canary', 0.9999, A_V2],
    ['/relative', 0.2499, A_V1],
    ['/relative', 0.25, A_V2],
    ['/zero', 0, B],
  ])('%s at random %d → %s', (path, random, cluster) => expect(at(path, random)).toBe(cluster));

  test.each([
    ['/canary', 0.75],
    ['/relative', 0.25],
    ['/zero', 0],
  ])('%s: 10,000 seeded picks send weight/sum to v1 (%d)', (path, share) => {
    const random = seeded(21);
    let v1 = 0;
    for (let i = 0; i < 10_000; i++) if (at(path, random()) === A_V1) v1++;
    expect(Math.abs(v1 / 10_000 - share)).toBeLessThan(0.02);
  });
});
