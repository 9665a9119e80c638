/**
 * The certificates a proxy serves with, as `istioctl proxy-config secret` lists Envoy's: the
 * workload certificate mastd issued (`default`), the mesh root (`ROOTCA`), and each TLS server's
 * files (`file-cert:<certificate>~<key>`, `file-root:<client CAs>`), each with its serial number and
 * validity. For the admin port's `/certs`; not on the request path, and `node:crypto` is loaded
 * when it is first asked (a proxy without TLS never loads it otherwise: test/e2e/bundles.test.ts).
 */
import type * as Crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TlsFiles } from './gateway-tls';

export interface CertificateRow {
  readonly name: string;
  readonly type: 'Cert Chain' | 'CA';
  /** The first certificate's serial number (decimal, as istioctl prints it); absent when it cannot be read. */
  readonly serialNumber?: string;
  readonly notBefore?: string;
  readonly notAfter?: string;
  /** The first certificate's subject alternative names as OpenSSL prints them (`URI:spiffe://…`, `DNS:…`): the identity a peer checks. */
  readonly subjectAltNames?: string[];
  /** Why it could not be read (a file gone since it was loaded). */
  readonly error?: string;
}

function row(name: string, type: CertificateRow['type'], pem: () => string): CertificateRow {
  try {
    const x = new (require('node:crypto') as typeof Crypto).X509Certificate(pem());
    return {
      name,
      type,
      serialNumber: BigInt(`0x${x.serialNumber}`).toString(10),
      notBefore: new Date(x.validFrom).toISOString(),
      notAfter: new Date(x.validTo).toISOString(),
      ...(x.subjectAltName ? { subjectAltNames: x.subjectAltName.split(', ') } : {}),
    };
  } catch (err) {
    return { name, type, error: (err as Error).message };
  }
}

export function certificateRows(workload: { certificate: string; root: string } | undefined, files: readonly TlsFiles[]): CertificateRow[] {
  const out: CertificateRow[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    const name = `file-cert:${f.cert}~${f.key}`;
    if (!seen.has(name)) seen.add(name), out.push(row(name, 'Cert Chain', () => readFileSync(f.cert, 'utf8')));
    const ca = f.ca;
    if (ca && !seen.has(`file-root:${ca}`))
      seen.add(`file-root:${ca}`), out.push(row(`file-root:${ca}`, 'CA', () => readFileSync(ca, 'utf8')));
  }
  if (workload)
    out.push(
      row('default', 'Cert Chain', () => workload.certificate),
      row('ROOTCA', 'CA', () => workload.root),
    );
  return out;
}
