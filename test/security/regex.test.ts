/**
 * Finding 3 of issue 19: regular expressions from config run in linear time (RE2), so a request
 * cannot buy seconds of the proxy's only thread with a pattern like `(a+)+$`; and what
 * `mast validate` accepts is exactly what the proxy compiles.
 */
import { loadYaml, validate } from '../../api';
import { MAX_PROGRAM_SIZE } from '../../api/regex';
import { compileStringMatch, compileRouteTable } from '../../runtime/proxy/routing';
import type { RouteConfig } from '../../runtime/contract/proxy-config';
import { backend, cluster, config, forward, get, type Backend } from '../support/proxy';
import { bundleProxy, spawnProxy, type SpawnedProxy } from './spawned-proxy';

const LEGACY: RouteConfig = { name: 'legacy', matches: [{ uri: { regex: '/legacy/(a+)+$' } }], action: { kind: 'direct', status: 410 } };
const EVIL = `/legacy/${'a'.repeat(10_000)}!`;

describe('a catastrophic pattern against a real mast-proxy process', () => {
  let app: Backend;
  let proxy: SpawnedProxy;
  beforeAll(async () => {
    app = await backend('app');
    proxy = await spawnProxy(await bundleProxy(), config([LEGACY, forward('app')], [cluster('app', [app.port])]));
  }, 30_000);
  afterAll(async () => {
    await proxy?.stop();
    await app?.close();
  });

  test('a 10,000-character path is answered promptly, and a request sent alongside is not delayed', async () => {
    const port = proxy.port('l');
    // Warm both paths up once, so the figures below are the match, not the first compile.
    await get(port, '/legacy/aaa');
    await get(port, '/ok');
    const [evil, good] = await Promise.all([get(port, EVIL), new Promise((r) => setTimeout(r, 5)).then(() => get(port, '/ok'))]);
    // No match ('!' is not an 'a'): the request falls through to the app, as RE2 decides.
    expect(evil.status).toBe(200);
    expect(good).toMatchObject({ status: 200, body: 'app /ok' });
    // A backtracking engine needs seconds for 28 characters and never finishes 10,000.
    expect(evil.ms).toBeLessThan(1000);
    expect(good.ms).toBeLessThan(1000);
    expect(await get(port, '/legacy/aaaa')).toMatchObject({ status: 410 });
    expect(proxy.exited()).toBeUndefined();
  }, 15_000);

  test('the same holds on every request, not once: twenty attacks in a row keep the proxy responsive', async () => {
    const port = proxy.port('l');
    const t0 = Date.now();
    const attacks = Array.from({ length: 20 }, () => get(port, EVIL));
    const good = await get(port, '/ok');
    await Promise.all(attacks);
    expect(good.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(3000);
  }, 15_000);
});

describe('mastd and `mast simulate` evaluate with the same engine', () => {
  test('the pattern on 10,000 characters takes milliseconds, in any field that takes a regex', () => {
    // 28 characters first: a backtracking engine fails here in seconds, rather than never
    // finishing the 10,000 and hanging this test's process.
    for (const length of [28, 10_000])
      for (const ignoreCase of [false, true]) {
        const match = compileStringMatch({ regex: '(a+)+$' }, ignoreCase);
        const t0 = performance.now();
        expect(match(`${'a'.repeat(length)}!`)).toBe(false);
        expect(performance.now() - t0).toBeLessThan(500);
      }
  });
});

describe('validation and the proxy agree on every pattern', () => {
  const vsWith = (regex: string) =>
    validate(
      loadYaml(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: r, namespace: default }
spec: { hosts: [r.example.com], http: [{ match: [{ uri: { regex: ${JSON.stringify(regex)} } }], route: [{ destination: { host: r.example.com } }] }] }
`).objects,
    ).filter((f) => f.severity === 'Error');
  const proxyCompiles = (regex: string, ignoreUriCase: boolean): boolean => {
    try {
      const routes: RouteConfig[] = [{ name: 'r', matches: [{ uri: { regex }, ignoreUriCase }], action: { kind: 'direct', status: 200 } }];
      compileRouteTable({ name: 'l', port: 0, matchPort: 80, protocol: 'http', virtualHosts: [{ name: 'v', domains: ['*'], routes }] });
      return true;
    } catch {
      return false;
    }
  };

  // RE2 spellings JavaScript lacks or reads differently (accepted), JavaScript spellings RE2 refuses, limits.
  const patterns: Array<[string, 'accepted' | 'refused']> = [
    ['/api/v[0-9]+/.*', 'accepted'],
    ['(?i)/Legacy/[0-9]+', 'accepted'],
    ['[[:alpha:]]+', 'accepted'],
    ['\\pL+', 'accepted'],
    ['\\p{Greek}', 'accepted'],
    ['(?P<id>[0-9]+)', 'accepted'],
    ['\\Q/a.b\\E', 'accepted'],
    ['/x\\z', 'accepted'],
    ['(?U)a+', 'accepted'],
    ['(?s:.)', 'accepted'],
    ['a{1000}', 'accepted'],
    ['a{1001}', 'refused'],
    ['(?=x)', 'refused'],
    ['(?<=a)b', 'refused'],
    ['(a)\\1', 'refused'],
    ['a++', 'refused'],
    ['\\k<n>', 'refused'],
    ['[z-a]', 'refused'],
    ['(', 'refused'],
    ['a{1000}'.repeat(Math.ceil(MAX_PROGRAM_SIZE / 1000)), 'refused'],
  ];

  test.each(patterns)('%p is %s, by validation (MAST0105) and the proxy alike', (p, verdict) => {
    const findings = vsWith(p);
    const compiles = proxyCompiles(p, false) && proxyCompiles(p, true);
    expect(compiles).toBe(verdict === 'accepted');
    if (compiles) expect(findings).toEqual([]);
    else expect(findings).toEqual([expect.objectContaining({ code: 'MAST0105', path: 'spec.http[0].match[0].uri.regex' })]);
  });

  test("a pattern over Istio's program size limit is refused, and says so", () => {
    expect(vsWith('a{1000}'.repeat(Math.ceil(MAX_PROGRAM_SIZE / 1000)))[0].message).toMatch(/more than 32768/);
  });

  test('RE2 syntax means what RE2 says it means', () => {
    const m = (regex: string, v: string) => compileStringMatch({ regex })(v);
    expect(m('[[:alpha:]]+', 'abc')).toBe(true); // a POSIX class, not a set of the characters [:alph
    expect(m('[[:alpha:]]+', ':')).toBe(false);
    expect(m('\\Q/a.b\\E', '/a.b')).toBe(true);
    expect(m('\\Q/a.b\\E', '/axb')).toBe(false);
    expect(m('(?i)/legacy', '/LEGACY')).toBe(true);
    expect(m('\\pL+', 'été')).toBe(true);
  });
});
