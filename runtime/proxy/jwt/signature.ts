/**
 * A JWS signature checked against a JSON Web Key with Node's crypto: the algorithms Envoy's
 * jwt_authn verifies with public keys (RS*, PS*, ES*, EdDSA). `none` and the HMAC algorithms are
 * refused: a JWKS pushed to every proxy holds public keys only.
 */
import type * as Crypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** `node:crypto`, loaded the first time a token is verified: it brings OpenSSL's start-up (MBs) a proxy without JWT rules never needs. */
const crypto = (): typeof Crypto => require('node:crypto') as typeof Crypto;
import type { Jwk } from '../../contract/jwt';

interface AlgSpec {
  readonly kty: 'RSA' | 'EC' | 'OKP';
  readonly hash: string | null;
  readonly crv?: string;
  readonly pss?: number;
  readonly ec?: true;
}

const ALGS: Readonly<Record<string, AlgSpec>> = {
  RS256: { kty: 'RSA', hash: 'sha256' },
  RS384: { kty: 'RSA', hash: 'sha384' },
  RS512: { kty: 'RSA', hash: 'sha512' },
  PS256: { kty: 'RSA', hash: 'sha256', pss: 32 },
  PS384: { kty: 'RSA', hash: 'sha384', pss: 48 },
  PS512: { kty: 'RSA', hash: 'sha512', pss: 64 },
  ES256: { kty: 'EC', hash: 'sha256', crv: 'P-256', ec: true },
  ES384: { kty: 'EC', hash: 'sha384', crv: 'P-384', ec: true },
  ES512: { kty: 'EC', hash: 'sha512', crv: 'P-521', ec: true },
  EdDSA: { kty: 'OKP', hash: null, crv: 'Ed25519' },
};

export const isSupportedAlg = (alg: unknown): alg is string => typeof alg === 'string' && Object.hasOwn(ALGS, alg);

/** Whether a key may verify a token signed with `alg` (its type, curve, `alg` and `use` agree). */
export function keyFits(jwk: Jwk, alg: string): boolean {
  const spec = ALGS[alg];
  return (
    jwk.kty === spec.kty &&
    (spec.crv === undefined || jwk.crv === spec.crv) &&
    (jwk.alg === undefined || jwk.alg === alg) &&
    (jwk.use === undefined || jwk.use === 'sig')
  );
}

/** Public keys built once per JWK object (a config's keys live as long as the config). */
const keyObjects = new WeakMap<Jwk, KeyObject | null>();
function keyObject(jwk: Jwk): KeyObject | undefined {
  let k = keyObjects.get(jwk);
  if (k === undefined) {
    try {
      k = crypto().createPublicKey({ key: jwk as Crypto.JsonWebKey, format: 'jwk' });
    } catch {
      k = null; // a key Node cannot read verifies nothing
    }
    keyObjects.set(jwk, k);
  }
  return k ?? undefined;
}

/** True when `signature` over `input` is valid for `jwk` under `alg` (which must be supported). */
export function verifySignature(alg: string, jwk: Jwk, input: string, signature: Buffer): boolean {
  const spec = ALGS[alg];
  const key = keyObject(jwk);
  if (!key) return false;
  const data = Buffer.from(input);
  try {
    const { verify, constants } = crypto();
    if (spec.pss) return verify(spec.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.pss }, signature);
    if (spec.ec) return verify(spec.hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    return verify(spec.hash, data, key, signature);
  } catch {
    return false;
  }
}
