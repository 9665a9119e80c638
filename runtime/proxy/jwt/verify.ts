/**
 * RequestAuthentication at the proxy: the request's JWT, if it carries one, verified against the
 * listener's rules, as Envoy's jwt_authn filter does under Istio (one provider per issuer, any may
 * verify, a missing token allowed): no token passes (an AuthorizationPolicy may still require one);
 * a token that fails any check is a 401 with Envoy's reason; a good one gives the request its
 * principal (`iss/sub`), audiences, presenter and claims. Pure of sockets; verified tokens are
 * cached per config until they expire, bounded in number (the proxy's hot path).
 */
import type { RequestAuth } from '../../contract/authz';
import type { JwtConfig, JwtRuleConfig } from '../../contract/jwt';
import { locateToken, type JwtRequestView } from './locate';
import { rejection, type JwtRejection } from './reasons';
import { isSupportedAlg, keyFits, verifySignature } from './signature';
import { decodeToken, isRejection, type DecodedToken } from './token';

/** Envoy's default `clock_skew_seconds` (Istio sets none): exp and nbf are checked with this slack. */
export const CLOCK_SKEW_S = 60;
/** Verified tokens kept per config. */
export const TOKEN_CACHE_ENTRIES = 1000;

export type JwtOutcome =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'verified';
      readonly auth: RequestAuth;
      readonly rule: JwtRuleConfig;
      /** The header the token came in (removed upstream unless forwardOriginalToken). */
      readonly header?: string;
      /** The payload segment (base64url), for outputPayloadToHeader. */
      readonly payload: string;
    }
  | ({ readonly kind: 'rejected' } & JwtRejection);

interface Verified {
  readonly auth: RequestAuth;
  readonly rule: JwtRuleConfig;
  readonly payload: string;
  /** ms since the epoch after which the entry is stale (exp + skew), Infinity without exp. */
  readonly until: number;
}

const caches = new WeakMap<JwtConfig, Map<string, Verified>>();
function cacheOf(cfg: JwtConfig): Map<string, Verified> {
  let c = caches.get(cfg);
  if (!c) caches.set(cfg, (c = new Map()));
  return c;
}

const asStrings = (v: unknown): string[] =>
  typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** Checks the decoded token against one rule (its issuer already matched): signature, then time, then audience. */
function check(rule: JwtRuleConfig, t: DecodedToken, nowMs: number): JwtRejection | Verified {
  const alg = t.header.alg;
  // HMAC algorithms are Envoy's too, with symmetric keys: a pushed JWKS is public keys only, so no key fits (fail closed).
  if (typeof alg === 'string' && /^HS(256|384|512)$/.test(alg)) return rejection('MAST_JWT_NO_KEY', rule.name);
  if (!isSupportedAlg(alg)) return rejection('MAST_JWT_ALG_UNSUPPORTED', rule.name);
  const kid = typeof t.header.kid === 'string' ? t.header.kid : undefined;
  const keys = rule.keys.filter((k) => keyFits(k, alg) && (kid === undefined || k.kid === undefined || k.kid === kid));
  // With a kid, a key of that kid if the JWKS names one (Envoy falls back to the kid-less keys only).
  const named = kid === undefined ? keys : keys.filter((k) => k.kid === kid).length ? keys.filter((k) => k.kid === kid) : keys;
  if (named.length === 0) return rejection('MAST_JWT_NO_KEY', rule.name);
  if (!named.some((k) => verifySignature(alg, k, t.signingInput, t.signature))) return rejection('MAST_JWT_BAD_SIGNATURE', rule.name);
  const now = nowMs / 1000;
  const { exp, nbf } = t.payload;
  if (typeof exp === 'number' && now > exp + CLOCK_SKEW_S) return rejection('MAST_JWT_EXPIRED', rule.name);
  if (typeof nbf === 'number' && now + CLOCK_SKEW_S < nbf) return rejection('MAST_JWT_NOT_YET_VALID', rule.name);
  const aud = asStrings(t.payload.aud);
  if (rule.audiences && !aud.some((a) => rule.audiences!.includes(a))) return rejection('MAST_JWT_AUDIENCE', rule.name);
  const sub = typeof t.payload.sub === 'string' ? t.payload.sub : '';
  const azp = t.payload.azp;
  return {
    auth: {
      principal: `${rule.issuer}/${sub}`,
      audiences: aud,
      ...(typeof azp === 'string' ? { presenter: azp } : {}),
      claims: t.payload,
    },
    rule,
    payload: t.payloadSegment,
    until: typeof exp === 'number' ? (exp + CLOCK_SKEW_S) * 1000 : Number.POSITIVE_INFINITY,
  };
}

/** The request's JWT outcome under `cfg`; `nowMs` is passed in so tests control the clock. */
export function authenticate(cfg: JwtConfig, req: JwtRequestView, nowMs = Date.now()): JwtOutcome {
  // A CORS preflight carries no credentials: Istio sets Envoy's bypass_cors_preflight.
  if (req.method === 'OPTIONS' && req.header('origin') && req.header('access-control-request-method')) return { kind: 'none' };
  // The first rule (in config order) that finds a token at its locations decides where the token is.
  let found: ReturnType<typeof locateToken>;
  for (const rule of cfg.rules) if ((found = locateToken(rule, req))) break;
  if (!found) return { kind: 'none' };
  const cache = cacheOf(cfg);
  const hit = cache.get(found.token);
  if (hit && nowMs <= hit.until) return verifiedOutcome(hit, found.header);
  if (hit) cache.delete(found.token);
  const t = decodeToken(found.token);
  if (isRejection(t)) return { kind: 'rejected', ...t };
  const iss = t.payload.iss;
  // Every rule of the token's issuer that looks where the token was found may verify it (requires_any).
  const rules = cfg.rules.filter((r) => r.issuer === iss && locateToken(r, req)?.token === found.token);
  if (rules.length === 0) return { kind: 'rejected', ...rejection('MAST_JWT_UNKNOWN_ISSUER') };
  let first: JwtRejection | undefined;
  for (const rule of rules) {
    const r = check(rule, t, nowMs);
    if ('auth' in r) {
      if (cache.size >= TOKEN_CACHE_ENTRIES) cache.delete(cache.keys().next().value as string); // oldest first
      cache.set(found.token, r);
      return verifiedOutcome(r, found.header);
    }
    first ??= r;
  }
  return { kind: 'rejected', ...first! };
}

function verifiedOutcome(v: Verified, header: string | undefined): JwtOutcome {
  return { kind: 'verified', auth: v.auth, rule: v.rule, payload: v.payload, ...(header ? { header } : {}) };
}
