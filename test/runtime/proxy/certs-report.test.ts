/** The admin port's `/certs` rows (certs-report.ts): what istioctl proxy-config secret shows of a proxy. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certificateRows } from '../../../runtime/proxy/certs-report';
import { meshCa, workload } from '../../security/pki';
import { tempDir } from '../../support/temp-dir';

test('a TLS server’s files, then the workload certificate and the root; a file gone since it was loaded says so', async () => {
  const ca = await meshCa();
  const w = await workload(ca, 'test', 'httpbin');
  const dir = tempDir('mast-certs-report-');
  writeFileSync(join(dir, 'tls.crt'), w.certificate);
  const rows = certificateRows(w, [
    { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), ca: join(dir, 'gone.crt') },
    // The same files on a second server: listed once.
    { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') },
  ]);
  expect(rows.map((r) => [r.name, r.type, r.error === undefined])).toEqual([
    [`file-cert:${join(dir, 'tls.crt')}~${join(dir, 'tls.key')}`, 'Cert Chain', true],
    [`file-root:${join(dir, 'gone.crt')}`, 'CA', false],
    ['default', 'Cert Chain', true],
    ['ROOTCA', 'CA', true],
  ]);
  expect(rows[0].serialNumber).toBe(rows[2].serialNumber);
  expect(rows[2].serialNumber).toMatch(/^\d+$/);
  expect(Date.parse(rows[2].notAfter!)).toBeGreaterThan(Date.now());
  expect(rows[1].error).toMatch(/ENOENT/);
  // The identity a peer checks, as `openssl x509 -text` prints the SAN the task greps for.
  expect(rows[2].subjectAltNames).toEqual(['URI:spiffe://cluster.local/ns/test/sa/httpbin']);
});
