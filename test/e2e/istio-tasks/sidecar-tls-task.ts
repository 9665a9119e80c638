/**
 * What both runs of Istio's ingress-sidecar-tls-termination task use (on loopback ports of mast
 * local's, and captured in network namespaces): the task's certificates, its mesh in namespace test,
 * and its outside client's curl.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { join } from 'node:path';

/** The task's openssl commands in `dir`: the example.com CA, httpbin's server certificate and a client's, both signed by it. */
export function makeCertificates(dir: string): void {
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

/** The task's PeerAuthentications, httpbin's Service (a ServiceEntry), httpbin and sleep, and its Sidecar with the files in `dir`. */
export function taskMesh(dir: string, appPort: number, sleepPort: number): string {
  const pem = (file: string) => join(dir, file);
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

export type Outcome = { status: number; headers: http.IncomingHttpHeaders } | { error: string };

/** `curl -IsS [--cacert ca --cert --key] -HHost:httpbin.test.svc.cluster.local <scheme>://…:<port>/status/200` from outside the mesh. */
export function curlHead(
  dir: string,
  scheme: 'https' | 'http',
  at: { readonly address: string; readonly port: number },
  client: { cert: boolean },
): Promise<Outcome> {
  const pem = (file: string) => join(dir, file);
  const host = 'httpbin.test.svc.cluster.local';
  const tls = {
    servername: host,
    ca: readFileSync(pem('example.com.crt')),
    ...(client.cert
      ? { cert: readFileSync(pem('client.test.svc.cluster.local.crt')), key: readFileSync(pem('client.test.svc.cluster.local.key')) }
      : {}),
  };
  const options = {
    host: at.address,
    port: at.port,
    method: 'HEAD',
    path: '/status/200',
    headers: { host },
    agent: false,
    timeout: 10_000,
  };
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
