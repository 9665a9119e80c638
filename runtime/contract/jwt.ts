/**
 * RequestAuthentication as a proxy runs it: the JWT rules of one listener with their keys inline
 * (mastd fetched every `jwksUri`, as istiod does), every default resolved by the compiler.
 */

/** One JSON Web Key (RFC 7517), as the JWKS gave it. */
export interface Jwk {
  readonly kty: string;
  readonly kid?: string;
  readonly alg?: string;
  readonly use?: string;
  readonly [member: string]: unknown;
}

/** Where a token is looked for: a header with an optional prefix (`Authorization: Bearer `). */
export interface JwtHeaderLocation {
  /** Lowercase. */
  readonly name: string;
  readonly prefix?: string;
}

export interface JwtRuleConfig {
  /** `ns/name[index]` of the jwtRule, for logs. */
  readonly name: string;
  readonly issuer: string;
  /** Accepted `aud` values; absent: any. */
  readonly audiences?: readonly string[];
  /** The verification keys. Empty when none could be had (fetch failed, none given): the issuer's tokens are refused. */
  readonly keys: readonly Jwk[];
  /** Defaults applied: with no location given, `Authorization: Bearer` and the `access_token` parameter. */
  readonly fromHeaders: readonly JwtHeaderLocation[];
  readonly fromParams: readonly string[];
  readonly fromCookies: readonly string[];
  /** Keep the token's header in the request sent on (Istio's default: removed). */
  readonly forwardOriginalToken?: boolean;
  /** Lowercase header for the verified payload, base64url. */
  readonly outputPayloadToHeader?: string;
  readonly outputClaimToHeaders?: ReadonlyArray<{ readonly header: string; readonly claim: string }>;
}

/** The RequestAuthentications that apply to a listener (workload, namespace and mesh-wide rules together). */
export interface JwtConfig {
  readonly rules: readonly JwtRuleConfig[];
}

/**
 * A VirtualService header match on a verified JWT's claim (Istio's jwt-route task):
 * `@request.auth.claims.groups`, nested `@request.auth.claims.a.b`. Not a header: never read from
 * the request, and its claim name keeps its case.
 */
export const CLAIM_HEADER_PREFIX = '@request.auth.claims.';

/** A claim's string values at a path (a string, or the strings of a list; anything else none). */
export function claimStrings(claims: Readonly<Record<string, unknown>> | undefined, path: readonly string[]): string[] {
  let v: unknown = claims;
  for (const part of path) v = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[part] : undefined;
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The JWKS mastd fetched, by `jwksUri`: what the compiler inlines. */
export type FetchedJwks = ReadonlyMap<string, readonly Jwk[]>;
