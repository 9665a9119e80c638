import { X509Certificate } from 'node:crypto';
import { CertificateAuthority } from '../../../runtime/control/ca';
import { certificateRequest, generateKeys, peerIdentity, x509 } from '../../../runtime/contract/x509';
import { caHierarchy, type CaFiles } from '../../support/plug-in-ca';

describe('certificate authority', () => {
  let ca: CertificateAuthority;
  beforeAll(async () => {
    ca = await CertificateAuthority.generate('cluster.local');
  });

  test('signs a request with the SPIFFE identity mastd knows, for the TTL, chained to the root', async () => {
    const issued = await ca.sign(await certificateRequest(await generateKeys()), { namespace: 'shop', serviceAccount: 'cart' }, 3_600_000);
    const cert = new X509Certificate(issued.certificate);
    expect(cert.subjectAltName).toBe('URI:spiffe://cluster.local/ns/shop/sa/cart');
    expect(cert.verify(new X509Certificate(issued.root).publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    const life = Date.parse(issued.expiresAt) - Date.now();
    expect(life).toBeGreaterThan(3_500_000);
    expect(life).toBeLessThanOrEqual(3_600_000);
    expect(peerIdentity(cert.subjectAltName)).toEqual({ principal: 'cluster.local/ns/shop/sa/cart', namespace: 'shop' });
  });

  test('names asked for in the request are ignored', async () => {
    const keys = await generateKeys();
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=admin',
      keys: keys as never,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'spiffe://cluster.local/ns/mast-system/sa/mastd' }])],
    });
    const issued = await ca.sign(csr.toString('pem'), { namespace: 'default', serviceAccount: 'web' });
    expect(new X509Certificate(issued.certificate).subjectAltName).toBe('URI:spiffe://cluster.local/ns/default/sa/web');
  });

  test('garbage is refused with a clear error; a loaded root signs like the generated one', async () => {
    await expect(ca.sign('not a csr', { namespace: 'a', serviceAccount: 'b' })).rejects.toThrow(/^not a certificate request/);
    const again = await CertificateAuthority.load('cluster.local', ca.rootPem, ca.rootKeyPem);
    const issued = await again.sign(await certificateRequest(await generateKeys()), { namespace: 'a', serviceAccount: 'b' });
    expect(new X509Certificate(issued.certificate).verify(new X509Certificate(ca.rootPem).publicKey)).toBe(true);
  });

  test('peer identities: only spiffe URIs of the form td/ns/x/sa/y', () => {
    expect(peerIdentity('DNS:example.com')).toBeUndefined();
    expect(peerIdentity(undefined)).toBeUndefined();
    expect(peerIdentity('URI:spiffe://td/other')).toBeUndefined();
  });
});

describe("a plugged-in CA (Istio's cacerts: an intermediate signs, the root is the trust anchor)", () => {
  const plug = (files: CaFiles, drop: Array<keyof CaFiles> = []) =>
    CertificateAuthority.plugged('cluster.local', {
      certPem: files['ca-cert.pem'],
      keyPem: files['ca-key.pem'],
      ...(drop.includes('root-cert.pem') ? {} : { rootPem: files['root-cert.pem'] }),
      ...(drop.includes('cert-chain.pem') ? {} : { chainPem: files['cert-chain.pem'] }),
    });
  const pems = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

  test.each([
    ['RSA', false],
    ['ECDSA P-256', true],
  ])(
    '%s: each certificate comes with cert-chain.pem (the intermediate, then the root), and verifies against root-cert.pem only',
    async (_, ec) => {
      const files = await caHierarchy({ ec });
      const ca = await plug(files);
      expect(ca.rootPem.trim()).toBe(files['root-cert.pem'].trim());
      const issued = await ca.sign(await certificateRequest(await generateKeys()), { namespace: 'foo', serviceAccount: 'httpbin' });
      const [leaf, intermediate, sentRoot, ...more] = pems(issued.certificate).map((p) => new X509Certificate(p));
      expect(more).toEqual([]);
      const root = new X509Certificate(files['root-cert.pem']);
      expect(sentRoot.fingerprint256).toBe(root.fingerprint256);
      expect(intermediate.fingerprint256).toBe(new X509Certificate(files['ca-cert.pem']).fingerprint256);
      expect(leaf.checkIssued(intermediate) && leaf.verify(intermediate.publicKey)).toBe(true);
      expect(intermediate.checkIssued(root) && intermediate.verify(root.publicKey)).toBe(true);
      expect(leaf.verify(root.publicKey)).toBe(false);
      expect(leaf.subjectAltName).toBe('URI:spiffe://cluster.local/ns/foo/sa/httpbin');
      expect(issued.root.trim()).toBe(files['root-cert.pem'].trim());
    },
  );

  test('without cert-chain.pem the intermediate alone is sent after the certificate', async () => {
    const files = await caHierarchy({ ec: true });
    const issued = await (await plug(files, ['cert-chain.pem'])).sign(await certificateRequest(await generateKeys()), {
      namespace: 'a',
      serviceAccount: 'b',
    });
    expect(pems(issued.certificate)).toHaveLength(2);
  });

  test('refused before it signs anything, saying why: a key of another certificate, a certificate that is no CA, a root that did not sign it, no PEM', async () => {
    const files = await caHierarchy({ ec: true });
    const other = await caHierarchy({ ec: true });
    await expect(plug({ ...files, 'ca-key.pem': other['ca-key.pem'] })).rejects.toThrow('ca-key.pem is not the key of ca-cert.pem');
    const notCa = await caHierarchy({ ec: true, intermediateIsCa: false });
    await expect(plug(notCa)).rejects.toThrow(/^ca-cert.pem \(.*Intermediate CA.*\) is not a CA certificate/);
    await expect(plug({ ...files, 'root-cert.pem': other['root-cert.pem'] }, ['cert-chain.pem'])).rejects.toThrow(
      /^the CA chain is broken: .*Intermediate CA.* is not signed by root-cert.pem/,
    );
    await expect(plug({ ...files, 'ca-cert.pem': 'nonsense' })).rejects.toThrow(/^ca-cert.pem is not a PEM certificate/);
    await expect(plug({ ...files, 'ca-key.pem': 'nonsense' })).rejects.toThrow(/^ca-key.pem is not a private key/);
  });
});
