/** Test keys and tokens: a key pair per test run, tokens signed with Node's crypto (never the tasks' published ones). */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Jwk } from '../../../../runtime/contract/jwt';

export interface TestKey {
  readonly alg: 'RS256' | 'ES256';
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** The public JWK, with kid and alg, as a JWKS would serve it. */
  readonly jwk: Jwk;
}

export function testKey(alg: 'RS256' | 'ES256' = 'RS256', kid = `${alg.toLowerCase()}-key`): TestKey {
  const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid, alg, use: 'sig' } as Jwk;
  return { alg, kid, privateKey: pair.privateKey, jwk };
}

export const jwksOf = (...keys: TestKey[]): string => JSON.stringify({ keys: keys.map((k) => k.jwk) });

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A signed compact JWT; `header` overrides (e.g. `{ kid: undefined }`, `{ alg: 'none' }`). */
export function mint(key: TestKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const h = Object.fromEntries(Object.entries({ alg: key.alg, typ: 'JWT', kid: key.kid, ...header }).filter(([, v]) => v !== undefined));
  const input = `${b64(h)}.${b64(claims)}`;
  const sig =
    key.alg === 'RS256'
      ? sign('sha256', Buffer.from(input), key.privateKey)
      : sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

/** Seconds since the epoch, `offset` seconds from now. */
export const inSeconds = (offset: number, nowMs = Date.now()) => Math.floor(nowMs / 1000) + offset;
