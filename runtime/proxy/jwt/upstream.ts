/**
 * What a verified JWT changes in the request sent on, as Envoy's jwt_authn does: the token's
 * header removed unless `forwardOriginalToken`, the payload (base64url) in `outputPayloadToHeader`,
 * single claims in `outputClaimToHeaders`. Client-sent values of those output headers are replaced,
 * never trusted.
 */
import type { JwtConfig } from '../../contract/jwt';
import type { HeaderOpsConfig } from '../../contract/proxy-config';
import type { JwtOutcome } from './verify';

export interface JwtHeaderEdits {
  /** Lowercase names to drop from the request. */
  readonly remove: readonly string[];
  /** Lowercase name → value to set (replacing what the client sent). */
  readonly set: ReadonlyArray<readonly [string, string]>;
}

/** A claim by name, or by a dotted path into nested objects (`nested.key1`). */
function claim(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let v: unknown = claims;
  for (const part of name.split('.'))
    v = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

/** A claim as a header value: strings as they are, numbers and booleans printed, string lists joined by commas. */
function headerValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(',');
  return undefined;
}

export function upstreamEdits(cfg: JwtConfig, outcome: JwtOutcome): JwtHeaderEdits {
  // Output headers of every rule are cleared first: a client must not be able to forge them without a token.
  const outputs = cfg.rules.flatMap((r) => [
    ...(r.outputPayloadToHeader ? [r.outputPayloadToHeader] : []),
    ...(r.outputClaimToHeaders ?? []).map((o) => o.header),
  ]);
  const remove = new Set(outputs);
  const set: Array<[string, string]> = [];
  if (outcome.kind === 'verified') {
    const rule = outcome.rule;
    if (outcome.header && !rule.forwardOriginalToken) remove.add(outcome.header);
    if (rule.outputPayloadToHeader) set.push([rule.outputPayloadToHeader, outcome.payload]);
    for (const o of rule.outputClaimToHeaders ?? []) {
      const v = headerValue(claim(outcome.auth.claims, o.claim));
      if (v !== undefined) set.push([o.header, v]);
    }
  }
  return { remove: [...remove], set };
}

/**
 * A route whose request header operations start with the JWT's edits (Envoy's jwt_authn filter
 * runs before the router, so the route's own operations come after and win on a clash). The same
 * route when there is nothing to edit; otherwise a copy for this request only.
 */
export function withJwtEdits<R extends { readonly requestHeaders?: HeaderOpsConfig }>(route: R, edits: JwtHeaderEdits): R {
  if (edits.remove.length === 0 && edits.set.length === 0) return route;
  const ops = route.requestHeaders;
  const routeSets = new Set((ops?.set ?? []).map(([n]) => n.toLowerCase()));
  return {
    ...route,
    requestHeaders: {
      ...ops,
      set: [...edits.set.filter(([n]) => !routeSets.has(n)), ...(ops?.set ?? [])],
      remove: [...edits.remove, ...(ops?.remove ?? [])],
    },
  };
}

/** Envoy's reply to a refused token: its reason as the body, and the `www-authenticate` challenge (realm: the request's URI, its path cut at 256). */
export function unauthorizedReply(scheme: string, host: string, target: string, message: string, status: 401 | 403 = 401) {
  return {
    status,
    headers: [
      ['www-authenticate', `Bearer realm="${scheme}://${host}${target.slice(0, 256)}", error="invalid_token"`],
      ['content-type', 'text/plain'],
    ] as Array<[string, string]>,
    body: message,
  };
}
