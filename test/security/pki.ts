/**
 * Certificates for the mTLS attacks: workload certificates from a mesh CA (mastd's own code), and
 * what an attacker makes with `openssl` — a CA of its own, and self-signed certificates — each
 * claiming a mesh SPIFFE identity.
 */
import { execFileSync } from 'node:child_process';
import * as tls from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateAuthority } from '../../runtime/control/ca';
import { certificateRequest, generateKeys, privateKeyPem } from '../../runtime/contract/x509';
import type { WorkloadCertificate } from '../../runtime/proxy/mesh-proxy';

export interface KeyPair {
  readonly key: string;
  readonly cert: string;
}

export const meshCa = () => CertificateAuthority.generate('cluster.local');

/** A workload certificate as mastd issues it; a negative `ttlMs` gives one that has already expired. */
export async function workload(
  ca: CertificateAuthority,
  namespace: string,
  serviceAccount: string,
  ttlMs?: number,
): Promise<WorkloadCertificate & KeyPair> {
  const keys = await generateKeys();
  const issued = await ca.sign(await certificateRequest(keys), { namespace, serviceAccount }, ttlMs);
  const key = await privateKeyPem(keys);
  return { key, certificate: issued.certificate, root: issued.root, expiresAt: issued.expiresAt, cert: issued.certificate };
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A CA nobody in the mesh trusts, made with openssl; `issue` signs a leaf claiming `uri`. */
export function foreignCa(dir: string): { readonly cert: string; issue(name: string, uri: string): KeyPair } {
  openssl(dir, ['req', '-x509', ...ecKey, '-keyout', 'foreign-ca.key', '-out', 'foreign-ca.pem', '-subj', '/O=attacker CA', '-days', '2']);
  return {
    cert: readFileSync(join(dir, 'foreign-ca.pem'), 'utf8'),
    issue(name, uri) {
      openssl(dir, ['req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/O=mast']);
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=URI:${uri}\nextendedKeyUsage=clientAuth,serverAuth\n`);
      const ca = ['-CA', 'foreign-ca.pem', '-CAkey', 'foreign-ca.key', '-CAcreateserial'];
      openssl(dir, ['x509', '-req', '-in', `${name}.csr`, ...ca, '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`]);
      return { key: readFileSync(join(dir, `${name}.key`), 'utf8'), cert: readFileSync(join(dir, `${name}.pem`), 'utf8') };
    },
  };
}

/** A self-signed certificate claiming `uri` (a SPIFFE id of the mesh). */
export function selfSigned(dir: string, name: string, uri: string): KeyPair {
  const san = ['-addext', `subjectAltName=URI:${uri}`];
  openssl(dir, ['req', '-x509', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', '/O=mast', '-days', '1', ...san]);
  return { key: readFileSync(join(dir, `${name}.key`), 'utf8'), cert: readFileSync(join(dir, `${name}.pem`), 'utf8') };
}

/** One request over TLS with this client certificate (or none): the raw reply, or how the connection ended. */
export function tlsRequest(
  port: number,
  client: Partial<KeyPair>,
  ca: string,
  path = '/orders',
  extra = '',
  maxVersion?: tls.SecureVersion,
): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const options = { host: '127.0.0.1', port, ca, key: client.key, cert: client.cert, checkServerIdentity: () => undefined, maxVersion };
    const s = tls.connect(options, () => {
      s.write(`GET ${path} HTTP/1.1\r\nhost: cart\r\n${extra}connection: close\r\n\r\n`);
    });
    const t = setTimeout(() => s.destroy(), 2000);
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('error', (err: NodeJS.ErrnoException) => (out ||= `error ${err.code ?? err.message}`));
    s.on('close', () => (clearTimeout(t), resolve(out || 'closed')));
  });
}
