/**
 * Why a JWT is refused: a stable code per reason and Envoy's jwt_authn message for it, which is
 * the body of the 401 (what Istio users grep for, e.g. "Jwt is expired").
 */
export const JWT_REASONS = {
  MAST_JWT_MALFORMED: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  MAST_JWT_BAD_HEADER: 'Jwt header is an invalid JSON',
  MAST_JWT_BAD_PAYLOAD: 'Jwt payload is an invalid JSON',
  MAST_JWT_ALG_UNSUPPORTED: 'Jwt header [alg] is not supported',
  MAST_JWT_UNKNOWN_ISSUER: 'Jwt issuer is not configured',
  MAST_JWT_NO_KEY: "Jwks doesn't have key to match kid or alg from Jwt",
  MAST_JWT_BAD_SIGNATURE: 'Jwt verification fails',
  MAST_JWT_EXPIRED: 'Jwt is expired',
  MAST_JWT_NOT_YET_VALID: 'Jwt not yet valid',
  MAST_JWT_AUDIENCE: 'Audiences in Jwt are not allowed',
} as const;

export type JwtReasonCode = keyof typeof JWT_REASONS;

/** A refused token: the proxy answers `status` with `message` as the body. */
export interface JwtRejection {
  readonly code: JwtReasonCode;
  readonly message: string;
  /** 401, except 403 for a token of another audience (Envoy's jwt_authn). */
  readonly status: 401 | 403;
  /** The jwtRule that refused it, when one was chosen (logs). */
  readonly rule?: string;
}

export const rejection = (code: JwtReasonCode, rule?: string): JwtRejection => ({
  code,
  message: JWT_REASONS[code],
  status: code === 'MAST_JWT_AUDIENCE' ? 403 : 401,
  ...(rule ? { rule } : {}),
});
