/** Pure pieces of route actions: rewrite, redirect, retry policy, CORS. */
import { originMatchers, regexRewriter } from '../shared/routing';
import type { CorsConfig, RetryConfig, RouteAction, RouteConfig } from '../shared/proxy-config';

interface Req {
  readonly target: string;
  readonly host: string;
  readonly scheme: string;
  readonly method: string;
  header(name: string): string | undefined;
}

/** A request target's path and its query (with the `?`, or empty). */
function splitTarget(target: string): [string, string] {
  const q = target.indexOf('?');
  return q < 0 ? [target, ''] : [target.slice(0, q), target.slice(q)];
}

/** Istio: a prefix match's prefix is replaced; otherwise the whole path (the query is kept). */
export function rewritePath(route: RouteConfig, target: string, replacement: string): string {
  const [path, query] = splitTarget(target);
  for (const m of route.matches) {
    const uri = m.uri;
    if (uri && 'prefix' in uri && path.startsWith(uri.prefix)) return `${replacement}${path.slice(uri.prefix.length)}${query}` || '/';
  }
  return `${replacement}${query}`;
}

/** `uriRegexRewrite`: every match in the path replaced (the query is kept). */
export function regexRewritePath(target: string, r: { readonly pattern: string; readonly replacement: string }): string {
  const [path, query] = splitTarget(target);
  return `${regexRewriter(r)(path)}${query}`;
}

export function redirectLocation(a: Extract<RouteAction, { kind: 'redirect' }>, req: Req): string {
  const scheme = a.scheme ?? req.scheme;
  const authority = a.authority ?? req.header('host') ?? req.host;
  const host = a.port ? `${authority.replace(/:\d+$/, '')}:${a.port}` : authority;
  return `${scheme}://${host}${a.uri ?? req.target}`;
}

/** A retry policy's `retryOn` as the statuses and failure kinds it covers (compiled once per policy). */
interface RetryRules {
  readonly statuses: ReadonlySet<number>;
  readonly any5xx: boolean;
  readonly connectFailure: boolean;
  readonly reset: boolean;
}

const compiledRetries = new WeakMap<RetryConfig, RetryRules>();

function retryRules(policy: RetryConfig): RetryRules {
  let rules = compiledRetries.get(policy);
  if (rules) return rules;
  const statuses = new Set<number>();
  let any5xx = false;
  let connectFailure = false;
  let reset = false;
  for (const on of policy.retryOn) {
    if (on === '5xx') any5xx = reset = connectFailure = true;
    else if (on === 'gateway-error') {
      [502, 503, 504].forEach((s) => statuses.add(s));
      reset = connectFailure = true;
    } else if (on === 'retriable-4xx') statuses.add(409);
    else if (on === 'connect-failure') connectFailure = true;
    else if (on === 'reset') reset = connectFailure = true;
    else if (/^\d{3}$/.test(on)) statuses.add(Number(on));
    // refused-stream (an HTTP/2 stream refused), the gRPC statuses (unavailable, cancelled,
    // deadline-exceeded, internal, resource-exhausted) and retriable-status-codes (the numbers
    // listed beside it) name nothing else an HTTP/1.1 exchange can meet: a 503 is not `unavailable`.
  }
  rules = { statuses, any5xx, connectFailure, reset };
  compiledRetries.set(policy, rules);
  return rules;
}

/** Does `retryOn` cover this outcome (a status, or a connection failure kind)? */
export function shouldRetry(policy: RetryConfig | undefined, status: number | undefined, failure: 'connect-failure' | 'reset' | undefined): boolean {
  if (!policy || policy.attempts <= 0) return false;
  const rules = retryRules(policy);
  if (status !== undefined && ((rules.any5xx && status >= 500) || rules.statuses.has(status))) return true;
  if (failure === 'connect-failure') return rules.connectFailure;
  if (failure === 'reset') return rules.reset;
  return false;
}

function allowedOrigin(cors: CorsConfig, origin: string | undefined): boolean {
  return origin !== undefined && originMatchers(cors).some((f) => f(origin));
}

/** A CORS preflight answered here, or undefined to forward the request. */
export function corsPreflight(cors: CorsConfig, req: Req): Array<[string, string]> | undefined {
  const origin = req.header('origin');
  if (req.method !== 'OPTIONS' || !req.header('access-control-request-method') || !allowedOrigin(cors, origin)) return undefined;
  const h: Array<[string, string]> = [['access-control-allow-origin', origin!]];
  if (cors.allowMethods?.length) h.push(['access-control-allow-methods', cors.allowMethods.join(',')]);
  if (cors.allowHeaders?.length) h.push(['access-control-allow-headers', cors.allowHeaders.join(',')]);
  if (cors.maxAgeSeconds !== undefined) h.push(['access-control-max-age', String(cors.maxAgeSeconds)]);
  if (cors.allowCredentials) h.push(['access-control-allow-credentials', 'true']);
  return h;
}

export function corsResponseHeaders(cors: CorsConfig, req: Req): string[] {
  const origin = req.header('origin');
  if (!allowedOrigin(cors, origin)) return [];
  const out = [`access-control-allow-origin: ${origin}\r\n`];
  if (cors.exposeHeaders?.length) out.push(`access-control-expose-headers: ${cors.exposeHeaders.join(',')}\r\n`);
  if (cors.allowCredentials) out.push('access-control-allow-credentials: true\r\n');
  return out;
}
