/** A route's CORS policy: a preflight answered here (route.ts), the headers added to a response (relay.ts). */
import { originMatchers, type RequestView } from '../routing';
import type { CorsConfig } from '../../contract/proxy-config';

function allowedOrigin(cors: CorsConfig, origin: string | undefined): boolean {
  return origin !== undefined && originMatchers(cors).some((f) => f(origin));
}

/** A CORS preflight answered here (its response headers), or undefined to forward the request. */
export function corsPreflight(cors: CorsConfig, req: RequestView): Array<[string, string]> | undefined {
  const origin = req.header('origin');
  if (req.method !== 'OPTIONS' || !req.header('access-control-request-method') || !allowedOrigin(cors, origin)) return undefined;
  const h: Array<[string, string]> = [['access-control-allow-origin', origin!]];
  if (cors.allowMethods?.length) h.push(['access-control-allow-methods', cors.allowMethods.join(',')]);
  if (cors.allowHeaders?.length) h.push(['access-control-allow-headers', cors.allowHeaders.join(',')]);
  if (cors.maxAgeSeconds !== undefined) h.push(['access-control-max-age', String(cors.maxAgeSeconds)]);
  if (cors.allowCredentials) h.push(['access-control-allow-credentials', 'true']);
  return h;
}

/** The lines (with their CRLF) a forwarded request's response gets for an allowed origin. */
export function corsResponseHeaders(cors: CorsConfig, req: RequestView): string[] {
  const origin = req.header('origin');
  if (!allowedOrigin(cors, origin)) return [];
  const out = [`access-control-allow-origin: ${origin}\r\n`];
  if (cors.exposeHeaders?.length) out.push(`access-control-expose-headers: ${cors.exposeHeaders.join(',')}\r\n`);
  if (cors.allowCredentials) out.push('access-control-allow-credentials: true\r\n');
  return out;
}
