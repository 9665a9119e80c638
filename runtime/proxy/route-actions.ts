/** Pure pieces of route actions: rewrite, redirect, retry policy, CORS. */
import { compileStringMatch } from '../shared/routing';
import type { CorsConfig, RetryConfig, RouteAction, RouteConfig } from '../shared/proxy-config';

interface Req {
  readonly target: string;
  readonly host: string;
  readonly scheme: string;
  readonly method: string;
  header(name: string): string | undefined;
}

/** Istio: a prefix match's prefix is replaced; otherwise the whole path (the query is kept). */
export function rewritePath(route: RouteConfig, target: string, replacement: string): string {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  for (const m of route.matches) {
    const uri = m.uri;
    if (uri && 'prefix' in uri && path.startsWith(uri.prefix)) return `${replacement}${path.slice(uri.prefix.length)}${query}` || '/';
  }
  return `${replacement}${query}`;
}

export function redirectLocation(a: Extract<RouteAction, { kind: 'redirect' }>, req: Req): string {
  const scheme = a.scheme ?? req.scheme;
  const authority = a.authority ?? req.header('host') ?? req.host;
  const host = a.port ? `${authority.replace(/:\d+$/, '')}:${a.port}` : authority;
  return `${scheme}://${host}${a.uri ?? req.target}`;
}

const GATEWAY_ERRORS = new Set([502, 503, 504]);

/** Does `retryOn` cover this outcome (a status, or a connection failure kind)? */
export function shouldRetry(policy: RetryConfig | undefined, status: number | undefined, failure: 'connect-failure' | 'reset' | undefined): boolean {
  if (!policy || policy.attempts <= 0) return false;
  for (const on of policy.retryOn) {
    if (status !== undefined) {
      if (on === '5xx' && status >= 500) return true;
      if (on === 'gateway-error' && GATEWAY_ERRORS.has(status)) return true;
      if ((on === 'unavailable' || on === '503') && status === 503) return true;
      if (on === 'retriable-4xx' && status === 409) return true;
      if (/^\d{3}$/.test(on) && Number(on) === status) return true;
    }
    if (failure !== undefined) {
      if (on === 'connect-failure' && failure === 'connect-failure') return true;
      if ((on === 'reset' || on === '5xx' || on === 'gateway-error') && (failure === 'reset' || failure === 'connect-failure')) return true;
      if (on === 'refused-stream' && failure === 'connect-failure') return true;
    }
  }
  return false;
}

function allowedOrigin(cors: CorsConfig, origin: string | undefined): boolean {
  return origin !== undefined && cors.allowOrigins.some((m) => compileStringMatch(m)(origin));
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
