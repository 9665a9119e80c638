/**
 * Workload certificates with @peculiar/x509 over Node's WebCrypto (no hand-written ASN.1):
 * ECDSA P-256 keys, PKCS#10 requests, SPIFFE identities in URI SANs.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as never);

export type KeyPair = webcrypto.CryptoKeyPair;

export const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
export { x509 };

export async function generateKeys(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
}

export async function privateKeyPem(keys: KeyPair): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
}

/** A certificate request: the key is the proxy's; the identity is decided by mastd, not by the request. */
export async function certificateRequest(keys: KeyPair): Promise<string> {
  return (
    await x509.Pkcs10CertificateRequestGenerator.create({ name: 'O=mast', keys: keys as never, signingAlgorithm: KEY_ALGORITHM })
  ).toString('pem');
}

export { spiffeId, peerIdentity } from './spiffe';
