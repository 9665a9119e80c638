/**
 * mastd's certificate authority: a self-signed root (generated, or loaded from PEM: a file or
 * the `mastd-ca` Secret in a cluster) that signs each proxy's request with the SPIFFE identity
 * mastd knows for that proxy, for a short time (24 h by default). Or a plugged-in CA, as Istio's
 * `cacerts` (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem): an intermediate that signs,
 * RSA or ECDSA, its chain sent after every certificate it issues, the root handed out as the trust anchor.
 */
import { createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { KEY_ALGORITHM, generateKeys, privateKeyPem, spiffeId, x509 } from '../contract/x509';

/** Istio's plugged-in CA (the `cacerts` Secret's keys, or files of those names in a directory). */
export interface PluggedCa {
  /** ca-cert.pem: the CA certificate that signs (an intermediate, or the root itself). */
  readonly certPem: string;
  /** ca-key.pem: its key (PKCS#8 or PKCS#1 RSA, SEC1 or PKCS#8 EC). */
  readonly keyPem: string;
  /** root-cert.pem: the trust anchor workloads verify peers with. @default - certPem */
  readonly rootPem?: string;
  /** cert-chain.pem: certPem and the intermediates up to the root (the root may be there too), sent after each certificate. @default - certPem */
  readonly chainPem?: string;
}

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
    /** The certificate that signs (the root of a generated CA; a plugged-in CA's ca-cert.pem). */
    readonly root: x509.X509Certificate,
    private readonly key: webcrypto.CryptoKey,
    readonly rootKeyPem: string,
    private readonly signing: { readonly name: string; readonly hash: string } = KEY_ALGORITHM,
    /** The trust anchor handed to workloads; the signer's own PEM for a generated CA. */
    private readonly anchorPem?: string,
    /** The certificates sent after each issued one (cert-chain.pem, or the signer and intermediates). */
    private readonly chainPem = '',
  ) {}

  /** The root workloads verify peers with (root-cert.pem of a plugged-in CA). */
  get rootPem(): string {
    return this.anchorPem ?? this.root.toString('pem');
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
    return CertificateAuthority.plugged(trustDomain, { certPem, keyPem });
  }

  /**
   * A CA from certificates and a key of its owner's (Istio's plug-in CA): checked before it signs
   * anything — the certificate is a CA's, the key is its key, and the chain leads to the root.
   */
  static async plugged(trustDomain: string, ca: PluggedCa): Promise<CertificateAuthority> {
    const signer = parseCertificate(ca.certPem, 'ca-cert.pem');
    if (!signer.ca)
      throw new CertificateError(`ca-cert.pem (${signer.subject.replace(/\n/g, ', ')}) is not a CA certificate (basicConstraints CA:TRUE)`);
    let privateKey: ReturnType<typeof createPrivateKey>;
    try {
      privateKey = createPrivateKey(ca.keyPem);
    } catch (err) {
      throw new CertificateError(`ca-key.pem is not a private key: ${(err as Error).message}`);
    }
    const spki = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
    if (!spki(createPublicKey(privateKey)).equals(spki(signer.publicKey)))
      throw new CertificateError('ca-key.pem is not the key of ca-cert.pem');
    const { algorithm, signing } = algorithmOf(privateKey);
    const key = await webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), algorithm, false, ['sign']);
    const root = ca.rootPem ? parseCertificate(ca.rootPem, 'root-cert.pem') : signer;
    const given = ca.chainPem ? pemBlocks(ca.chainPem).map((b, i) => parseCertificate(b, `cert-chain.pem [${i}]`)) : [];
    const links = chainToRoot(signer, given, root);
    // Sent after each certificate: cert-chain.pem as given once checked (Istio's ends with the root, and Envoy sends it all); else the links.
    const chain = given.length ? given : links;
    const pem = (c: X509Certificate) => c.toString().trim();
    return new CertificateAuthority(
      trustDomain,
      new x509.X509Certificate(ca.certPem),
      key,
      ca.keyPem,
      signing,
      ca.rootPem ? `${pem(root)}\n` : undefined,
      chain.map((c) => `${pem(c)}\n`).join(''),
    );
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
    // A plugged-in root's own algorithm (RSA or ECDSA) signs; the workload keys stay ECDSA P-256.
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
      signingAlgorithm: this.signing,
      extensions: [
        new x509.SubjectAlternativeNameExtension(sans, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension(usages),
        new x509.BasicConstraintsExtension(false, undefined, true),
        // Which root signed it: without it, a verifier holding two roots of the same subject may try the wrong one and refuse the peer.
        await x509.AuthorityKeyIdentifierExtension.create(this.root.publicKey),
      ],
    });
    // The chain after the leaf, as Envoy sends Istio's cert-chain.pem: a peer holding only the root verifies it.
    const certificate = this.chainPem ? `${cert.toString('pem').trim()}\n${this.chainPem}` : cert.toString('pem');
    return { certificate, root: this.rootPem, expiresAt: notAfter.toISOString() };
  }
}

function parseCertificate(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new CertificateError(`${what} is not a PEM certificate: ${(err as Error).message}`);
  }
}

const pemBlocks = (pem: string): string[] => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

/**
 * The signer and the intermediates between it and the root, in order (the root left out: peers
 * have it); refused when a link is not signed by the next or the last not by the root.
 */
function chainToRoot(signer: X509Certificate, given: readonly X509Certificate[], root: X509Certificate): X509Certificate[] {
  if (signer.fingerprint256 === root.fingerprint256) return [];
  const chain = [signer];
  const rest = given.filter((c) => c.fingerprint256 !== signer.fingerprint256 && c.fingerprint256 !== root.fingerprint256);
  for (const next of [...rest, root]) {
    const last = chain[chain.length - 1];
    if (!last.checkIssued(next) || !last.verify(next.publicKey))
      throw new CertificateError(
        `the CA chain is broken: ${oneLine(last.subject)} is not signed by ${next === root ? 'root-cert.pem' : 'the next certificate of cert-chain.pem'} (${oneLine(next.subject)})`,
      );
    if (next !== root) chain.push(next);
  }
  return chain;
}

const oneLine = (subject: string) => subject.replace(/\n/g, ', ');

/** The WebCrypto import and signing algorithms of a CA key: RSA (PKCS#1 v1.5, SHA-256) or ECDSA P-256/P-384. */
function algorithmOf(key: ReturnType<typeof createPrivateKey>): {
  algorithm: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;
  signing: { name: string; hash: string };
} {
  if (key.asymmetricKeyType === 'rsa')
    return { algorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, signing: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } };
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'ec' && (curve === 'prime256v1' || curve === 'secp384r1')) {
    const namedCurve = curve === 'prime256v1' ? 'P-256' : 'P-384';
    const hash = namedCurve === 'P-256' ? 'SHA-256' : 'SHA-384';
    return { algorithm: { name: 'ECDSA', namedCurve }, signing: { name: 'ECDSA', hash } };
  }
  throw new CertificateError(
    `ca-key.pem: a ${key.asymmetricKeyType} key${curve ? ` (${curve})` : ''} cannot sign here: RSA or ECDSA P-256/P-384`,
  );
}
