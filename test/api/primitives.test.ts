import { fqdn, hostMatches, isToken, isValidHost, parseDuration, splitRef, stripNamespace } from '../../api';
import { checkRe2, compileRe2 } from '../../api/regex';
import { checkShape } from '../../api/shape';
import { arr, int, obj, oneOf, req, str } from '../../api/schema';

describe('durations (Go syntax, as Istio accepts)', () => {
  test.each([
    ['10s', 10_000],
    ['1.5s', 1500],
    ['250ms', 250],
    ['1h30m', 5_400_000],
    ['0', 0],
    ['100us', 0.1],
  ])('%s = %p ms', (text, ms) => expect(parseDuration(text)).toBeCloseTo(ms));
  test.each(['', '10', 's', '10 s', '-1s', '1d', '1s2'])('%p is not a duration', (text) => expect(parseDuration(text)).toBeUndefined());
});

describe('RE2 patterns', () => {
  test.each(['^/api/v[0-9]+', '(?P<id>[a-z]+)', '(?i)jason'])('%p is valid', (p) => expect(checkRe2(p)).toBeUndefined());
  test.each([
    ['(unclosed', /missing closing \)/],
    ['a(?=b)', /look-ahead/],
    ['(?<!a)b', /look-behind/],
    ['(a)\\1', /back-references/],
  ])('%p is not', (p, why) => expect(checkRe2(p)).toMatch(why));

  // A whole match is checked against the pattern's literal prefix before the engine runs: the
  // answer must be the engine's alone, for values with and without the prefix, any case.
  test.each([
    ['/legacy/[0-9]+', ['/legacy/42', '/legacy/', '/legacy/4a', '/Legacy/42', '/api/v1', '', '/legacy/42/x']],
    ['(?i)/API/v[0-9]', ['/api/v1', '/API/V2', '/apix', '/']],
    ['(/legacy)/x|/legacy/y', ['/legacy/x', '/legacy/y', '/legacy/z', '/legac']],
    ['/\\x{1F600}[a-z]*', ['/\u{1F600}abc', '/\u{1F600}', '/\u{1F601}a', '/']],
    ['^/x', ['/x', 'x', '/y']],
    ['a|b', ['a', 'b', 'c', '']],
  ])('%p matches whole as the engine says', (pattern, values) => {
    const { RE2JS } = require('re2js') as typeof import('re2js');
    const engine = RE2JS.compile(pattern);
    const re = compileRe2(pattern);
    for (const v of values) expect([v, re.matchesWhole(v)]).toEqual([v, engine.testExact(v)]);
  });
});

describe('hosts', () => {
  test('short names resolve in the namespace; dotted names are taken as written', () => {
    expect(fqdn('reviews', 'prod')).toBe('reviews.prod.svc.cluster.local');
    expect(fqdn('reviews.prod.svc.cluster.local', 'x')).toBe('reviews.prod.svc.cluster.local');
    expect(fqdn('*.example.com', 'x')).toBe('*.example.com');
  });
  test('wildcards', () => {
    expect(hostMatches('*.example.com', 'alpha.example.com')).toBe(true);
    expect(hostMatches('*.example.com', 'a.b.example.com')).toBe(true);
    expect(hostMatches('*.example.com', 'example.com')).toBe(false);
    expect(hostMatches('*', 'anything')).toBe(true);
    expect(hostMatches('*.example.com', '*.a.example.com')).toBe(true);
  });
  test('namespace prefixes', () => {
    expect(stripNamespace('prod/alpha.example.com')).toBe('alpha.example.com');
    expect(splitRef('istio-system/gw', 'default')).toEqual({ namespace: 'istio-system', name: 'gw' });
    expect(splitRef('gw', 'default')).toEqual({ namespace: 'default', name: 'gw' });
  });
  test('validity', () => {
    expect(isValidHost('alpha.example.com')).toBe(true);
    expect(isValidHost('*.example.com')).toBe(true);
    expect(isValidHost('*')).toBe(true);
    expect(isValidHost('*', false)).toBe(false);
    expect(isValidHost('a..b')).toBe(false);
    expect(isValidHost('under_score.com')).toBe(false);
  });
});

describe('tokens', () => {
  test('CDK string and number tokens are recognised', () => {
    expect(isToken('${Token[AWS.URLSuffix.3]}')).toBe(true);
    expect(isToken('arn:${Token[X.1]}:thing')).toBe(true);
    expect(isToken(-1.8881545897087626e289)).toBe(true);
    expect(isToken('plain')).toBe(false);
    expect(isToken(42)).toBe(false);
  });
});

describe('checkShape', () => {
  const schema = obj({ name: req(str()), port: int(1, 65535), mode: oneOf(['A', 'B'] as const), tags: arr(str()) });
  test('reports every problem with its path', () => {
    const issues = checkShape(schema, { port: 0, mode: 'C', tags: ['x', 1], extra: true }, 'spec');
    expect(issues.map((i) => [i.code, i.path])).toEqual([
      ['MAST0005', 'spec.port'],
      ['MAST0004', 'spec.mode'],
      ['MAST0002', 'spec.tags[1]'],
      ['MAST0001', 'spec.extra'],
      ['MAST0003', 'spec.name'],
    ]);
  });
  test('keys that are not identifiers are quoted in paths', () => {
    const issues = checkShape(obj({}), { 'app.kubernetes.io/name': 1 }, 'spec');
    expect(issues[0].path).toBe('spec["app.kubernetes.io/name"]');
  });
});
