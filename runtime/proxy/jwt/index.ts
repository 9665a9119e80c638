/** The JWT verifier (RequestAuthentication) as the request path uses it. */
export { authenticate, CLOCK_SKEW_S, TOKEN_CACHE_ENTRIES, type JwtOutcome } from './verify';
export { upstreamEdits, unauthorizedReply, withJwtEdits, type JwtHeaderEdits } from './upstream';
export type { JwtRequestView } from './locate';
export { JWT_REASONS, type JwtReasonCode, type JwtRejection } from './reasons';
