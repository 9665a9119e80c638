/**
 * Istio's authentication tasks (istio.io content/en/docs/tasks/security/authentication/) on ONE
 * `mast local` of the bookinfo example with the tasks' namespaces beside it, each a `describe`
 * following the task's steps: mtls-migration, authn-policy's mutual TLS half (its end-user half is
 * authn-policy.test.ts) and claim-to-header; and security/authorization/authz-jwt and
 * tls-configuration/workload-min-tls-version, which run on the same httpbin and sleep in foo.
 *
 * foo and bar: httpbin (httpbin.ts) and sleep with sidecars; sleep's curl is a request to its
 * sidecar's outbound port (`fromWorkload`), sleep needs no app of its own. legacy, without
 * sidecars: httpbin.legacy is a server of this test behind a ServiceEntry endpoint (mast local
 * fronts only WorkloadEntries with a sidecar), and sleep.legacy is this test itself, connecting
 * straight to the pod as a pod without a sidecar does: to the address mast local puts in the
 * endpoint of httpbin.foo (its sidecar's inbound port, where iptables would send it in a pod). A
 * connection the sidecar refuses is the task's `000` (curl's exit code 56).
 */
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../../../runtime/local/local-mesh';
import { inSeconds, mint, testKey } from '../../runtime/proxy/jwt/mint';
import { fromWorkload, startExample, type Running } from '../support';
import { meshConfigDoc, serviceEntryDoc } from '../../support/mesh-yaml';
import { httpbinWorkload } from './httpbin-mesh';
import { ISSUER, jwtExample, serveJwks } from './jwt-example';

const NAMESPACES = ['foo', 'bar', 'legacy'] as const;
type Ns = (typeof NAMESPACES)[number];

/** httpbin (with its app) and sleep (a sidecar only) in `ns`, as `kubectl apply -f <(istioctl kube-inject ...)` makes them. */
const withSidecars = (ns: Ns, httpbinPort: number, sleepPort: number) => `---
${httpbinWorkload(ns, httpbinPort)}---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: sleep, namespace: ${ns} }
spec:
  address: 127.0.0.1
  ports: { http: ${sleepPort} }
  labels: { app: sleep }
`;

/** httpbin in legacy: no sidecar, the endpoint is the app itself (auto mTLS then sends it plain text). */
const legacyHttpbin = (port: number) => `---
${serviceEntryDoc({ name: 'httpbin', namespace: 'legacy', port: 8000, endpoints: [port] })}
`;

const key = testKey('RS256');
let jwks: http.Server;
let jwksUri: string;
let legacy: http.Server;
let mesh: Running;
/** The app port of each namespace's httpbin: the pod's container port (80 in the task) as mast local runs it. */
const httpbinPorts: Partial<Record<Ns, number>> = {};

beforeAll(async () => {
  ({ server: jwks, uri: jwksUri } = await serveJwks(key));
  // httpbin.legacy: /ip and /headers as httpbin answers them.
  legacy = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/headers' ? { headers: req.headers } : { origin: req.socket.remoteAddress }));
  });
  await new Promise<void>((r) => legacy.listen(0, '127.0.0.1', r));
  httpbinPorts.foo = await freePort();
  httpbinPorts.bar = await freePort();
  const files = {
    'local/foo.yaml': withSidecars('foo', httpbinPorts.foo, await freePort()),
    'local/bar.yaml': withSidecars('bar', httpbinPorts.bar, await freePort()),
    'local/legacy.yaml': legacyHttpbin((legacy.address() as AddressInfo).port),
  };
  mesh = await startExample({ files });
}, 90_000);

afterAll(async () => {
  await mesh?.stop();
  for (const s of [jwks, legacy]) {
    s?.closeAllConnections();
    await new Promise((r) => s?.close(r));
  }
});

/** A request without a sidecar (sleep.legacy): straight to the pod, plain text; a refused connection is 0 (curl's `000`). */
function fromLegacy(to: Ns, path: string): Promise<{ status: number; body: string }> {
  const port = to === 'legacy' ? (legacy.address() as AddressInfo).port : mesh.mesh.workloads.get(`${to}/httpbin`)!.inboundPort;
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host: `httpbin.${to}:8000` }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

/** `kubectl exec <sleep in from> -- curl http://httpbin.<to>:8000<path>`: status (0 for no answer) and body. */
async function curl(from: Ns, to: Ns, path = '/ip', headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  if (from === 'legacy') return fromLegacy(to, path);
  try {
    return await fromWorkload(mesh.mesh, `${from}/sleep`, `http://httpbin.${to}:8000${path}`, headers);
  } catch {
    return { status: 0, body: '' };
  }
}

/** The task's loop over clients and servers: one `sleep.<from> to httpbin.<to>: <code>` line each, `000` for none. */
async function reachability(to: readonly Ns[] = NAMESPACES): Promise<string[]> {
  const lines: string[] = [];
  for (const from of NAMESPACES)
    for (const t of to) lines.push(`sleep.${from} to httpbin.${t}: ${String((await curl(from, t)).status).padStart(3, '0')}`);
  return lines;
}

/** The expected lines: 200 everywhere but the pairs listed as failing (`from>to`). */
const expected = (to: readonly Ns[], ...failing: string[]) =>
  NAMESPACES.flatMap((from) => to.map((t) => `sleep.${from} to httpbin.${t}: ${failing.includes(`${from}>${t}`) ? '000' : '200'}`));

const peerAuthentication = (name: string, namespace: string, spec: string) => `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ${name}, namespace: ${namespace} }
spec: ${spec}
`;
const kindsIn = (kind: string) => (mesh.mesh.mastd.snapshot?.objects ?? []).filter((o) => o.kind === kind);

describe('authentication/mtls-migration', () => {
  const TO = ['foo', 'bar'] as const;

  test('set up: every sleep reaches httpbin.foo and httpbin.bar (200); no PeerAuthentication or DestinationRule for them', async () => {
    expect(await reachability(TO)).toEqual(expected(TO));
    expect(kindsIn('PeerAuthentication')).toEqual([]);
    expect(kindsIn('DestinationRule').filter((o) => ['foo', 'bar', 'legacy'].includes(o.metadata.namespace ?? ''))).toEqual([]);
  });

  test('STRICT in foo: sleep.legacy to httpbin.foo fails (000), everything else 200', async () => {
    await mesh.edit('mesh/mtls-migration.yaml', () => peerAuthentication('default', 'foo', '{ mtls: { mode: STRICT } }'));
    expect(await reachability(TO)).toEqual(expected(TO, 'legacy>foo'));
  });

  test('STRICT for the entire mesh (istio-system): sleep.legacy fails to both', async () => {
    await mesh.edit('mesh/mtls-migration.yaml', (t) => t + peerAuthentication('default', 'istio-system', '{ mtls: { mode: STRICT } }'));
    expect(await reachability(TO)).toEqual(expected(TO, 'legacy>foo', 'legacy>bar'));
  });

  test('clean up (every PeerAuthentication deleted): all 200 again', async () => {
    await mesh.edit('mesh/mtls-migration.yaml', () => '# deleted\n');
    expect(await reachability(TO)).toEqual(expected(TO));
  });
});

describe('authentication/authn-policy: mutual TLS', () => {
  test('set up: all nine pairs answer 200; no PeerAuthentication', async () => {
    expect(await reachability()).toEqual(expected(NAMESPACES));
    expect(kindsIn('PeerAuthentication')).toEqual([]);
  });

  const xfcc = async (to: Ns) => JSON.parse((await curl('foo', to, '/headers')).body).headers['x-forwarded-client-cert'];

  test('auto mutual TLS: httpbin.foo sees the client certificate (X-Forwarded-Client-Cert), httpbin.legacy (plain text) none', async () => {
    expect(await xfcc('foo')).toMatch(
      /^By=spiffe:\/\/cluster\.local\/ns\/foo\/sa\/httpbin;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/foo\/sa\/sleep$/,
    );
    expect(await xfcc('legacy')).toBeUndefined();
  });

  test('globally STRICT: sleep.legacy fails to httpbin.foo and httpbin.bar (000), still reaches httpbin.legacy', async () => {
    await mesh.edit('mesh/authn-policy.yaml', () => peerAuthentication('default', 'istio-system', '{ mtls: { mode: STRICT } }'));
    expect(await reachability()).toEqual(expected(NAMESPACES, 'legacy>foo', 'legacy>bar'));
  });

  test('namespace-wide (cleanup part 1, then STRICT in foo): only sleep.legacy to httpbin.foo fails', async () => {
    await mesh.edit('mesh/authn-policy.yaml', () => peerAuthentication('default', 'foo', '{ mtls: { mode: STRICT } }'));
    expect(await reachability()).toEqual(expected(NAMESPACES, 'legacy>foo'));
  });

  test('per workload (httpbin in bar STRICT): sleep.legacy fails to httpbin.bar too', async () => {
    await mesh.edit(
      'mesh/authn-policy.yaml',
      (t) => t + peerAuthentication('httpbin', 'bar', '{ selector: { matchLabels: { app: httpbin } }, mtls: { mode: STRICT } }'),
    );
    expect(await reachability()).toEqual(expected(NAMESPACES, 'legacy>foo', 'legacy>bar'));
  });

  // The task's portLevelMtls names httpbin's container port, 80; under mast local the app listens on
  // the port its WorkloadEntry gives (httpbinPorts.bar), which is that port here.
  test('portLevelMtls DISABLE on httpbin’s port: sleep.legacy reaches httpbin.bar again', async () => {
    await mesh.edit('mesh/authn-policy.yaml', (t) =>
      t.replace(
        '{ selector: { matchLabels: { app: httpbin } }, mtls: { mode: STRICT } }',
        `{ selector: { matchLabels: { app: httpbin } }, mtls: { mode: STRICT }, portLevelMtls: { "${httpbinPorts.bar}": { mode: DISABLE } } }`,
      ),
    );
    expect(await reachability()).toEqual(expected(NAMESPACES, 'legacy>foo'));
  });

  test('policy precedence: a workload policy (DISABLE) overrides the namespace’s STRICT: sleep.legacy to httpbin.foo 200', async () => {
    await mesh.edit(
      'mesh/authn-policy.yaml',
      (t) => t + peerAuthentication('overwrite-example', 'foo', '{ selector: { matchLabels: { app: httpbin } }, mtls: { mode: DISABLE } }'),
    );
    expect((await curl('legacy', 'foo')).status).toBe(200);
  });

  test('clean up part 2: all nine pairs 200', async () => {
    await mesh.edit('mesh/authn-policy.yaml', () => '# deleted\n');
    expect(await reachability()).toEqual(expected(NAMESPACES));
  });
});

describe('authentication/claim-to-header', () => {
  const token = mint(key, { exp: inSeconds(3600), foo: 'bar', iat: inSeconds(0), iss: ISSUER, sub: ISSUER });
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  test('before you begin: sleep.foo to httpbin.foo answers 200', async () => {
    expect((await curl('foo', 'foo')).status).toBe(200);
  });

  test('RequestAuthentication with outputClaimToHeaders: an invalid token 401, the valid one 200, its claim foo in X-Jwt-Claim-Foo', async () => {
    const toHeader = '    outputClaimToHeaders:\n    - header: x-jwt-claim-foo\n      claim: foo\n';
    await mesh.edit('mesh/claim-to-header.yaml', () => jwtExample('foo', 'app: httpbin', jwksUri, toHeader));
    expect((await curl('foo', 'foo', '/headers', bearer('invalidToken'))).status).toBe(401);
    expect((await curl('foo', 'foo', '/headers', bearer(token))).status).toBe(200);
    const seen = JSON.parse((await curl('foo', 'foo', '/headers', bearer(token))).body).headers;
    expect(seen['x-jwt-claim-foo']).toBe('bar');
  });

  test('clean up: without the RequestAuthentication an invalid token is not looked at (200)', async () => {
    await mesh.edit('mesh/claim-to-header.yaml', () => '# deleted\n');
    expect((await curl('foo', 'foo', '/headers', bearer('invalidToken'))).status).toBe(200);
  });
});

describe('authorization/authz-jwt', () => {
  // The task's two demo tokens, minted with this test's key: demo.jwt (no groups) and groups-scope.jwt.
  const TOKEN = mint(key, { exp: inSeconds(3600), foo: 'bar', iat: inSeconds(0), iss: ISSUER, sub: ISSUER });
  const TOKEN_GROUP = mint(key, {
    exp: inSeconds(3600),
    groups: ['group1', 'group2'],
    iat: inSeconds(0),
    iss: ISSUER,
    scope: ['scope1', 'scope2'],
    sub: ISSUER,
  });
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const status = async (headers: Record<string, string> = {}) => (await curl('foo', 'foo', '/headers', headers)).status;
  // As the task applies it: security.istio.io/v1beta1, the principal's issuer/subject.
  const requireJwt = (when = '') => `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: require-jwt, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: ALLOW
  rules:
  - from:
    - source:
        requestPrincipals: ["${ISSUER}/${ISSUER}"]
${when}`;

  test('before you begin: sleep.foo to httpbin.foo answers 200', async () => {
    expect((await curl('foo', 'foo')).status).toBe(200);
  });

  test('the RequestAuthentication: an invalid token 401, no token 200', async () => {
    await mesh.edit('mesh/authz-jwt.yaml', () =>
      jwtExample('foo', 'app: httpbin', jwksUri).replace('security.istio.io/v1', 'security.istio.io/v1beta1'),
    );
    expect(await status(bearer('invalidToken'))).toBe(401);
    expect(await status()).toBe(200);
  });

  test('require-jwt (requestPrincipals): the valid token 200, no token 403', async () => {
    await mesh.edit('mesh/authz-jwt-policy.yaml', () => requireJwt());
    expect(await status(bearer(TOKEN))).toBe(200);
    expect(await status()).toBe(403);
  });

  test('require-jwt with request.auth.claims[groups] group1: the token with groups 200, the one without 403', async () => {
    await mesh.edit('mesh/authz-jwt-policy.yaml', () =>
      requireJwt('    when:\n    - key: request.auth.claims[groups]\n      values: ["group1"]\n'),
    );
    expect(await status(bearer(TOKEN_GROUP))).toBe(200);
    expect(await status(bearer(TOKEN))).toBe(403);
  });

  test('clean up: without the policy and the RequestAuthentication, no token 200 again', async () => {
    await mesh.edit('mesh/authz-jwt-policy.yaml', () => '# deleted\n');
    await mesh.edit('mesh/authz-jwt.yaml', () => '# deleted\n');
    expect(await status()).toBe(200);
    expect(await status(bearer('invalidToken'))).toBe(200);
  });
});

describe('tls-configuration/workload-min-tls-version', () => {
  /**
   * The task's `openssl s_client -alpn istio <version> -connect httpbin.foo:8000` from sleep's
   * istio-proxy container (no client certificate, bypassing its own sidecar): the connection reaches
   * httpbin's sidecar, here at the inbound port mast local gives httpbin.foo's endpoint.
   */
  const sClient = (version: string) =>
    new Promise<string>((resolve) => {
      const port = mesh.mesh.workloads.get('foo/httpbin')!.inboundPort;
      const args = ['s_client', '-alpn', 'istio', version, '-connect', `127.0.0.1:${port}`];
      const child = execFile('openssl', args, { timeout: 10_000 }, (_err, stdout) => resolve(stdout));
      child.stdin?.end();
    });

  test('meshMTLS.minProtocolVersion TLSV1_3: sleep reaches httpbin (200); TLS 1.3 is served, TLS 1.2 gets no cipher', async () => {
    await mesh.edit('mesh/meshconfig.yaml', () => meshConfigDoc('meshMTLS:\n  minProtocolVersion: TLSV1_3'));
    expect((await curl('foo', 'foo')).status).toBe(200);
    expect(await sClient('-tls1_3')).toContain('TLSv1.3');
    expect(await sClient('-tls1_2')).toContain('Cipher is (NONE)');
  });

  test('clean up: the mesh config gone, TLS 1.2 is served again', async () => {
    await mesh.edit('mesh/meshconfig.yaml', () => '# deleted\n');
    expect(await sClient('-tls1_2')).toMatch(/Protocol\s*:\s*TLSv1\.2|New, TLSv1\.2/);
  });
});
