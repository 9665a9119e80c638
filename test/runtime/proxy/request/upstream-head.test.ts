/** VirtualService `rewrite.uriRegexRewrite`: validated as RE2, run by the proxy with RE2 (api/regex.ts) on the path. */
import { loadYaml, validate } from '../../../../api';
import { regexRewrite } from '../../../../runtime/compile/routes';
import { regexRewritePath, shadowAuthority } from '../../../../runtime/proxy/request/upstream-head';
import { cluster, config, forward, get, raw, stoppedAfterEach } from '../../../support/proxy';

const { withBackend, proxyFor } = stoppedAfterEach();

describe("a mirror's authority: -shadow after the host, before the port (Envoy's rule)", () => {
  test.each([
    ['reviews:9080', 'reviews-shadow:9080'],
    ['reviews', 'reviews-shadow'],
    ['alpha.example.com', 'alpha.example.com-shadow'],
    ['httpbin.foo.svc.cluster.local:8000', 'httpbin.foo.svc.cluster.local-shadow:8000'],
    ['127.0.0.1:8080', '127.0.0.1-shadow:8080'],
    ['[::1]:80', '[::1]-shadow:80'],
    ['[::1]', '[::1]-shadow'],
    ['[2001:db8::7]', '[2001:db8::7]-shadow'],
  ])('%s → %s', (authority, shadow) => {
    expect(shadowAuthority(authority)).toBe(shadow);
  });
});

const rewrite = (match: string, replacement: string, target: string) =>
  regexRewritePath(target, regexRewrite({ match, rewrite: replacement }));

test('every match in the path is replaced, groups as \\1, the query kept', () => {
  expect(rewrite('^/service/([^/]+)(/.*)$', '\\2/instance/\\1', '/service/foo/v1/api?x=1')).toBe('/v1/api/instance/foo?x=1');
  expect(rewrite('a', 'b', '/banana')).toBe('/bbnbnb');
  expect(rewrite('^/old', '/new', '/older/old')).toBe('/newer/old');
});

test('RE2 spellings: named groups, a leading (?i), and a literal $ in the replacement', () => {
  expect(rewrite('^/(?P<id>\\d+)$', '/items/\\1', '/42')).toBe('/items/42');
  expect(rewrite('(?i)^/API', '/api', '/Api/v1')).toBe('/api/v1');
  expect(rewrite('^/price', '/$5', '/price/x')).toBe('/$5/x');
});

test("RE2's GlobalReplace: an empty match where the previous one ended is skipped; \\\\ is a backslash", () => {
  expect(rewrite('a*', '-', '/baaab')).toBe('-/-b-b-');
  expect(rewrite('^/x', '/\\\\y', '/x')).toBe('/\\y');
});

test('the proxy sends the rewritten path upstream', async () => {
  const b = await withBackend('b');
  const route = forward('b', { rewrite: { uriRegex: regexRewrite({ match: '^/v1/(.*)$', rewrite: '/api/\\1' }) } });
  const { port } = await proxyFor(config([route], [cluster('b', [b.port])]));
  expect(await get(port, '/v1/users/7?full=1', { host: 'alpha.example.com' })).toMatchObject({
    status: 200,
    body: 'b /api/users/7?full=1',
  });
});

describe('x-forwarded-for: the peer appended to the one received', () => {
  /** The raw header lines the backend got for a request whose own lines are `lines`. */
  async function upstreamLines(lines: string): Promise<string[]> {
    const b = await withBackend('b', (req, res) => res.end(JSON.stringify(req.rawHeaders)));
    const { port } = await proxyFor(config([forward('b')], [cluster('b', [b.port])]));
    // A Connection header would have the head rebuilt: a second request closes the connection.
    const last = 'GET / HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n';
    const reply = await raw(port, `GET / HTTP/1.1\r\nHost: alpha.example.com\r\n${lines}\r\n${last}`);
    const bodyAt = reply.indexOf('\r\n\r\n') + 4;
    const length = Number(/content-length: (\d+)/i.exec(reply)?.[1]);
    const pairs: string[] = JSON.parse(reply.slice(bodyAt, bodyAt + length));
    return pairs.flatMap((v, i) => (i % 2 ? [] : [`${v}: ${pairs[i + 1]}`]));
  }

  test('one line (a proxy before this one): extended where it stands, the other lines as received', async () => {
    const lines = await upstreamLines('X-Forwarded-For: 203.0.113.7\r\nX-Custom: a\r\n');
    expect(lines.slice(0, 3)).toEqual(['Host: alpha.example.com', 'X-Forwarded-For: 203.0.113.7, 127.0.0.1', 'X-Custom: a']);
    expect(lines.filter((l) => /^x-forwarded-for:/i.test(l))).toHaveLength(1);
  });

  test('several lines: one line, the first value and the peer (as before: the head rebuilt)', async () => {
    const lines = await upstreamLines('X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 198.51.100.9\r\n');
    expect(lines.filter((l) => /^x-forwarded-for:/i.test(l))).toEqual(['x-forwarded-for: 203.0.113.7, 127.0.0.1']);
  });

  test('with a Connection: keep-alive line (as browsers send): that line left out, the peer appended in place', async () => {
    const lines = await upstreamLines('X-Forwarded-For: 203.0.113.7\r\nConnection: keep-alive\r\nX-Custom: a\r\n');
    expect(lines.slice(0, 3)).toEqual(['Host: alpha.example.com', 'X-Forwarded-For: 203.0.113.7, 127.0.0.1', 'X-Custom: a']);
    expect(lines.filter((l) => /^connection:/i.test(l))).toEqual([]);
  });

  test('an empty line: the peer alone', async () => {
    const lines = await upstreamLines('X-Forwarded-For: \r\n');
    expect(lines.filter((l) => /^x-forwarded-for:/i.test(l))).toEqual(['x-forwarded-for: 127.0.0.1']);
  });
});

describe('hop-by-hop headers: a Connection line naming no header is left out in place; anything more rebuilds the head', () => {
  /** The header lines the backend got, as they came (names as sent), and the connection's second request's Connection. */
  async function upstreamLines(lines: string): Promise<string[]> {
    const b = await withBackend('b', (req, res) => res.end(JSON.stringify(req.rawHeaders)));
    const { port } = await proxyFor(config([forward('b')], [cluster('b', [b.port])]));
    const reply = await raw(port, `GET / HTTP/1.1\r\nHost: alpha.example.com\r\n${lines}Connection: close\r\n\r\n`);
    const bodyAt = reply.indexOf('\r\n\r\n') + 4;
    const pairs: string[] = JSON.parse(reply.slice(bodyAt));
    return pairs.flatMap((v, i) => (i % 2 ? [] : [`${v}: ${pairs[i + 1]}`]));
  }

  test('Connection: close: the rest as received, nothing hop-by-hop upstream', async () => {
    const lines = await upstreamLines('X-Custom: a\r\n');
    expect(lines.slice(0, 2)).toEqual(['Host: alpha.example.com', 'X-Custom: a']);
    expect(lines.filter((l) => /^connection:/i.test(l))).toEqual([]);
  });

  test('Connection naming a header: that header removed too (the head rebuilt)', async () => {
    const lines = await upstreamLines('X-Secret: s\r\nConnection: x-secret\r\n');
    expect(lines.filter((l) => /^x-secret:/i.test(l))).toEqual([]);
    expect(lines).toContain('host: alpha.example.com');
  });

  test('Keep-Alive and TE lines: removed (the head rebuilt)', async () => {
    const lines = await upstreamLines('Keep-Alive: timeout=5\r\nTE: trailers\r\n');
    expect(lines.filter((l) => /^(keep-alive|te):/i.test(l))).toEqual([]);
  });
});

describe('validation', () => {
  const vs = (rewriteYaml: string) =>
    validate(
      loadYaml(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: r, namespace: default }
spec: { hosts: [r.example.com], http: [{ rewrite: ${rewriteYaml}, route: [{ destination: { host: r.example.com } }] }] }
`).objects,
    ).filter((f) => f.severity === 'Error');

  test('a pattern RE2 does not take is MAST0105 at the field', () => {
    expect(vs("{ uriRegexRewrite: { match: '^/(?=x)', rewrite: '/' } }")).toEqual([
      expect.objectContaining({ code: 'MAST0105', path: 'spec.http[0].rewrite.uriRegexRewrite.match' }),
    ]);
  });

  test('uri and uriRegexRewrite together are refused', () => {
    expect(vs("{ uri: /a, uriRegexRewrite: { match: '^/b', rewrite: '/c' } }")).toEqual([
      expect.objectContaining({
        code: 'MAST0004',
        path: 'spec.http[0].rewrite',
        message: 'set either rewrite.uri or rewrite.uriRegexRewrite, not both',
      }),
    ]);
  });

  test('a rewrite naming a group the pattern lacks, or a stray backslash, is MAST0105 at the rewrite', () => {
    expect(vs("{ uriRegexRewrite: { match: '^/v1/(.*)$', rewrite: '/api/\\2' } }")).toEqual([
      expect.objectContaining({
        code: 'MAST0105',
        path: 'spec.http[0].rewrite.uriRegexRewrite.rewrite',
        message: expect.stringMatching(/group the pattern does not have/),
      }),
    ]);
    expect(vs("{ uriRegexRewrite: { match: '^/v1/(.*)$', rewrite: '/api/\\x' } }")).toEqual([
      expect.objectContaining({ code: 'MAST0105' }),
    ]);
  });

  test('a valid one passes', () => {
    expect(vs("{ uriRegexRewrite: { match: '^/v1/(.*)$', rewrite: '/api/\\\\1' } }")).toEqual([]);
  });
});
