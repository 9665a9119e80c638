/**
 * A CA hierarchy as Istio's plug-in CA task makes one (a root, an intermediate for the cluster,
 * RSA keys by default), in-process: the files of the `cacerts` Secret (ca-cert.pem, ca-key.pem,
 * root-cert.pem, cert-chain.pem).
 */
import { webcrypto } from 'node:crypto';
import { x509 } from '../../runtime/contract/x509';

export interface CaFiles {
  readonly 'ca-cert.pem': string;
  readonly 'ca-key.pem': string;
  readonly 'root-cert.pem': string;
  readonly 'cert-chain.pem': string;
}

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function caCertificate(
  name: string,
  keys: webcrypto.CryptoKeyPair,
  issuer?: { name: string; keys: webcrypto.CryptoKeyPair },
  ca = true,
): Promise<x509.X509Certificate> {
  const algorithm = keys.privateKey.algorithm.name === 'ECDSA' ? EC : RSA;
  const signer = issuer ?? { name, keys };
  return x509.X509CertificateGenerator.create({
    serialNumber: '01',
    subject: name,
    issuer: signer.name,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingKey: signer.keys.privateKey as never,
    publicKey: keys.publicKey as never,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(ca, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
}

const keyPem = async (keys: webcrypto.CryptoKeyPair) =>
  x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');

/** Root CA → intermediate CA (the one that signs); `ec` for ECDSA P-256 keys instead of RSA. */
export async function caHierarchy(options: { ec?: boolean; intermediateIsCa?: boolean } = {}): Promise<CaFiles> {
  const algorithm = options.ec ? EC : RSA;
  const generate = async () => (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const rootKeys = await generate();
  const root = await caCertificate('O=Istio, CN=Root CA', rootKeys);
  const intermediateKeys = await generate();
  const name = 'O=Istio, CN=Intermediate CA, L=cluster1';
  const intermediate = await caCertificate(
    name,
    intermediateKeys,
    { name: 'O=Istio, CN=Root CA', keys: rootKeys },
    options.intermediateIsCa ?? true,
  );
  const pem = (c: x509.X509Certificate) => `${c.toString('pem')}\n`;
  return {
    'ca-cert.pem': pem(intermediate),
    'ca-key.pem': await keyPem(intermediateKeys),
    'root-cert.pem': pem(root),
    'cert-chain.pem': pem(intermediate) + pem(root),
  };
}
