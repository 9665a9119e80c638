/** Route selection as a table: the pure code the proxy and `simulate()` share. */
import type { ListenerConfig, MatchConfig, RouteConfig } from '../../../runtime/contract/proxy-config';
import { compileRouteTable, pickWeighted, type RequestView } from '../../../runtime/proxy/routing';
import { seededRandom } from '../../support/seeded-random';

interface Req {
  method?: string;
  target?: string;
  host?: string;
  port?: number;
  scheme?: string;
  headers?: Record<string, string>;
}

function view(r: Req): RequestView {
  const headers: Record<string, string> = { host: r.host ?? 'alpha.example.com', ...r.headers };
  return {
    method: r.method ?? 'GET',
    target: r.target ?? '/',
    host: r.host ?? 'alpha.example.com',
    port: r.port ?? 80,
    scheme: r.scheme ?? 'http',
    header: (n) => headers[n],
  };
}

const route = (name: string, matches: MatchConfig[]): RouteConfig => ({ name, matches, action: { kind: 'direct', status: 200 } });

function listener(routes: RouteConfig[], domains = ['alpha.example.com']): ListenerConfig {
  return { name: 'l', port: 0, matchPort: 80, protocol: 'http', virtualHosts: [{ name: 'vh', domains, routes }] };
}

/** The name of the route one match (and a catch-all after it) selects for a request. */
function selected(match: MatchConfig, req: Req): string | undefined {
  return compileRouteTable(listener([route('m', [match]), route('rest', [])])).route(view(req))?.route.config.name;
}

describe('match kinds', () => {
  test.each<[string, MatchConfig, Req, 'm' | 'rest']>([
    ['uri exact', { uri: { exact: '/a' } }, { target: '/a' }, 'm'],
    ['uri exact ignores the query', { uri: { exact: '/a' } }, { target: '/a?x=1' }, 'm'],
    ['uri exact is not a prefix', { uri: { exact: '/a' } }, { target: '/ab' }, 'rest'],
    ['uri prefix', { uri: { prefix: '/api' } }, { target: '/api/v1' }, 'm'],
    ['uri prefix is case-sensitive', { uri: { prefix: '/api' } }, { target: '/API/v1' }, 'rest'],
    ['uri prefix with ignoreUriCase', { uri: { prefix: '/api' }, ignoreUriCase: true }, { target: '/API/v1' }, 'm'],
    ['uri regex matches the whole path', { uri: { regex: '/legacy/[0-9]+' } }, { target: '/legacy/42' }, 'm'],
    ['uri regex is anchored', { uri: { regex: '/legacy/[0-9]+' } }, { target: '/x/legacy/42' }, 'rest'],
    ['uri regex with RE2 flags: (?i) ignores case', { uri: { regex: '(?i)/legacy/[a-z]+' } }, { target: '/LEGACY/Old' }, 'm'],
    ['uri regex with RE2 named groups', { uri: { regex: '/items/(?P<id>[0-9]+)' } }, { target: '/items/7' }, 'm'],
    ['method exact', { method: { exact: 'POST' } }, { method: 'POST' }, 'm'],
    ['method exact, other method', { method: { exact: 'POST' } }, { method: 'GET' }, 'rest'],
    ['authority prefix', { authority: { prefix: 'alpha.' } }, {}, 'm'],
    ['scheme exact', { scheme: { exact: 'https' } }, { scheme: 'https' }, 'm'],
    ['scheme exact, plain http', { scheme: { exact: 'https' } }, {}, 'rest'],
    ['port', { port: 8080 }, { port: 8080 }, 'm'],
    ['port, another', { port: 8080 }, { port: 80 }, 'rest'],
    ['header exact', { headers: [['end-user', { exact: 'jason' }]] }, { headers: { 'end-user': 'jason' } }, 'm'],
    ['header exact, other value', { headers: [['end-user', { exact: 'jason' }]] }, { headers: { 'end-user': 'json' } }, 'rest'],
    ['header absent fails an exact match', { headers: [['end-user', { exact: 'jason' }]] }, {}, 'rest'],
    ['header prefix', { headers: [['user-agent', { prefix: 'curl/' }]] }, { headers: { 'user-agent': 'curl/8.1' } }, 'm'],
    ['header regex', { headers: [['x-v', { regex: 'v[12]' }]] }, { headers: { 'x-v': 'v2' } }, 'm'],
    ['header present', { headers: [['x-debug', { present: true }]] }, { headers: { 'x-debug': '' } }, 'm'],
    ['header present, absent', { headers: [['x-debug', { present: true }]] }, {}, 'rest'],
    ['withoutHeaders: absent header matches', { withoutHeaders: [['x-canary', { exact: '1' }]] }, {}, 'm'],
    ['withoutHeaders: the header excludes', { withoutHeaders: [['x-canary', { exact: '1' }]] }, { headers: { 'x-canary': '1' } }, 'rest'],
    ['query parameter exact', { queryParams: [['v', { exact: '2' }]] }, { target: '/p?a=1&v=2' }, 'm'],
    ['query parameter, other value', { queryParams: [['v', { exact: '2' }]] }, { target: '/p?v=3' }, 'rest'],
    ['query parameter regex', { queryParams: [['id', { regex: '[0-9]+' }]] }, { target: '/p?id=123' }, 'm'],
    [
      'all conditions of one match (AND)',
      { uri: { prefix: '/static' }, method: { exact: 'GET' } },
      { target: '/static/a', method: 'HEAD' },
      'rest',
    ],
  ])('%s', (_name, match, req, expected) => expect(selected(match, req)).toBe(expected));

  test('several matches of one rule: any of them (OR)', () => {
    const table = compileRouteTable(listener([route('m', [{ uri: { prefix: '/a' } }, { headers: [['x', { exact: '1' }]] }])]));
    expect(table.route(view({ target: '/a/1' }))?.route.config.name).toBe('m');
    expect(table.route(view({ target: '/b', headers: { x: '1' } }))?.route.config.name).toBe('m');
    expect(table.route(view({ target: '/b' }))).toBeUndefined();
  });
});

describe('precedence', () => {
  test('the first matching rule wins, in the order written, even when a later one is more specific', () => {
    const table = compileRouteTable(
      listener([route('broad', [{ uri: { prefix: '/api' } }]), route('specific', [{ uri: { exact: '/api/v1' } }])]),
    );
    expect(table.route(view({ target: '/api/v1' }))?.route.config.name).toBe('broad');
  });

  test('virtual hosts: exact domain before the longest wildcard before *; no host is 404', () => {
    const vh = (name: string, domains: string[]) => ({ name, domains, routes: [route(name, [])] });
    const table = compileRouteTable({
      name: 'l',
      port: 0,
      matchPort: 80,
      protocol: 'http',
      virtualHosts: [
        vh('any', ['*']),
        vh('wide', ['*.example.com']),
        vh('narrow', ['*.api.example.com']),
        vh('exact', ['v1.api.example.com']),
      ],
    });
    const pick = (host: string) => table.route(view({ host }))?.route.config.name;
    expect([pick('v1.api.example.com'), pick('v2.api.example.com'), pick('www.example.com'), pick('other.org')]).toEqual([
      'exact',
      'narrow',
      'wide',
      'any',
    ]);
    expect(compileRouteTable(listener([route('r', [])])).route(view({ host: 'beta.example.com' }))).toBeUndefined();
  });
});

describe('weights', () => {
  const ds = [
    { cluster: 'v1', weight: 75 },
    { cluster: 'v2', weight: 25 },
  ];
  test.each([
    [0, 'v1'],
    [0.7499, 'v1'],
    [0.75, 'v2'],
    [0.9999, 'v2'],
  ])('r=%p picks %s (weight over the sum)', (r, cluster) => expect(pickWeighted(ds, r)?.cluster).toBe(cluster));

  test('all weights 0: no destination; a single destination is taken whatever its weight', () => {
    expect(
      pickWeighted(
        [
          { cluster: 'a', weight: 0 },
          { cluster: 'b', weight: 0 },
        ],
        0.5,
      ),
    ).toBeUndefined();
    expect(pickWeighted([{ cluster: 'a', weight: 0 }], 0.5)?.cluster).toBe('a');
  });

  test('a destination of weight 0 is never picked, not even by a draw at the top of the range', () => {
    const zeroLast = [
      { cluster: 'a', weight: 0.1 },
      { cluster: 'b', weight: 0.2 },
      { cluster: 'c', weight: 0.3 },
      { cluster: 'd', weight: 0 },
    ];
    // Float rounding: a draw just below 1 leaves more than a + b + c after subtracting them one by one.
    expect(pickWeighted(zeroLast, 1 - Number.EPSILON / 2)?.cluster).toBe('c');
  });
});

describe('large route tables (indexed by path from 16 routes on)', () => {
  const pick = <T>(r: () => number, xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const SEGMENTS = ['a', 'b', 'api', 'v1', 'x'];
  const path = (r: () => number) => `/${Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(r, SEGMENTS)).join('/')}`;
  function randomMatch(r: () => number): MatchConfig {
    const kind = r();
    const uri =
      kind < 0.4 ? { exact: path(r) } : kind < 0.8 ? { prefix: path(r).slice(0, 1 + Math.floor(r() * 6)) } : { regex: `${path(r)}.*` };
    const m: MatchConfig = { uri, ...(r() < 0.1 ? { ignoreUriCase: true } : {}) };
    return r() < 0.2 ? { ...m, method: { exact: pick(r, ['GET', 'POST']) } } : r() < 0.1 ? { method: { exact: 'PUT' } } : m;
  }
  /** What a scan of every route in order selects: the reference the index must agree with. */
  const scanned = (routes: RouteConfig[], req: RequestView) => {
    for (const rc of routes) {
      const one = compileRouteTable(listener([rc])).route(req);
      if (one) return rc.name;
    }
    return undefined;
  };

  test('the first route that matches wins, as in a scan: 20 random tables of 40 routes, 100 requests each', () => {
    const r = seededRandom(7);
    for (let t = 0; t < 20; t++) {
      const routes = Array.from({ length: 40 }, (_, i) =>
        route(
          `r${i}`,
          Array.from({ length: 1 + Math.floor(r() * 2) }, () => randomMatch(r)),
        ),
      );
      if (r() < 0.5) routes.push(route('catch-all', []));
      const table = compileRouteTable(listener(routes));
      for (let q = 0; q < 100; q++) {
        const req = view({
          target: `${path(r)}${r() < 0.3 ? `/${pick(r, SEGMENTS)}` : ''}${r() < 0.2 ? '?q=1' : ''}`,
          method: pick(r, ['GET', 'POST', 'PUT']),
        });
        expect(table.route(req)?.route.config.name).toBe(scanned(routes, req));
      }
    }
  });

  test('5,000 exact and prefix routes: the last one is found, and a miss falls to the catch-all', () => {
    const routes = Array.from({ length: 5000 }, (_, i) =>
      route(`r${i}`, [i % 2 ? { uri: { exact: `/svc/${i}` } } : { uri: { prefix: `/p${i}/` } }]),
    );
    routes.push(route('catch-all', []));
    const table = compileRouteTable(listener(routes));
    expect(table.route(view({ target: '/svc/4999' }))?.route.config.name).toBe('r4999');
    expect(table.route(view({ target: '/p4998/x?y' }))?.route.config.name).toBe('r4998');
    expect(table.route(view({ target: '/p4998' }))?.route.config.name).toBe('catch-all');
  });
});
