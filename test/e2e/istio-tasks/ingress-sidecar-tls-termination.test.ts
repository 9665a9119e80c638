/**
 * Istio's task traffic-management/ingress/ingress-sidecar-tls-termination on `mast local`: httpbin's
 * sidecar terminates TLS itself (no ingress gateway) on a Sidecar `ingress` listener. The test's
 * mesh in namespace test: PeerAuthentication STRICT for the namespace and, for httpbin, DISABLE on
 * port 9080; httpbin's Service as a ServiceEntry (8443 → targetPort 9080, 8080 → targetPort 9081);
 * httpbin (httpbin.ts) and sleep as WorkloadEntries; the task's Sidecar `ingress-sidecar` with
 * listeners on 9080 (HTTPS, MUTUAL with the task's openssl-made certificates) and 9081 (HTTP).
 *
 * Where mast local differs from a pod: the Sidecar's `tls` files are paths on this machine (the task
 * mounts Secrets at /etc/istio/tls-certs/ with `sidecar.istio.io/userVolumeMount`); `defaultEndpoint`
 * names the app's port of the WorkloadEntry (the task's container port 80); mast local gives each
 * ingress listener a port of its own (`workloads.get(key).ingressPorts[9080]`), where the task's
 * external client reaches the pod's 9080 through the Service's 8443. The internal client (sleep) calls
 * `http://httpbin:8080` through its sidecar's outbound port, as the app of a captured pod does.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { join } from 'node:path';
import type { LocalMesh } from '../../../runtime/local/local-mesh';
import { freePort } from '../../../runtime/local/local-mesh';
import { tempDir } from '../../support/temp-dir';
import { fromWorkload, startLocal, stopLocal } from '../support';

const dir = tempDir('mast-sidecar-tls-');
const pem = (file: string) => join(dir, file);

/** The task's openssl commands: the example.com CA, httpbin's server certificate and a client's, both signed by it. */
function makeCertificates(): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl(
    ...['req', '-x509', '-sha256', '-nodes', '-days', '365', '-newkey', 'rsa:2048'],
    ...['-subj', '/O=example Inc./CN=example.com', '-keyout', 'example.com.key', '-out', 'example.com.crt'],
  );
  for (const [name, org] of [
    ['httpbin.test.svc.cluster.local', 'httpbin organization'],
    ['client.test.svc.cluster.local', 'client organization'],
  ]) {
    openssl('req', '-out', `${name}.csr`, '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${name}/O=${org}`);
    openssl(
      ...['x509', '-req', '-days', '365', '-CA', 'example.com.crt', '-CAkey', 'example.com.key'],
      ...['-set_serial', '1', '-in', `${name}.csr`, '-out', `${name}.crt`],
    );
  }
}

function mesh(appPort: number, sleepPort: number): string {
  return `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: test }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: disable-peer-auth-for-external-mtls-port, namespace: test }
spec:
  selector: { matchLabels: { app: httpbin } }
  mtls: { mode: STRICT }
  portLevelMtls: { 9080: { mode: DISABLE } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin, namespace: test }
spec:
  hosts: [httpbin.test.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - { number: 8443, name: https, protocol: HTTPS, targetPort: 9080 }
  - { number: 8080, name: http, protocol: HTTP, targetPort: 9081 }
  workloadSelector: { labels: { app: httpbin } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: httpbin
  namespace: test
  annotations: { local.mast.dev/run: ${join(__dirname, 'httpbin.ts')} }
spec: { address: 127.0.0.1, ports: { app: ${appPort} }, labels: { app: httpbin, version: v1 }, serviceAccount: httpbin }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: sleep, namespace: test }
spec: { address: 127.0.0.1, ports: { http: ${sleepPort} }, labels: { app: sleep } }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ingress-sidecar, namespace: test }
spec:
  workloadSelector: { labels: { app: httpbin, version: v1 } }
  ingress:
  - port: { number: 9080, protocol: HTTPS, name: external }
    defaultEndpoint: 0.0.0.0:${appPort}
    tls:
      mode: MUTUAL
      privateKey: ${pem('httpbin.test.svc.cluster.local.key')}
      serverCertificate: ${pem('httpbin.test.svc.cluster.local.crt')}
      caCertificates: ${pem('example.com.crt')}
  - port: { number: 9081, protocol: HTTP, name: internal }
    defaultEndpoint: 0.0.0.0:${appPort}
`;
}

let local: LocalMesh | undefined;
const logs: string[] = [];
beforeAll(async () => {
  makeCertificates();
  writeFileSync(join(dir, 'mesh.yaml'), mesh(await freePort(), await freePort()));
  local = await startLocal(dir, logs);
}, 90_000);
afterAll(() => stopLocal(local, dir));

/** The port mast local listens on for httpbin's Sidecar ingress listener `port` (where the Service's targetPort reaches the pod). */
const ingressPort = (port: number) => local!.workloads.get('test/httpbin')!.ingressPorts[port];

/** A counter of httpbin's sidecar (its admin port's Prometheus text), 0 before its first count. */
async function httpbinCounter(name: string): Promise<number> {
  const admin = local!.workloads.get('test/httpbin')!.adminPort;
  const text = await (await fetch(`http://127.0.0.1:${admin}/stats/prometheus`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : 0;
}

type Outcome = { status: number; headers: http.IncomingHttpHeaders } | { error: string };

/** `curl -IsS [--cacert ca --cert --key] -HHost:httpbin.test.svc.cluster.local <scheme>://…:<port>/status/200` from outside the mesh. */
function curlHead(scheme: 'https' | 'http', port: number, client: { cert: boolean }): Promise<Outcome> {
  const host = 'httpbin.test.svc.cluster.local';
  const tls = {
    servername: host,
    ca: readFileSync(pem('example.com.crt')),
    ...(client.cert
      ? { cert: readFileSync(pem('client.test.svc.cluster.local.crt')), key: readFileSync(pem('client.test.svc.cluster.local.key')) }
      : {}),
  };
  const options = { host: '127.0.0.1', port, method: 'HEAD', path: '/status/200', headers: { host }, agent: false, timeout: 10_000 };
  return new Promise((resolve) => {
    const onReply = (res: http.IncomingMessage) => {
      res.resume();
      resolve({ status: res.statusCode!, headers: res.headers });
    };
    const req = scheme === 'https' ? https.request({ ...options, ...tls }, onReply) : http.request(options, onReply);
    req.on('timeout', () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

describe('ingress-sidecar-tls-termination', () => {
  test("the Sidecar's ingress listeners are served: one port each for 9080 and 9081", () => {
    expect(ingressPort(9080)).toEqual(expect.any(Number));
    expect(ingressPort(9081)).toEqual(expect.any(Number));
    expect(ingressPort(9080)).not.toBe(ingressPort(9081));
  });

  test('verify internal mesh connectivity on port 8080: sleep → http://httpbin:8080/status/200 is 200 (over mTLS)', async () => {
    const before = await httpbinCounter('mast_inbound_mtls_connections_total');
    const reply = await fromWorkload(local!, 'test/sleep', 'http://httpbin:8080/status/200');
    expect(reply.status).toBe(200);
    expect(await httpbinCounter('mast_inbound_mtls_connections_total')).toBe(before + 1);
  });

  test('verify external to internal mesh connectivity on port 8443: curl with the client certificate is 200, TLS ended at the sidecar', async () => {
    const reply = await curlHead('https', ingressPort(9080), { cert: true });
    expect(reply).toEqual({ status: 200, headers: expect.any(Object) });
  });

  test('MUTUAL: the same curl without a client certificate is refused in the handshake (certificate required)', async () => {
    const reply = await curlHead('https', ingressPort(9080), { cert: false });
    expect(reply).toEqual({ error: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
  });

  test('port 8080 does not accept external traffic: plain HTTP to it is reset (STRICT mTLS), no response', async () => {
    const before = await httpbinCounter('mast_inbound_plaintext_refused_total');
    const reply = await curlHead('http', ingressPort(9081), { cert: true });
    expect(reply).toEqual({ error: 'ECONNRESET' });
    expect(await httpbinCounter('mast_inbound_plaintext_refused_total')).toBe(before + 1);
  });
});
