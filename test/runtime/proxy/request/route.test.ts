/**
 * The routing decision as a table: given a listener, a request and the random draws, what happens
 * (a local reply, or a forward plan). Pure: no sockets, no clock; randomness passed in.
 */
import type { ListenerConfig, RouteConfig } from '../../../../runtime/contract/proxy-config';
import { compileRouteTable, type RequestView } from '../../../../runtime/proxy/routing';
import { decide, type Decision } from '../../../../runtime/proxy/request/route';

type Req = Partial<Pick<RequestView, 'method' | 'target' | 'host'>> & { headers?: Record<string, string>; originalAddress?: string };

function view(r: Req): RequestView & { originalAddress?: string } {
  const headers: Record<string, string> = { host: r.host ?? 'alpha.example.com', ...r.headers };
  const { method = 'GET', target = '/', host = 'alpha.example.com', originalAddress } = r;
  return { method, target, host, port: 80, scheme: 'http', header: (n) => headers[n], originalAddress };
}

type Forward = Extract<RouteConfig['action'], { kind: 'forward' }>;
const forward = (extra: Partial<Forward> = {}): Forward => ({ kind: 'forward', destinations: [{ cluster: 'a', weight: 100 }], ...extra });

function decided(
  route: Omit<RouteConfig, 'name' | 'matches'>,
  req: Req = {},
  draws: number[] = [],
  listener: Partial<ListenerConfig> = {},
): Decision {
  const virtualHosts = [{ name: 'vh', domains: ['alpha.example.com'], routes: [{ name: 'r', matches: [], ...route }] }];
  const config: ListenerConfig = { name: 'l', port: 0, matchPort: 80, protocol: 'http', virtualHosts, ...listener };
  const random = () => {
    if (!draws.length) throw new Error('more random draws than the test gave');
    return draws.shift()!;
  };
  return decide({ config, table: compileRouteTable(config) }, view(req), random);
}

/** The decision in short: `reply <status> <flag>` or `forward <cluster>` (+ mirrors), with a delay if any. */
function brief(d: Decision): string {
  const delay = d.delayMs ? ` after ${d.delayMs} ms` : '';
  if (d.kind === 'reply') return `reply ${d.status}${d.flag ? ` ${d.flag}` : ''}${delay}`;
  return `forward ${d.destination.cluster}${d.mirrors ? ` mirror ${d.mirrors.join(',')}` : ''}${delay}`;
}

describe('route decision', () => {
  const cors = { allowOrigins: [{ exact: 'https://app.example.com' }], allowMethods: ['GET', 'POST'] };
  const preflight = { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } };
  test.each<[string, Omit<RouteConfig, 'name' | 'matches'>, Req, number[], string]>([
    ['a plain forward draws the destination only', { action: forward() }, {}, [0.5], 'forward a'],
    [
      'weights are relative: the draw picks the first of 1:3',
      {
        action: forward({
          destinations: [
            { cluster: 'a', weight: 1 },
            { cluster: 'b', weight: 3 },
          ],
        }),
      },
      {},
      [0.2],
      'forward a',
    ],
    [
      'and the second past a quarter',
      {
        action: forward({
          destinations: [
            { cluster: 'a', weight: 1 },
            { cluster: 'b', weight: 3 },
          ],
        }),
      },
      {},
      [0.3],
      'forward b',
    ],
    [
      'all weights zero: no healthy upstream',
      {
        action: forward({
          destinations: [
            { cluster: 'a', weight: 0 },
            { cluster: 'b', weight: 0 },
          ],
        }),
      },
      {},
      [0.3],
      'reply 503 UH',
    ],
    ['a fault abort drawn', { action: forward(), fault: { abort: { status: 418, fraction: 0.5 } } }, {}, [0.4], 'reply 418 FI'],
    ['a fault abort not drawn', { action: forward(), fault: { abort: { status: 418, fraction: 0.5 } } }, {}, [0.6, 0.1], 'forward a'],
    ['a fault delay drawn', { action: forward(), fault: { delay: { ms: 70, fraction: 1 } } }, {}, [0.99, 0.1], 'forward a after 70 ms'],
    [
      'a delay holds a redirect too',
      { action: { kind: 'redirect', status: 301, uri: '/new' }, fault: { delay: { ms: 5, fraction: 1 } } },
      {},
      [0],
      'reply 301 after 5 ms',
    ],
    ['a direct response', { action: { kind: 'direct', status: 204 } }, {}, [], 'reply 204'],
    ['a mirror drawn', { action: forward({ mirrors: [{ cluster: 'm', fraction: 0.5 }] }) }, {}, [0.9, 0.4], 'forward a mirror m'],
    ['a mirror not drawn', { action: forward({ mirrors: [{ cluster: 'm', fraction: 0.5 }] }) }, {}, [0.9, 0.6], 'forward a'],
    ['a CORS preflight from an allowed origin is answered here', { action: forward(), cors }, preflight, [], 'reply 200'],
    [
      'from another origin it is forwarded',
      { action: forward(), cors },
      { ...preflight, headers: { ...preflight.headers, origin: 'https://evil.example' } },
      [0],
      'forward a',
    ],
  ])('%s', (_, route, req, draws, expected) => {
    expect(brief(decided(route, req, draws))).toBe(expected);
  });

  test('no virtual host for the authority: 404 NR, no route named', () => {
    const d = decided({ action: forward() }, { host: 'other.example.com' });
    expect(d).toMatchObject({ kind: 'reply', status: 404, flag: 'NR' });
    expect(d.route).toBeUndefined();
  });

  test("a sidecar's passthrough takes an unknown host to its original destination, never retried", () => {
    const d = decided({ action: forward() }, { host: 'api.example.org', originalAddress: '10.0.0.9' }, [0], { passthrough: true });
    expect(d).toMatchObject({ kind: 'forward', destination: { cluster: 'PassthroughCluster' }, action: { retries: { attempts: 0 } } });
    expect(brief(decided({ action: forward() }, { host: 'api.example.org' }, [], { passthrough: true }))).toBe('reply 404 NR');
  });

  test('a redirect keeps the received authority and path unless the route names them', () => {
    const d = decided(
      { action: { kind: 'redirect', status: 302, scheme: 'https', port: 8443 } },
      { target: '/a?b=1', headers: { host: 'alpha.example.com:8080' } },
    );
    expect(d).toMatchObject({ kind: 'reply', status: 302, headers: [['location', 'https://alpha.example.com:8443/a?b=1']] });
  });

  test('the preflight answer carries the policy', () => {
    const d = decided({ action: forward(), cors: { ...cors, maxAgeSeconds: 60 } }, preflight);
    expect(d.kind === 'reply' && Object.fromEntries(d.headers)).toEqual({
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-methods': 'GET,POST',
      'access-control-max-age': '60',
    });
  });
});
