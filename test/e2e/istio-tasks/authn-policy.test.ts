/**
 * Istio's task security/authentication/authn-policy, "End-user authentication" (and
 * security/authorization/authz-jwt), on `mast local`'s bookinfo: a RequestAuthentication at the
 * ingress gateway with a jwksUri served by a local JWKS server (mastd fetches it and pushes the
 * keys), tokens minted here with our own keys. The task's expected outputs: no token 200, an
 * invalid token 401, a valid one 200; with `notRequestPrincipals: ["*"]` DENY a request without
 * a token 403; per path; an expired token 401; then on a sidecar, requestPrincipals and a groups claim;
 * then security/authentication/jwt-route: a gateway route chosen by a claim.
 */
import * as http from 'node:http';
import { inSeconds, mint, testKey } from '../../runtime/proxy/jwt/mint';
import { startExample, type Running } from '../support';
import { ISSUER, jwtExample, serveJwks } from './jwt-example';

const key = testKey('RS256');

let jwks: http.Server;
let jwksUri: string;
let mesh: Running;
beforeAll(async () => {
  ({ server: jwks, uri: jwksUri } = await serveJwks(key));
  mesh = await startExample();
}, 60_000);
afterAll(async () => {
  await mesh?.stop();
  jwks?.closeAllConnections();
  await new Promise((r) => jwks?.close(r));
});

/** GET through the gateway: status and body text (a 401 body is Envoy's reason, not JSON). */
function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; challenge?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port: mesh.port, path, headers: { host: 'alpha.example.com', ...headers }, timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body, challenge: res.headers['www-authenticate'] as string | undefined }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 10 s`)));
    req.on('error', reject);
  });
}

const token = (claims: Record<string, unknown> = {}) =>
  mint(key, { iss: ISSUER, sub: ISSUER, exp: inSeconds(3600), groups: ['group1'], ...claims });
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

const requestAuthentication = (selector: string) => jwtExample('istio-system', selector, jwksUri);

describe('authn-policy: end-user authentication at the ingress gateway', () => {
  test('no token 200, an invalid token 401 with the reason, a valid token 200', async () => {
    await mesh.edit('mesh/jwt.yaml', () => requestAuthentication('istio: ingressgateway'));
    expect((await get('/productpage')).status).toBe(200);
    const invalid = await get('/productpage', { authorization: 'Bearer deadbeef' });
    expect([invalid.status, invalid.body]).toEqual([
      401,
      'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
    ]);
    expect(invalid.challenge).toMatch(/^Bearer realm="http:\/\/alpha\.example\.com\/productpage", error="invalid_token"$/);
    expect((await get('/productpage', bearer(token()))).status).toBe(200);
    // The token in the access_token query parameter (Istio's other default location).
    expect((await get(`/productpage?access_token=${token()}`)).status).toBe(200);
    const expired = await get('/productpage', bearer(token({ exp: inSeconds(-120) })));
    expect([expired.status, expired.body]).toEqual([401, 'Jwt is expired']);
    const forged = await get('/productpage', bearer(mint(testKey('RS256', key.kid), { iss: ISSUER, sub: 'x' })));
    expect([forged.status, forged.body]).toEqual([401, 'Jwt verification fails']);
  });

  test('require a valid token: DENY notRequestPrincipals ["*"] → 403 without a token', async () => {
    await mesh.edit(
      'mesh/jwt-policy.yaml',
      () => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: frontend-ingress, namespace: istio-system }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  action: DENY
  rules:
  - from: [{ source: { notRequestPrincipals: ["*"] } }]
`,
    );
    expect((await get('/productpage')).status).toBe(403);
    expect((await get('/productpage', bearer(token()))).status).toBe(200);
  });

  test('require a valid token per host/path: only /productpage needs one', async () => {
    await mesh.edit('mesh/jwt-policy.yaml', (t) =>
      t.replace(
        '- from: [{ source: { notRequestPrincipals: ["*"] } }]',
        '- from: [{ source: { notRequestPrincipals: ["*"] } }]\n    to: [{ operation: { paths: ["/productpage"] } }]',
      ),
    );
    expect((await get('/productpage')).status).toBe(403);
    // Another path of the gateway's routes goes on without a token (not 403; its own answer).
    expect((await get('/static/none')).status).not.toBe(403);
    expect((await get('/productpage', bearer(token()))).status).toBe(200);
  });
});

describe('authz-jwt: requestPrincipals and claims at productpage', () => {
  test('ALLOW only the principal testing@secure.istio.io/testing@secure.istio.io, then also the groups claim', async () => {
    await mesh.edit('mesh/jwt-policy.yaml', () => '# removed\n');
    // The gateway no longer verifies; productpage's sidecar does.
    await mesh.edit('mesh/jwt.yaml', () => requestAuthentication('app: productpage'));
    await mesh.edit(
      'mesh/jwt-policy.yaml',
      () => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: require-jwt, namespace: default }
spec:
  selector: { matchLabels: { app: productpage } }
  action: ALLOW
  rules:
  - from: [{ source: { requestPrincipals: ["${ISSUER}/${ISSUER}"] } }]
`,
    );
    expect((await get('/productpage')).status).toBe(403);
    expect((await get('/productpage', bearer(token()))).status).toBe(200);
    expect((await get('/productpage', bearer(token({ sub: 'other' })))).status).toBe(403);
    await mesh.edit('mesh/jwt-policy.yaml', (t) => `${t}    when: [{ key: "request.auth.claims[groups]", values: [group1] }]\n`);
    expect((await get('/productpage', bearer(token()))).status).toBe(200);
    expect((await get('/productpage', bearer(token({ groups: ['group2'] })))).status).toBe(403);
  });
});

describe('jwt-route: routing on a claim at the ingress gateway', () => {
  test('@request.auth.claims.groups exact group1 routes /headers; another group or no token finds no route (404)', async () => {
    await mesh.edit('mesh/jwt-policy.yaml', () => '# none\n');
    await mesh.edit('mesh/jwt.yaml', () => requestAuthentication('istio: ingressgateway'));
    await mesh.edit('mesh/gateway.yaml', (t) =>
      t.replace(
        '    - name: productpage\n',
        `    - name: jwt-group1
      match:
        - uri:
            prefix: /headers
          headers:
            "@request.auth.claims.groups":
              exact: group1
      route:
        - destination:
            host: details
            port:
              number: 9080
    - name: productpage
`,
      ),
    );
    const routed = await get('/headers', bearer(token({ groups: ['group2', 'group1'] })));
    expect(routed.status).toBe(200);
    expect(JSON.parse(routed.body)).toMatchObject({ service: 'details' });
    expect((await get('/headers', bearer(token({ groups: ['group2'] })))).status).toBe(404);
    expect((await get('/headers')).status).toBe(404);
  });
});
