/**
 * Istio's task ingress-sidecar-tls-termination with captured traffic (`mast local --intercept`), as
 * in a pod: httpbin and sleep each in a network namespace with the capture rules, the Sidecar's
 * ingress listeners served on the sidecar's inbound port 15006, each connection by the port it was
 * sent to (9080 or 9081, the Service's targetPorts). The outside client connects to httpbin's pod
 * address on those ports from the host; sleep's app calls `http://httpbin:8080` by name, with no proxy
 * settings. Needs root, `ip netns` and iptables; skipped with the reason printed otherwise.
 */
import { execFile } from 'node:child_process';
import { chmodSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, LocalMesh } from '../../../runtime/local/local-mesh';
import { captureUnavailable } from './captured-sleep';
import { tempDir } from '../../support/temp-dir';
import { curlHead, makeCertificates, taskMesh } from './sidecar-tls-task';

const reason = captureUnavailable('ingress-sidecar-tls-termination');

(reason ? describe.skip : describe)('ingress-sidecar-tls-termination, captured', () => {
  const dir = tempDir('mast-sidecar-tls-netns-');
  const logs: string[] = [];
  let local: LocalMesh;
  beforeAll(async () => {
    makeCertificates(dir);
    // The sidecar runs as uid 1337, as in a pod, where the task mounts the Secrets readable to it.
    chmodSync(dir, 0o755);
    for (const file of readdirSync(dir)) chmodSync(join(dir, file), 0o644);
    writeFileSync(join(dir, 'mesh.yaml'), taskMesh(dir, await freePort(), await freePort()));
    local = new LocalMesh({ paths: [dir], gatewayPort: 0, adminPort: 0, debounceMs: 50, log: (l) => logs.push(l), intercept: true });
    await local.start();
    await local.ready(60_000);
  }, 120_000);
  afterAll(() => local?.stop());

  /** httpbin's pod address: the test connects to it from the host, as a client outside the mesh to the pod's ports. */
  const pod = (port: number) => ({ address: local.workloads.get('test/httpbin')!.netns!.address, port });

  /** `curl http://httpbin:8080/status/200` from sleep's namespace: `<status>` or `error <code>`. */
  function fromSleep(url: string): Promise<string> {
    const netns = local.workloads.get('test/sleep')!.netns!.name;
    const code = `require('http').get('${url}',r=>{r.resume();r.on('end',()=>console.log(r.statusCode))}).on('error',e=>console.log('error '+(e.code||e.message)))`;
    return new Promise((resolve, reject) =>
      execFile('ip', ['netns', 'exec', netns, process.execPath, '-e', code], { timeout: 10_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout.trim()),
      ),
    );
  }

  test('verify internal mesh connectivity on port 8080: sleep → http://httpbin:8080/status/200 is 200', async () => {
    expect(await fromSleep('http://httpbin:8080/status/200')).toBe('200');
  });

  test("verify external to internal mesh connectivity on port 8443 (the pod's 9080): with the client certificate 200, without one refused", async () => {
    expect(await curlHead(dir, 'https', pod(9080), { cert: true })).toEqual({ status: 200, headers: expect.any(Object) });
    expect(await curlHead(dir, 'https', pod(9080), { cert: false })).toEqual({ error: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
  });

  test("port 8080 (the pod's 9081) does not accept external traffic: plain HTTP is reset (STRICT mTLS)", async () => {
    expect(await curlHead(dir, 'http', pod(9081), { cert: true })).toEqual({ error: 'ECONNRESET' });
  });
});
