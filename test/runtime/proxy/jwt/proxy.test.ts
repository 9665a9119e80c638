/**
 * RequestAuthentication through a running proxy (real sockets on loopback), HTTP/1.1 and HTTP/2
 * clients: a bad token is a 401 with Envoy's reason and challenge; a good one goes upstream
 * without its header (unless forwardOriginalToken), with the payload and claim headers, and a
 * client's forged output headers never reach the app.
 */
import type { JwtRuleConfig } from '../../../../runtime/contract/jwt';
import type { ProxyConfig } from '../../../../runtime/contract/proxy-config';
import { cluster, config, forward, get, stoppedAfterEach } from '../../../support/proxy';
import { h2c, h2request } from '../h2/h2-client';
import { inSeconds, mint, testKey } from './mint';

const ISSUER = 'testing@secure.istio.io';
const key = testKey('ES256');
const { withBackend, proxyFor } = stoppedAfterEach();

const rule = (over: Partial<JwtRuleConfig> = {}): JwtRuleConfig => ({
  name: 'istio-system/jwt-example[0]',
  issuer: ISSUER,
  keys: [key.jwk],
  fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }],
  fromParams: ['access_token'],
  fromCookies: [],
  outputPayloadToHeader: 'x-jwt-payload',
  outputClaimToHeaders: [{ header: 'x-jwt-group', claim: 'groups' }],
  ...over,
});

function withJwt(cfg: ProxyConfig, r: JwtRuleConfig): ProxyConfig {
  return { ...cfg, listeners: cfg.listeners.map((l) => ({ ...l, jwt: { rules: [r] } })) };
}

const token = (claims: Record<string, unknown> = {}) =>
  mint(key, { iss: ISSUER, sub: 'alice', exp: inSeconds(600), groups: ['g1'], ...claims });

test('HTTP/1.1: 401 for a bad token; a good one reaches the app without its header, with the output headers', async () => {
  const app = await withBackend('app');
  const { port } = await proxyFor(withJwt(config([forward('app')], [cluster('app', [app.port])]), rule()));
  const expired = await get(port, '/headers?x=1', { authorization: `Bearer ${token({ exp: inSeconds(-3600) })}` });
  expect([expired.status, expired.body]).toEqual([401, 'Jwt is expired']);
  expect(expired.headers['www-authenticate']).toBe('Bearer realm="http://alpha.example.com/headers?x=1", error="invalid_token"');
  expect(app.seen).toHaveLength(0);

  const t = token();
  const ok = await get(port, '/headers', { authorization: `Bearer ${t}`, 'x-jwt-group': 'admins' });
  expect(ok.status).toBe(200);
  const seen = app.seen[0].headers;
  expect(seen.authorization).toBeUndefined();
  expect(seen['x-jwt-payload']).toBe(t.split('.')[1]);
  expect(seen['x-jwt-group']).toBe('g1');

  // Without a token the request passes, and a forged output header is still dropped.
  expect((await get(port, '/headers', { 'x-jwt-payload': 'forged', 'x-jwt-group': 'admins' })).status).toBe(200);
  expect(app.seen[1].headers['x-jwt-payload']).toBeUndefined();
  expect(app.seen[1].headers['x-jwt-group']).toBeUndefined();
});

test('forwardOriginalToken keeps the header for the app', async () => {
  const app = await withBackend('app');
  const { port } = await proxyFor(withJwt(config([forward('app')], [cluster('app', [app.port])]), rule({ forwardOriginalToken: true })));
  const t = token();
  expect((await get(port, '/', { authorization: `Bearer ${t}` })).status).toBe(200);
  expect(app.seen[0].headers.authorization).toBe(`Bearer ${t}`);
});

test('HTTP/2 client: the same 401 and the same upstream edits', async () => {
  const app = await withBackend('app');
  const { port } = await proxyFor(withJwt(config([forward('app')], [cluster('app', [app.port])]), rule()));
  const session = h2c(port);
  try {
    const bad = await h2request(session, { ':path': '/headers', ':authority': 'alpha.example.com', authorization: 'Bearer a.b' });
    expect(bad.status).toBe(401);
    expect(bad.body.toString()).toBe('Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections');
    const t = token();
    const ok = await h2request(session, { ':path': '/headers', ':authority': 'alpha.example.com', authorization: `Bearer ${t}` });
    expect(ok.status).toBe(200);
    expect(app.seen[0].headers.authorization).toBeUndefined();
    expect(app.seen[0].headers['x-jwt-group']).toBe('g1');
  } finally {
    session.close();
  }
});

test("claim-based routing (Istio's jwt-route task): @request.auth.claims.groups picks the route, only from a verified token", async () => {
  const a = await withBackend('a');
  const b = await withBackend('b');
  const byClaim = forward('a', {}, { name: 'group1', matches: [{ headers: [['@request.auth.claims.groups', { exact: 'group1' }]] }] });
  const cfg = config([byClaim, forward('b')], [cluster('a', [a.port]), cluster('b', [b.port])]);
  const { port } = await proxyFor(withJwt(cfg, rule()));
  expect((await get(port, '/', { authorization: `Bearer ${token({ groups: ['group2', 'group1'] })}` })).body).toBe('a /');
  expect((await get(port, '/', { authorization: `Bearer ${token({ groups: ['group2'] })}` })).body).toBe('b /');
  expect((await get(port, '/')).body).toBe('b /');
});
