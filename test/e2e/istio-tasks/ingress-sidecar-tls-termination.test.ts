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
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalMesh } from '../../../runtime/local/local-mesh';
import { freePort } from '../../../runtime/local/local-mesh';
import { tempDir } from '../../support/temp-dir';
import { fromWorkload, startLocal, stopLocal } from '../support';
import { curlHead, makeCertificates, taskMesh } from './sidecar-tls-task';

const dir = tempDir('mast-sidecar-tls-');

let local: LocalMesh | undefined;
const logs: string[] = [];
beforeAll(async () => {
  makeCertificates(dir);
  writeFileSync(join(dir, 'mesh.yaml'), taskMesh(dir, await freePort(), await freePort()));
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

describe('ingress-sidecar-tls-termination', () => {
  test("the Sidecar's ingress listeners are served: one port each for 9080 and 9081, logged", () => {
    expect(ingressPort(9080)).toEqual(expect.any(Number));
    expect(ingressPort(9081)).toEqual(expect.any(Number));
    expect(ingressPort(9080)).not.toBe(ingressPort(9081));
    // mast local says where, as it would print it for a user's curl.
    expect(logs).toContain(`WorkloadEntry test/httpbin: its Sidecar's ingress listener 9080 is served on 127.0.0.1:${ingressPort(9080)}`);
  });

  test("istioctl proxy-config secret's rows (the sidecar's /certs): the listener's files (serial 1, the task's openssl), the workload certificate and the root", async () => {
    const admin = local!.workloads.get('test/httpbin')!.adminPort;
    const rows = (await (await fetch(`http://127.0.0.1:${admin}/certs`)).json()) as Array<{
      name: string;
      type: string;
      serialNumber?: string;
    }>;
    expect(rows.map((r) => [r.name, r.type])).toEqual([
      [`file-cert:${join(dir, 'httpbin.test.svc.cluster.local.crt')}~${join(dir, 'httpbin.test.svc.cluster.local.key')}`, 'Cert Chain'],
      [`file-root:${join(dir, 'example.com.crt')}`, 'CA'],
      ['default', 'Cert Chain'],
      ['ROOTCA', 'CA'],
    ]);
    expect(rows[0].serialNumber).toBe('1');
    expect(rows.every((r) => r.serialNumber)).toBe(true);
  });

  test('verify internal mesh connectivity on port 8080: sleep → http://httpbin:8080/status/200 is 200 (over mTLS)', async () => {
    const before = await httpbinCounter('mast_inbound_mtls_connections_total');
    const reply = await fromWorkload(local!, 'test/sleep', 'http://httpbin:8080/status/200');
    expect(reply.status).toBe(200);
    expect(await httpbinCounter('mast_inbound_mtls_connections_total')).toBe(before + 1);
  });

  test('verify external to internal mesh connectivity on port 8443: curl with the client certificate is 200, TLS ended at the sidecar', async () => {
    const reply = await curlHead(dir, 'https', { address: '127.0.0.1', port: ingressPort(9080) }, { cert: true });
    expect(reply).toEqual({ status: 200, headers: expect.any(Object) });
  });

  test('MUTUAL: the same curl without a client certificate is refused in the handshake (certificate required)', async () => {
    const reply = await curlHead(dir, 'https', { address: '127.0.0.1', port: ingressPort(9080) }, { cert: false });
    expect(reply).toEqual({ error: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
  });

  test('port 8080 does not accept external traffic: plain HTTP to it is reset (STRICT mTLS), no response', async () => {
    const before = await httpbinCounter('mast_inbound_plaintext_refused_total');
    const reply = await curlHead(dir, 'http', { address: '127.0.0.1', port: ingressPort(9081) }, { cert: true });
    expect(reply).toEqual({ error: 'ECONNRESET' });
    expect(await httpbinCounter('mast_inbound_plaintext_refused_total')).toBe(before + 1);
  });
});
