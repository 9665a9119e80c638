/**
 * Istio's task cert-management/plugin-ca-cert (istio.io content/en/docs/tasks/security/
 * cert-management/plugin-ca-cert/): a root CA and an intermediate for cluster1 made with openssl
 * as the task's Makefile makes them (RSA keys, the intermediate `CA:true, pathlen:0`; 2048-bit here
 * where the Makefile takes 4096, for time), plugged in as the `cacerts` Secret of istio-system; then
 * httpbin and sleep in foo under STRICT mTLS, and the task's checks of the chain httpbin's sidecar
 * presents (`openssl s_client -showcerts`): the root and the CA certificate are the administrator's,
 * and `openssl verify` takes the workload certificate.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type LocalMesh } from '../../../runtime/local/local-mesh';
import { meshYaml } from '../../support/mesh-yaml';
import { fromWorkload, startLocal, stopLocal } from '../support';
import { httpbinWorkload } from './httpbin-mesh';

const certs = mkdtempSync(join(tmpdir(), 'mast-cacerts-'));
const dir = mkdtempSync(join(tmpdir(), 'mast-plugin-ca-'));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: certs, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const file = (name: string) => readFileSync(join(certs, name), 'utf8');

/** `make -f Makefile.selfsigned.mk root-ca cluster1-cacerts`, in openssl's own commands. */
function makeCerts(): void {
  /** The Makefile's openssl config: the same request section, the CA's extensions and name. */
  const conf = (extensions: string, name: string) => `[ req ]
encrypt_key = no
prompt = no
utf8 = yes
default_md = sha256
req_extensions = req_ext
x509_extensions = req_ext
distinguished_name = req_dn
[ req_ext ]
subjectKeyIdentifier = hash
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, keyCertSign
${extensions}
[ req_dn ]
O = Istio
${name}
`;
  writeFileSync(join(certs, 'root-ca.conf'), conf('basicConstraints = critical, CA:true', 'CN = Root CA'));
  writeFileSync(
    join(certs, 'intermediate.conf'),
    conf(
      'basicConstraints = critical, CA:true, pathlen:0\nsubjectAltName = @san\n[ san ]\nDNS.1 = istiod.istio-system.svc',
      'CN = Intermediate CA\nL = cluster1',
    ),
  );
  /** `openssl x509 -req` of the Makefile: a ten-year certificate for `csr` with the config's extensions, signed as `by` says. */
  const sign = (csr: string, config: string, out: string, by: readonly string[]) =>
    openssl('x509', '-req', '-sha256', '-days', '3650', ...by, '-extensions', 'req_ext', '-extfile', config, '-in', csr, '-out', out);
  openssl('genrsa', '-out', 'root-key.pem', '2048');
  openssl('req', '-sha256', '-new', '-key', 'root-key.pem', '-config', 'root-ca.conf', '-out', 'root-cert.csr');
  sign('root-cert.csr', 'root-ca.conf', 'root-cert.pem', ['-signkey', 'root-key.pem']);
  openssl('genrsa', '-out', 'ca-key.pem', '2048');
  openssl('req', '-sha256', '-new', '-config', 'intermediate.conf', '-key', 'ca-key.pem', '-out', 'cluster-ca.csr');
  sign('cluster-ca.csr', 'intermediate.conf', 'ca-cert.pem', ['-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-CAcreateserial']);
  writeFileSync(join(certs, 'cert-chain.pem'), file('ca-cert.pem') + file('root-cert.pem'));
}

/** `kubectl create secret generic cacerts -n istio-system --from-file=...` (the files as data, base64). */
const cacertsSecret = () => `apiVersion: v1
kind: Secret
metadata: { name: cacerts, namespace: istio-system }
data:
${['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'].map((n) => `  ${n}: ${Buffer.from(file(n)).toString('base64')}`).join('\n')}`;

let local: LocalMesh;
beforeAll(async () => {
  makeCerts();
  writeFileSync(
    join(dir, 'mesh.yaml'),
    meshYaml(
      cacertsSecret(),
      httpbinWorkload('foo', await freePort()),
      `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: sleep, namespace: foo }
spec: { address: 127.0.0.1, ports: { http: ${await freePort()} }, serviceAccount: sleep, labels: { app: sleep } }`,
      `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: foo }
spec: { mtls: { mode: STRICT } }`,
    ),
  );
  local = await startLocal(dir);
}, 90_000);
afterAll(async () => {
  await stopLocal(local, dir);
  rmSync(certs, { recursive: true, force: true });
});

describe('cert-management/plugin-ca-cert', () => {
  test('sleep reaches httpbin over STRICT mTLS with certificates of the plugged-in CA', async () => {
    expect((await fromWorkload(local, 'foo/sleep', 'http://httpbin.foo:8000/ip')).status).toBe(200);
  });

  describe("the chain httpbin's sidecar presents (openssl s_client -showcerts)", () => {
    let chain: string[];
    const text = (pem: string) => execFileSync('openssl', ['x509', '-text', '-noout'], { input: pem }).toString();
    beforeAll(() => {
      const port = local.workloads.get('foo/httpbin')!.inboundPort;
      const run = spawnSync('openssl', ['s_client', '-showcerts', '-connect', `127.0.0.1:${port}`], { input: '', timeout: 10_000 });
      chain = run.stdout.toString().match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];
    });

    test('three certificates: the workload, the CA certificate, the root', () => {
      expect(chain).toHaveLength(3);
    });

    test('the root certificate is the same as the one specified by the administrator (proxy-cert-3.pem)', () => {
      expect(text(chain[2])).toBe(text(file('root-cert.pem')));
    });

    test('the CA certificate is the same as the one specified by the administrator (proxy-cert-2.pem)', () => {
      expect(text(chain[1])).toBe(text(file('ca-cert.pem')));
    });

    test('openssl verify -CAfile <(ca-cert.pem root-cert.pem) proxy-cert-1.pem: OK', () => {
      writeFileSync(join(certs, 'ca-and-root.pem'), file('ca-cert.pem') + file('root-cert.pem'));
      writeFileSync(join(certs, 'proxy-cert-1.pem'), chain[0]);
      expect(openssl('verify', '-CAfile', 'ca-and-root.pem', 'proxy-cert-1.pem').trim()).toBe('proxy-cert-1.pem: OK');
      expect(text(chain[0])).toMatch(/URI:spiffe:\/\/cluster\.local\/ns\/foo\/sa\/\w+/);
    });
  });
});
