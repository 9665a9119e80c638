/**
 * Istio's task security/authorization/authz-http on `mast local`'s bookinfo, step by step: allow
 * nothing in the namespace (the page is denied), then ALLOW GET on productpage (the page loads,
 * details and reviews are denied), then details and reviews for productpage's identity, then
 * ratings for reviews' identity (the stars come back). The workloads run as Bookinfo's service
 * accounts (bookinfo-productpage, bookinfo-reviews, ...), so the task's principals apply as
 * written; reviews v2/v3 call ratings over HTTP GET, as Bookinfo's do (the example calls it over
 * gRPC, a POST, which the task's `methods: ["GET"]` would not admit).
 *
 * Then security/authorization/authz-deny: httpbin in namespace foo (httpbin.ts), called as the
 * task's sleep pod does, from a workload's sidecar (productpage's: the policies name no source).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../../runtime/local/local-mesh';
import { EXAMPLE, fromWorkload, type Page, request, startExample, type Running } from '../support';
import { httpbinWorkload } from './httpbin-mesh';

const BOOKINFO_WORKLOADS = readFileSync(join(EXAMPLE, 'local', 'workloads.yaml'), 'utf8')
  .replace(/CALLS=grpc:\/\/ratings\.default\.svc\.cluster\.local:9090/g, 'CALLS=http://ratings:9080')
  .replace(/\n {2}labels:\n {4}app: ([\w-]+)/g, '\n  serviceAccount: bookinfo-$1\n  labels:\n    app: $1');

let mesh: Running;
beforeAll(async () => {
  const httpbinFoo = httpbinWorkload('foo', await freePort());
  mesh = await startExample({ files: { 'local/workloads.yaml': BOOKINFO_WORKLOADS, 'local/httpbin-foo.yaml': httpbinFoo } });
}, 90_000);
afterAll(() => mesh?.stop());

/** One more AuthorizationPolicy, as `kubectl apply -f -` of the task's YAML. */
const allow = (name: string, app: string, from?: string) =>
  mesh.edit(
    'mesh/authz-http.yaml',
    (t) => `${t}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: default }
spec:
  selector: { matchLabels: { app: ${app} } }
  action: ALLOW
  rules:
  - ${from ? `from: [{ source: { principals: ["${from}"] } }]\n    ` : ''}to: [{ operation: { methods: ["GET"] } }]
`,
  );

// productpage calls details, then reviews; jason's reviews (v2) calls ratings.
const JASON = { 'end-user': 'jason' };
const statuses = (p: Page) => ({
  page: p.status,
  details: p.body.calls?.[0]?.status,
  reviews: p.body.calls?.[1]?.status,
  ratings: p.body.calls?.[1]?.calls?.[0]?.status,
});

describe('authorization/authz-http', () => {
  test('before any policy: the page, details, reviews and ratings all answer', async () => {
    expect(statuses(await request(mesh.port, '/productpage', JASON))).toEqual({ page: 200, details: 200, reviews: 200, ratings: 200 });
  });

  test('allow-nothing: the page is denied (403)', async () => {
    await mesh.edit(
      'mesh/authz-http.yaml',
      () => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-nothing, namespace: default }
spec: {}
`,
    );
    expect((await request(mesh.port, '/productpage', JASON)).status).toBe(403);
  });

  test('productpage-viewer (GET): the page loads; details and reviews are denied', async () => {
    await allow('productpage-viewer', 'productpage');
    const page = statuses(await request(mesh.port, '/productpage', JASON));
    expect(page).toEqual({ page: 200, details: 403, reviews: 403, ratings: undefined });
  });

  test('details-viewer for productpage’s identity: details answers', async () => {
    await allow('details-viewer', 'details', 'cluster.local/ns/default/sa/bookinfo-productpage');
    expect(statuses(await request(mesh.port, '/productpage', JASON))).toMatchObject({ page: 200, details: 200, reviews: 403 });
  });

  test('reviews-viewer for productpage’s identity: reviews answers, ratings is denied ("Ratings service is currently unavailable")', async () => {
    await allow('reviews-viewer', 'reviews', 'cluster.local/ns/default/sa/bookinfo-productpage');
    expect(statuses(await request(mesh.port, '/productpage', JASON))).toEqual({ page: 200, details: 200, reviews: 200, ratings: 403 });
  });

  test('ratings-viewer for reviews’ identity: the stars are back', async () => {
    await allow('ratings-viewer', 'ratings', 'cluster.local/ns/default/sa/bookinfo-reviews');
    expect(statuses(await request(mesh.port, '/productpage', JASON))).toEqual({ page: 200, details: 200, reviews: 200, ratings: 200 });
  });
});

describe('authorization/authz-deny', () => {
  /** `curl http://httpbin.foo:8000<path> -X <method> [-H x-token: <token>] -w "%{http_code}"` from the client. */
  const code = async (path: string, method = 'GET', token?: string) =>
    (await fromWorkload(mesh.mesh, 'productpage-v1', `http://httpbin.foo:8000${path}`, token ? { 'x-token': token } : {}, false, method))
      .status;
  const policy = (name: string, action: string, rule: string) => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: ${action}
  rules:
${rule}`;
  const DENY_GET = policy('deny-method-get', 'DENY', '  - to: [{ operation: { methods: ["GET"] } }]\n');

  test('before any policy: /ip answers 200', async () => {
    expect(await code('/ip')).toBe(200);
  });

  test('deny-method-get: GET is denied (403), POST answers 200', async () => {
    await mesh.edit('mesh/authz-deny.yaml', () => DENY_GET);
    expect([await code('/get'), await code('/post', 'POST')]).toEqual([403, 200]);
  });

  test('only when x-token is not admin (notValues): admin 200, guest 403', async () => {
    await mesh.edit('mesh/authz-deny.yaml', () =>
      DENY_GET.replace(
        'methods: ["GET"] } }]\n',
        'methods: ["GET"] } }]\n    when: [{ key: "request.headers[x-token]", notValues: ["admin"] }]\n',
      ),
    );
    expect([await code('/get', 'GET', 'admin'), await code('/get', 'GET', 'guest')]).toEqual([200, 403]);
  });

  test('allow-path-ip beside it: /ip for guest 403 (the DENY first), for admin 200; /get for admin 403 (no ALLOW matches)', async () => {
    await mesh.edit('mesh/authz-deny.yaml', (t) => t + policy('allow-path-ip', 'ALLOW', '  - to: [{ operation: { paths: ["/ip"] } }]\n'));
    expect([await code('/ip', 'GET', 'guest'), await code('/ip', 'GET', 'admin'), await code('/get', 'GET', 'admin')]).toEqual([
      403, 200, 403,
    ]);
  });
});
