import { X509Certificate } from 'node:crypto';
import { CertificateAuthority } from '../../../runtime/control/ca';
import { certificateRequest, generateKeys, peerIdentity, x509 } from '../../../runtime/contract/x509';

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
