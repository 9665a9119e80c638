/**
 * mastd's certificate authority: a self-signed root (generated, or loaded from PEM: a file or
 * the `mastd-ca` Secret in a cluster) that signs each proxy's request with the SPIFFE identity
 * mastd knows for that proxy, for a short time (24 h by default).
 */
import { randomBytes } from 'node:crypto';
import { KEY_ALGORITHM, generateKeys, privateKeyPem, spiffeId, x509 } from '../contract/x509';
import { webcrypto } from 'node:crypto';

export interface IssuedCertificate {
  readonly certificate: string;
  readonly root: string;
  readonly expiresAt: string;
}

export class CertificateError extends Error {
  readonly code = 'MAST_CA';
}

const serial = () =>
  randomBytes(16)
    .toString('hex')
    .replace(/^[89a-f]/, '1');

export class CertificateAuthority {
  private constructor(
    readonly trustDomain: string,
    readonly root: x509.X509Certificate,
    private readonly key: webcrypto.CryptoKey,
    readonly rootKeyPem: string,
  ) {}

  get rootPem(): string {
    return this.root.toString('pem');
  }

  static async generate(trustDomain: string, validDays = 3650): Promise<CertificateAuthority> {
    const keys = await generateKeys();
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `O=mast, CN=mast root CA ${trustDomain}`,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + validDays * 86_400_000),
      keys: keys as never,
      signingAlgorithm: KEY_ALGORITHM,
      // Every mast root of a trust domain has the same subject: the key identifier tells them apart (a rotation's bundle of two roots).
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
      ],
    });
    return new CertificateAuthority(trustDomain, root, keys.privateKey, await privateKeyPem(keys));
  }

  static async load(trustDomain: string, certPem: string, keyPem: string): Promise<CertificateAuthority> {
    const root = new x509.X509Certificate(certPem);
    const key = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(keyPem), KEY_ALGORITHM, false, ['sign']);
    return new CertificateAuthority(trustDomain, root, key, keyPem);
  }

  /** Signs `csrPem` for this identity; whatever names the request asks for are ignored. */
  async sign(csrPem: string, identity: { namespace: string; serviceAccount: string }, ttlMs = 86_400_000): Promise<IssuedCertificate> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (err) {
      throw new CertificateError(`not a certificate request: ${(err as Error).message}`);
    }
    if (!(await csr.verify())) throw new CertificateError('the certificate request is not signed by its own key');
    return this.issue(
      csr.publicKey,
      [{ type: 'url', value: spiffeId(this.trustDomain, identity.namespace, identity.serviceAccount) }],
      ttlMs,
    );
  }

  /**
   * mastd's own certificate for its push port: a fresh key, the DNS names and addresses proxies
   * reach it by, server use only.
   */
  async serving(names: readonly string[], addresses: readonly string[], ttlMs = 86_400_000): Promise<IssuedCertificate & { key: string }> {
    const keys = await generateKeys();
    const sans = [
      ...names.map((value) => ({ type: 'dns' as const, value })),
      ...addresses.map((value) => ({ type: 'ip' as const, value })),
    ];
    const issued = await this.issue(keys.publicKey, sans, ttlMs, [x509.ExtendedKeyUsage.serverAuth]);
    return { ...issued, key: await privateKeyPem(keys) };
  }

  private async issue(
    publicKey: x509.PublicKey | webcrypto.CryptoKey,
    sans: x509.JsonGeneralNames,
    ttlMs: number,
    usages = [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
  ): Promise<IssuedCertificate> {
    const notAfter = new Date(Math.min(Date.now() + ttlMs, this.root.notAfter.getTime()));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      // None, as Istio's workload certificates: the identity is the SAN alone (critical, below), and
      // a peer's XFCC element says `Subject=""` as Envoy writes it for Istio's.
      subject: '',
      issuer: this.root.subject,
      notBefore: new Date(Date.now() - 60_000),
      notAfter,
      signingKey: this.key as never,
      publicKey: publicKey as never,
      signingAlgorithm: KEY_ALGORITHM,
      extensions: [
        new x509.SubjectAlternativeNameExtension(sans, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension(usages),
        new x509.BasicConstraintsExtension(false, undefined, true),
        // Which root signed it: without it, a verifier holding two roots of the same subject may try the wrong one and refuse the peer.
        await x509.AuthorityKeyIdentifierExtension.create(this.root.publicKey),
      ],
    });
    return { certificate: cert.toString('pem'), root: this.rootPem, expiresAt: notAfter.toISOString() };
  }
}
