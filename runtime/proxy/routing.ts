/**
 * Route selection, compiled once per config into closures: virtual host by Host, then
 * the first route whose matches accept the request (Istio's precedence: rule order).
 * Pure; the proxy and `simulate()` run this same code.
 */
import { CLAIM_HEADER_PREFIX, claimStrings } from '../contract/jwt';
import { compileRe2 } from '../../api/regex';
import type { CorsConfig, ListenerConfig, MatchConfig, RouteConfig, StringMatchConfig, VirtualHostConfig } from '../contract/proxy-config';
import { weightedIndex } from './weighted';

/** What route matching looks at. Header names are lowercase. */
export interface RequestView {
  readonly method: string;
  /** Path with query, as received. */
  readonly target: string;
  /** Host header, lowercase, without port. */
  readonly host: string;
  readonly port: number;
  readonly scheme: string;
  header(name: string): string | undefined;
  /** The verified JWT's payload, for `@request.auth.claims.*` header matches; absent: no token. */
  readonly authClaims?: Readonly<Record<string, unknown>>;
}

type Predicate = (req: RequestView) => boolean;

export interface CompiledRoute {
  readonly config: RouteConfig;
  readonly matches: (req: RequestView) => boolean;
}

export interface CompiledVirtualHost {
  readonly config: VirtualHostConfig;
  readonly routes: CompiledRoute[];
}

export interface RouteTable {
  /** The virtual host for a Host, or undefined (404 NR). */
  virtualHost(host: string): CompiledVirtualHost | undefined;
  /** The route for a request, or undefined (404 NR). */
  route(req: RequestView): { vhost: CompiledVirtualHost; route: CompiledRoute } | undefined;
}

export class RouteConfigError extends Error {
  readonly code = 'MAST_PROXY_CONFIG_INVALID';
}

export function compileStringMatch(m: StringMatchConfig, ignoreCase = false): (value: string | undefined) => boolean {
  if ('present' in m) return (v) => v !== undefined;
  if ('exact' in m) {
    const want = ignoreCase ? m.exact.toLowerCase() : m.exact;
    return ignoreCase ? (v) => v !== undefined && v.toLowerCase() === want : (v) => v === want;
  }
  if ('prefix' in m) {
    const want = ignoreCase ? m.prefix.toLowerCase() : m.prefix;
    return ignoreCase ? (v) => !!v?.toLowerCase().startsWith(want) : (v) => !!v?.startsWith(want);
  }
  let re: ReturnType<typeof compileRe2>;
  try {
    // RE2, linear time, whole value (api/regex.ts); ignoreUriCase is RE2's case-insensitive flag.
    re = compileRe2(m.regex, { ignoreCase });
  } catch (err) {
    throw new RouteConfigError(`invalid regex ${JSON.stringify(m.regex)}: ${(err as Error).message}`);
  }
  return (v) => v !== undefined && re.matchesWhole(v);
}

const pathOf = (target: string): string => {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
};

/** Query parameter value (first occurrence, percent-decoded), or undefined. */
export function queryParam(target: string, name: string): string | undefined {
  const q = target.indexOf('?');
  if (q < 0) return undefined;
  for (const pair of target.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (safeDecode(key) === name) return eq < 0 ? '' : safeDecode(pair.slice(eq + 1));
  }
  return undefined;
}

const safeDecode = (s: string): string => {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
};

/** `@request.auth.claims.a.b` → `['a', 'b']`: a match on the verified JWT's claim, not a header (Istio's claim-based routing). */
const claimPathOf = (name: string) =>
  name.startsWith(CLAIM_HEADER_PREFIX) ? name.slice(CLAIM_HEADER_PREFIX.length).split('.') : undefined;

function compileMatch(m: MatchConfig): Predicate {
  const checks: Predicate[] = [];
  if (m.uri) {
    const f = compileStringMatch(m.uri, m.ignoreUriCase);
    checks.push((r) => f(pathOf(r.target)));
  }
  if (m.method) {
    const f = compileStringMatch(m.method);
    checks.push((r) => f(r.method));
  }
  if (m.authority) {
    const f = compileStringMatch(m.authority);
    checks.push((r) => f(r.header('host')));
  }
  if (m.scheme) {
    const f = compileStringMatch(m.scheme);
    checks.push((r) => f(r.scheme));
  }
  if (m.port !== undefined) {
    const port = m.port;
    checks.push((r) => r.port === port);
  }
  for (const [name, sm] of m.headers ?? []) {
    const f = compileStringMatch(sm);
    const claim = claimPathOf(name);
    checks.push(claim ? (r) => claimStrings(r.authClaims, claim).some(f) : (r) => f(r.header(name)));
  }
  for (const [name, sm] of m.withoutHeaders ?? []) {
    const f = compileStringMatch(sm);
    const claim = claimPathOf(name);
    checks.push(claim ? (r) => !claimStrings(r.authClaims, claim).some(f) : (r) => !f(r.header(name)));
  }
  for (const [name, sm] of m.queryParams ?? []) {
    const f = compileStringMatch(sm);
    checks.push((r) => f(queryParam(r.target, name)));
  }
  if (checks.length === 0) return () => true;
  if (checks.length === 1) return checks[0];
  return (r) => {
    for (let i = 0; i < checks.length; i++) if (!checks[i](r)) return false;
    return true;
  };
}

type UriRegexRewrite = { readonly pattern: string; readonly replacement: string };
const compiledRewrites = new WeakMap<UriRegexRewrite, (path: string) => string>();

/** `uriRegexRewrite` as a function of the path (compiled once per config object). */
export function regexRewriter(r: UriRegexRewrite): (path: string) => string {
  let f = compiledRewrites.get(r);
  if (!f) {
    let re: ReturnType<typeof compileRe2>;
    try {
      re = compileRe2(r.pattern);
    } catch (err) {
      throw new RouteConfigError(`invalid uriRegexRewrite ${JSON.stringify(r.pattern)}: ${(err as Error).message}`);
    }
    compiledRewrites.set(r, (f = (path) => re.replaceAll(path, r.replacement)));
  }
  return f;
}

const compiledOrigins = new WeakMap<CorsConfig, Array<(origin: string | undefined) => boolean>>();

/** A CORS policy's `allowOrigins` as predicates (compiled once per config object). */
export function originMatchers(cors: CorsConfig): Array<(origin: string | undefined) => boolean> {
  let fs = compiledOrigins.get(cors);
  if (!fs) compiledOrigins.set(cors, (fs = cors.allowOrigins.map((m) => compileStringMatch(m))));
  return fs;
}

function compileRoute(route: RouteConfig): CompiledRoute {
  // Every pattern of a route is compiled with the table, so a bad one fails the config (a NACK),
  // never a request.
  if (route.action.kind === 'forward' && route.action.rewrite?.uriRegex) regexRewriter(route.action.rewrite.uriRegex);
  if (route.cors) originMatchers(route.cors);
  const any = route.matches.map(compileMatch);
  const matches: Predicate = any.length === 0 ? () => true : any.length === 1 ? any[0] : (r) => any.some((f) => f(r));
  return { config: route, matches };
}

/** Compiled once per virtual host object: a delta push keeps the unchanged ones, so only changes are compiled. */
const compiledHosts = new WeakMap<VirtualHostConfig, CompiledVirtualHost>();

function compileVirtualHost(config: VirtualHostConfig): CompiledVirtualHost {
  let vhost = compiledHosts.get(config);
  if (!vhost) compiledHosts.set(config, (vhost = { config, routes: config.routes.map(compileRoute) }));
  return vhost;
}

/** Below this many routes a virtual host is scanned in order: an index would cost more than it saves. */
const INDEX_FROM = 16;

/**
 * Which routes can match a path, found without trying them all: routes whose every match names an
 * exact path or a path prefix are filed under it; the others are tried for every request. The
 * candidates are then tried in rule order, so the first route that matches wins, as without it.
 */
class PathIndex {
  private readonly exact = new Map<string, number[]>();
  private readonly prefixes = new Map<string, number[]>();
  /** The lengths of the prefixes filed, longest first: a path is looked up once per length. */
  private readonly prefixLengths: number[];
  private readonly others: number[] = [];

  constructor(routes: readonly CompiledRoute[]) {
    const file = (m: Map<string, number[]>, key: string, i: number) => {
      const list = m.get(key);
      if (!list) m.set(key, [i]);
      else if (list[list.length - 1] !== i) list.push(i);
    };
    routes.forEach((route, i) => {
      const matches = route.config.matches;
      const keyed = matches.length > 0 && matches.every((m) => m.uri && !m.ignoreUriCase && ('exact' in m.uri || 'prefix' in m.uri));
      if (!keyed) return void this.others.push(i);
      for (const m of matches) {
        const uri = m.uri!;
        if ('exact' in uri) file(this.exact, uri.exact, i);
        else if ('prefix' in uri) file(this.prefixes, uri.prefix, i);
      }
    });
    this.prefixLengths = [...new Set([...this.prefixes.keys()].map((k) => k.length))].sort((a, b) => b - a);
  }

  /** Indexes of the routes that may match `path`, ascending (a filed list itself when only one applies: no copy). */
  candidates(path: string): readonly number[] {
    let one: number[] | undefined = this.others.length ? this.others : undefined;
    let more: number[][] | undefined;
    const take = (list: number[] | undefined) => {
      if (!list) return;
      if (!one) one = list;
      else (more ??= [one]).push(list);
    };
    take(this.exact.get(path));
    for (const length of this.prefixLengths)
      if (length <= path.length) take(this.prefixes.get(length === path.length ? path : path.slice(0, length)));
    if (!more) return one ?? NO_ROUTES;
    return more.flat().sort((a, b) => a - b);
  }
}

const NO_ROUTES: readonly number[] = [];

const pathIndexes = new WeakMap<CompiledVirtualHost, PathIndex>();

function firstMatch(vhost: CompiledVirtualHost, req: RequestView): CompiledRoute | undefined {
  const routes = vhost.routes;
  if (routes.length < INDEX_FROM) {
    for (let i = 0; i < routes.length; i++) if (routes[i].matches(req)) return routes[i];
    return undefined;
  }
  let index = pathIndexes.get(vhost);
  if (!index) pathIndexes.set(vhost, (index = new PathIndex(routes)));
  for (const i of index.candidates(pathOf(req.target))) if (routes[i].matches(req)) return routes[i];
  return undefined;
}

export function compileRouteTable(listener: ListenerConfig): RouteTable {
  const exact = new Map<string, CompiledVirtualHost>();
  const wildcards: Array<{ suffix: string; vhost: CompiledVirtualHost }> = [];
  let catchAll: CompiledVirtualHost | undefined;
  for (const config of listener.virtualHosts ?? []) {
    const vhost = compileVirtualHost(config);
    for (const domain of config.domains) {
      const d = domain.toLowerCase();
      if (d === '*') catchAll ??= vhost;
      else if (d.startsWith('*')) wildcards.push({ suffix: d.slice(1), vhost });
      else if (!exact.has(d)) exact.set(d, vhost);
    }
  }
  // Longest wildcard suffix first: the most specific wins, as in Envoy.
  wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  const virtualHost = (host: string) => {
    const hit = exact.get(host);
    if (hit) return hit;
    for (const w of wildcards) if (host.endsWith(w.suffix) && host.length > w.suffix.length) return w.vhost;
    return catchAll;
  };
  return {
    virtualHost,
    route(req) {
      const vhost = virtualHost(req.host);
      if (!vhost) return undefined;
      const route = firstMatch(vhost, req);
      return route ? { vhost, route } : undefined;
    },
  };
}

/** Picks a destination by weight; `r` is uniform in [0, 1). Weights are relative (weight/sum); one destination is taken whatever its weight. */
export function pickWeighted<T extends { weight: number }>(items: readonly T[], r: number): T | undefined {
  if (items.length === 1) return items[0];
  const i = weightedIndex(items.length, (k) => items[k].weight, r);
  return i < 0 ? undefined : items[i];
}
