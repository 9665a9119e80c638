/**
 * Route matching against table size (part of `npm run bench`): requests per second through the
 * route table alone for the first route of 5 and the last of 5,000 (exact and prefix routes, the
 * common case), side by side in one run. The ratio is the figure: near 1 means matching costs the
 * same at any table size.
 */
import type { ListenerConfig, RouteConfig } from '../runtime/contract/proxy-config';
import { compileRouteTable, type RequestView } from '../runtime/proxy/routing';

const quick = process.argv.includes('--quick');
const route = (name: string, i: number): RouteConfig => ({
  name,
  matches: [i % 2 ? { uri: { exact: `/svc/${i}` } } : { uri: { prefix: `/p${i}/` } }],
  action: { kind: 'direct', status: 200 },
});
const table = (n: number) => {
  const listener: ListenerConfig = {
    name: 'l',
    port: 0,
    matchPort: 80,
    protocol: 'http',
    virtualHosts: [{ name: 'vh', domains: ['a.example.com'], routes: Array.from({ length: n }, (_, i) => route(`r${i}`, i)) }],
  };
  return compileRouteTable(listener);
};
const request = (target: string): RequestView => ({
  method: 'GET',
  target,
  host: 'a.example.com',
  port: 80,
  scheme: 'http',
  header: () => undefined,
});

function rate(t: ReturnType<typeof table>, req: RequestView, want: string): number {
  const ms = quick ? 300 : 1000;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 100; i++) if (t.route(req)?.route.config.name !== want) throw new Error(`routed to the wrong route (want ${want})`);
    n += 100;
  }
  return n / ((performance.now() - t0) / 1000);
}

const small = table(5);
const large = table(5000);
const cases = [
  ['first of 5', small, request('/p0/x'), 'r0'],
  ['last of 5,000 (exact)', large, request('/svc/4999'), 'r4999'],
  ['last of 5,000 (prefix)', large, request('/p4998/x'), 'r4998'],
] as const;
const rates = cases.map(([, t, req, want]) => rate(t, req, want));
cases.forEach(([name], i) => console.log(`route match ${name}: ${(1e9 / rates[i]).toFixed(0)} ns per request`));
console.log(
  `ratio route-match last-of-5000/first-of-5 ${(Math.min(rates[1], rates[2]) / rates[0]).toFixed(2)} (1 = the same cost at any table size)`,
);
