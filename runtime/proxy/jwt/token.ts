/** A compact JWS split and decoded (RFC 7515/7519), nothing verified yet. */
import { rejection, type JwtRejection } from './reasons';

export interface DecodedToken {
  readonly header: { readonly alg?: unknown; readonly kid?: unknown; readonly [k: string]: unknown };
  readonly payload: Readonly<Record<string, unknown>>;
  /** `header.payload`, the bytes the signature covers. */
  readonly signingInput: string;
  /** The payload segment as received (base64url): what `outputPayloadToHeader` sends on. */
  readonly payloadSegment: string;
  readonly signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** A JSON object from a base64url segment, or undefined. */
function jsonSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function decodeToken(token: string): DecodedToken | JwtRejection {
  const parts = token.split('.');
  // An empty signature (`alg: none`) is not the form either, as in Envoy's jwt_verify_lib.
  if (parts.length !== 3 || parts.some((p) => p === '' || !BASE64URL.test(p))) return rejection('MAST_JWT_MALFORMED');
  const header = jsonSegment(parts[0]);
  if (!header) return rejection('MAST_JWT_BAD_HEADER');
  const payload = jsonSegment(parts[1]);
  if (!payload) return rejection('MAST_JWT_BAD_PAYLOAD');
  return {
    header,
    payload,
    signingInput: `${parts[0]}.${parts[1]}`,
    payloadSegment: parts[1],
    signature: Buffer.from(parts[2], 'base64url'),
  };
}

export const isRejection = (x: object): x is JwtRejection => 'code' in x && 'message' in x;
