/**
 * The key a consistent-hash load balancer (DestinationRule `consistentHash`) picks an endpoint by:
 * a header, a cookie, the client's address or a query parameter. For a cookie with a ttl that the
 * client did not send, one is made, as Envoy makes it, and set on the response.
 */
import { queryParam } from '../routing';
import type { LbPolicy } from '../../contract/proxy-config';
import type { Cluster, Endpoint } from '../upstream/cluster';
import { cookieValue, hash32 } from '../upstream/hash-ring';
import type { RequestInfo } from './context';

export interface GeneratedCookie {
  readonly value: string;
  /** The `set-cookie` value. */
  readonly header: string;
}

type HashPolicy = Extract<LbPolicy, { kind: 'hash' }>;

/** The request's hash key; a cookie made for it is left in `made.generatedCookie`. */
export function hashKey(lb: HashPolicy, req: RequestInfo, made: { generatedCookie?: GeneratedCookie }): string | undefined {
  if (lb.header) return req.header(lb.header);
  if (lb.cookie) {
    const value = cookieValue(req.header('cookie'), lb.cookie);
    if (value !== undefined || lb.cookieTtlMs === undefined) return value;
    return (made.generatedCookie = generatedCookie(lb.cookie, lb.cookieTtlMs, lb.cookiePath, req)).value;
  }
  if (lb.sourceIp) return req.clientAddress();
  if (lb.queryParameter) return queryParam(req.target, lb.queryParameter);
  return undefined;
}

/**
 * The endpoint a try goes to. Only a hash or a passthrough policy reads hints (none are made for the
 * others); a hash policy keeps its pick whatever was tried (no previous_hosts under consistent hashing).
 */
export function pickEndpoint(
  cluster: Cluster,
  req: RequestInfo & { readonly originalPort?: number; readonly originalAddress?: string },
  made: { generatedCookie?: GeneratedCookie },
  tried: readonly Endpoint[] | undefined,
): Endpoint | undefined {
  const lb = cluster.config.lb;
  const hints =
    lb.kind === 'hash' || lb.kind === 'passthrough'
      ? {
          hashKey: lb.kind === 'hash' ? hashKey(lb, req, made) : undefined,
          originalPort: req.originalPort,
          originalAddress: req.originalAddress,
        }
      : undefined;
  return cluster.pick(hints, lb.kind === 'hash' ? undefined : tried);
}

/**
 * Envoy's cookie: its value a hash of the client connection's address and port (every request on
 * the connection gets the same one), `Max-Age` the ttl (none for 0: a session cookie), `HttpOnly`.
 */
function generatedCookie(name: string, ttlMs: number, path: string | undefined, req: RequestInfo): GeneratedCookie {
  const value = hash32(`${req.remoteAddress}:${req.remotePort}`).toString(16).padStart(8, '0');
  const maxAge = ttlMs > 0 ? `; Max-Age=${Math.max(1, Math.floor(ttlMs / 1000))}` : '';
  return { value, header: `${name}="${value}"${maxAge}${path ? `; Path=${path}` : ''}; HttpOnly` };
}
