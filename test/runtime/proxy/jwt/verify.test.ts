import type { JwtConfig, JwtRuleConfig } from '../../../../runtime/contract/jwt';
import { authenticate, upstreamEdits, unauthorizedReply, withJwtEdits } from '../../../../runtime/proxy/jwt';
import { inSeconds, mint, testKey } from './mint';

const ISSUER = 'testing@secure.istio.io';
const rsa = testKey('RS256');
const ec = testKey('ES256');
const other = testKey('RS256', 'rs256-key'); // same kid as rsa, another key: a forged signature

const rule = (over: Partial<JwtRuleConfig> = {}): JwtRuleConfig => ({
  name: 'foo/jwt-example[0]',
  issuer: ISSUER,
  keys: [rsa.jwk, ec.jwk],
  fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }],
  fromParams: ['access_token'],
  fromCookies: [],
  ...over,
});
const config = (...rules: JwtRuleConfig[]): JwtConfig => ({ rules: rules.length ? rules : [rule()] });
const request = (headers: Record<string, string> = {}, query = '') => ({
  header: (n: string) => headers[n],
  query,
});
const bearer = (token: string) => request({ authorization: `Bearer ${token}` });
const NOW = Date.UTC(2026, 11, 7, 4, 0, 0);
const claims = (over: Record<string, unknown> = {}) => ({ iss: ISSUER, sub: ISSUER, exp: inSeconds(3600, NOW), ...over });

describe('authenticate(): Envoy jwt_authn as Istio configures it', () => {
  test('no token: passes with no principal', () => {
    expect(authenticate(config(), request(), NOW)).toEqual({ kind: 'none' });
    // A header without the Bearer prefix is not a token at that location.
    expect(authenticate(config(), request({ authorization: 'Basic dXNlcjpwYXNz' }), NOW)).toEqual({ kind: 'none' });
  });

  test.each([
    ['RS256', rsa],
    ['ES256', ec],
  ])('a good %s token: principal iss/sub, audiences, presenter and claims', (_alg, key) => {
    const token = mint(key, claims({ aud: ['a', 'b'], azp: 'web', groups: ['group1'], nested: { key1: 'v' } }));
    const out = authenticate(config(), bearer(token), NOW);
    expect(out).toMatchObject({
      kind: 'verified',
      header: 'authorization',
      auth: { principal: `${ISSUER}/${ISSUER}`, audiences: ['a', 'b'], presenter: 'web', claims: { groups: ['group1'] } },
    });
  });

  test.each<[string, () => string, string, JwtRuleConfig]>([
    ['expired beyond the 60 s skew', () => mint(rsa, claims({ exp: inSeconds(-61, NOW) })), 'Jwt is expired', rule()],
    ['not yet valid beyond the skew', () => mint(rsa, claims({ nbf: inSeconds(120, NOW) })), 'Jwt not yet valid', rule()],
    ['from an issuer no rule names', () => mint(rsa, claims({ iss: 'other@example.com' })), 'Jwt issuer is not configured', rule()],
    ['for another audience', () => mint(rsa, claims({ aud: 'c' })), 'Audiences in Jwt are not allowed', rule({ audiences: ['a', 'b'] })],
    ['signed by another key of the same kid', () => mint(other, claims()), 'Jwt verification fails', rule()],
    [
      'with alg none and no signature',
      () => `${mint(rsa, claims(), { alg: 'none' }).split('.').slice(0, 2).join('.')}.`,
      'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
      rule(),
    ],
    ['with alg none and a signature', () => mint(rsa, claims(), { alg: 'none' }), 'Jwt header [alg] is not supported', rule()],
    [
      'with HS256 (no symmetric key is ever pushed)',
      () => mint(rsa, claims(), { alg: 'HS256' }),
      "Jwks doesn't have key to match kid or alg from Jwt",
      rule(),
    ],
    [
      'with a kid the JWKS lacks and no kid-less key',
      () => mint(rsa, claims(), { kid: 'gone' }),
      "Jwks doesn't have key to match kid or alg from Jwt",
      rule({ keys: [{ ...rsa.jwk }] }),
    ],
    [
      'for a rule whose keys could not be fetched',
      () => mint(rsa, claims()),
      "Jwks doesn't have key to match kid or alg from Jwt",
      rule({ keys: [] }),
    ],
    ['not three segments', () => 'abc.def', 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections', rule()],
    [
      'with a payload that is not JSON',
      () => `${mint(rsa, claims()).split('.')[0]}.bm90IGpzb24.c2ln`,
      'Jwt payload is an invalid JSON',
      rule(),
    ],
  ])("a token %s: 401 with Envoy's reason", (_what, token, message, r) => {
    expect(authenticate(config(r), bearer(token()), NOW)).toMatchObject({ kind: 'rejected', message });
  });

  test('a token for another audience is a 403 (Envoy), the other refusals 401', () => {
    const cfg = config(rule({ audiences: ['a'] }));
    expect(authenticate(cfg, bearer(mint(rsa, claims({ aud: 'c' }))), NOW)).toMatchObject({ kind: 'rejected', status: 403 });
    expect(authenticate(cfg, bearer(mint(rsa, claims({ aud: 'a', exp: 1 }))), NOW)).toMatchObject({ kind: 'rejected', status: 401 });
  });

  test('a CORS preflight is not authenticated (Istio sets bypass_cors_preflight), any other OPTIONS is', () => {
    const preflight = { origin: 'https://a.example', 'access-control-request-method': 'GET', authorization: 'Bearer bad' };
    expect(authenticate(config(), { ...request(preflight), method: 'OPTIONS' }, NOW)).toEqual({ kind: 'none' });
    expect(authenticate(config(), { ...request({ authorization: 'Bearer bad' }), method: 'OPTIONS' }, NOW).kind).toBe('rejected');
  });

  test('expiry within the 60 s clock skew still passes', () => {
    expect(authenticate(config(), bearer(mint(rsa, claims({ exp: inSeconds(-59, NOW) }))), NOW).kind).toBe('verified');
  });

  test('a token without kid is tried against every key that fits its alg', () => {
    expect(authenticate(config(), bearer(mint(ec, claims(), { kid: undefined })), NOW).kind).toBe('verified');
  });

  test('token locations: the access_token parameter by default, custom headers with prefixes, cookies', () => {
    const token = mint(rsa, claims());
    expect(authenticate(config(), request({}, `a=1&access_token=${token}`), NOW)).toMatchObject({ kind: 'verified' });
    expect(authenticate(config(), request({}, `access_token=${token}`), NOW)).not.toHaveProperty('header');
    const custom = rule({ fromHeaders: [{ name: 'x-jwt-assertion' }], fromParams: [], fromCookies: ['session'] });
    expect(authenticate(config(custom), request({ 'x-jwt-assertion': token }), NOW)).toMatchObject({
      kind: 'verified',
      header: 'x-jwt-assertion',
    });
    expect(authenticate(config(custom), request({ cookie: `a=b; session=${token}` }), NOW)).toMatchObject({ kind: 'verified' });
    // Locations of that rule only: the default Authorization header is not read any more.
    expect(authenticate(config(custom), bearer(token), NOW)).toEqual({ kind: 'none' });
  });

  test('a verified token is cached until it expires, then refused', () => {
    const cfg = config();
    const token = mint(rsa, claims({ exp: inSeconds(10, NOW) }));
    expect(authenticate(cfg, bearer(token), NOW).kind).toBe('verified');
    expect(authenticate(cfg, bearer(token), NOW + 1000).kind).toBe('verified');
    expect(authenticate(cfg, bearer(token), NOW + 71_000)).toMatchObject({ kind: 'rejected', message: 'Jwt is expired' });
  });

  test('two issuers: each token verified by its own rule', () => {
    const second = rule({ name: 'foo/jwt-example[1]', issuer: 'second@example.com', keys: [ec.jwk] });
    const cfg = config(rule({ keys: [rsa.jwk] }), second);
    expect(authenticate(cfg, bearer(mint(ec, claims({ iss: 'second@example.com', sub: 'u' }))), NOW)).toMatchObject({
      kind: 'verified',
      auth: { principal: 'second@example.com/u' },
    });
    // The ES256 key belongs to the second issuer only.
    expect(authenticate(cfg, bearer(mint(ec, claims())), NOW)).toMatchObject({ kind: 'rejected' });
  });
});

describe('upstreamEdits(): what a verified token changes upstream', () => {
  const token = mint(rsa, claims({ groups: ['g1', 'g2'], nested: { key1: 'v1' } }));
  test('the token header is removed by default and kept with forwardOriginalToken', () => {
    expect(upstreamEdits(config(), authenticate(config(), bearer(token), NOW))).toEqual({ remove: ['authorization'], set: [] });
    const fwd = config(rule({ forwardOriginalToken: true }));
    expect(upstreamEdits(fwd, authenticate(fwd, bearer(token), NOW))).toEqual({ remove: [], set: [] });
  });

  test('payload and claims to headers; forged output headers are always dropped', () => {
    const cfg = config(
      rule({
        outputPayloadToHeader: 'x-jwt-payload',
        outputClaimToHeaders: [
          { header: 'x-groups', claim: 'groups' },
          { header: 'x-nested', claim: 'nested.key1' },
        ],
      }),
    );
    const edits = upstreamEdits(cfg, authenticate(cfg, bearer(token), NOW));
    expect(edits.set).toEqual([
      ['x-jwt-payload', token.split('.')[1]],
      ['x-groups', 'g1,g2'],
      ['x-nested', 'v1'],
    ]);
    expect(JSON.parse(Buffer.from(edits.set[0][1], 'base64url').toString())).toMatchObject({ iss: ISSUER });
    expect(upstreamEdits(cfg, { kind: 'none' })).toEqual({ remove: ['x-jwt-payload', 'x-groups', 'x-nested'], set: [] });
  });

  test("the edits go before the route's own header operations (which win on a clash); nothing to edit keeps the route", () => {
    const route = { name: 'r', requestHeaders: { set: [['x-groups', 'route'] as [string, string]], remove: ['x-b'] } };
    expect(withJwtEdits(route, { remove: [], set: [] })).toBe(route);
    expect(
      withJwtEdits(route, {
        remove: ['authorization'],
        set: [
          ['x-groups', 'jwt'],
          ['x-jwt-payload', 'p'],
        ],
      }),
    ).toEqual({
      name: 'r',
      requestHeaders: {
        set: [
          ['x-jwt-payload', 'p'],
          ['x-groups', 'route'],
        ],
        remove: ['authorization', 'x-b'],
      },
    });
  });

  test("the 401: Envoy's body and a Bearer challenge whose realm is the request's URI (path cut at 256)", () => {
    expect(unauthorizedReply('https', 'httpbin.foo:8000', `/headers?${'q'.repeat(300)}`, 'Jwt is expired')).toEqual({
      status: 401,
      headers: [
        ['www-authenticate', `Bearer realm="https://httpbin.foo:8000/headers?${'q'.repeat(247)}", error="invalid_token"`],
        ['content-type', 'text/plain'],
      ],
      body: 'Jwt is expired',
    });
  });
});
