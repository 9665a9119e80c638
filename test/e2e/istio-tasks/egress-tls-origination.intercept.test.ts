/**
 * Istio's task traffic-management/egress/egress-tls-origination, the steps where sleep itself
 * speaks HTTPS, with captured traffic (`mast local --intercept`): sleep is an app in productpage's
 * network namespace; edition.cnn.com is a server of the test on this machine's end of that
 * namespace's link (external-host.ts: plain HTTP answers 301 to https, HTTPS 200), its CA trusted
 * by the app. The documented outcomes: with the ServiceEntry alone `curl -L` gets 301 and follows it
 * over HTTPS to 200 (two requests, the second the app's own TLS, which the sidecar passes on by its
 * server name); with port 80 sent to the `tls-origination` subset the sidecar originates TLS and
 * the first answer is 200 (no redirect); an app asking for https:// keeps working as before. Needs
 * root, `ip netns` and iptables; skipped with the reason printed otherwise.
 */
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { interceptUnavailable } from '../../../runtime/local/netns';
import { ensureCommand } from '../../support/apt';
import { tempDir } from '../../support/temp-dir';
import { startExample, type Running } from '../support';
import { cnnServiceEntry } from './cnn-mesh';
import { startExternalHost, type ExternalHost } from './external-host';

const reason = process.getuid?.() === 0 ? (ensureCommand('iptables-restore', 'iptables') ?? interceptUnavailable()) : 'needs root';
if (reason) console.log(`egress-tls-origination with --intercept skipped: ${reason}`);

(reason ? describe.skip : describe)('egress-tls-origination, the app’s own HTTPS (captured)', () => {
  let mesh: Running;
  let cnn: ExternalHost;
  let netns: string;
  let caFile: string;
  beforeAll(async () => {
    mesh = await startExample({ intercept: true });
    const pp = mesh.mesh.workloads.get('default/productpage-v1')!;
    netns = pp.netns!.name;
    cnn = await startExternalHost(pp.netns!.gateway, ['edition.cnn.com']);
    // The DestinationRule's caCertificates is a file the sidecar reads: captured sidecars run as uid
    // 1337, as in a pod, where it would be mounted readable for the proxy.
    const dir = tempDir('mast-cnn-ca-');
    chmodSync(dir, 0o755);
    caFile = join(dir, 'ca.crt');
    copyFileSync(cnn.ca, caFile);
    chmodSync(caFile, 0o644);
  }, 90_000);
  afterAll(async () => {
    await mesh?.stop();
    await cnn?.close();
  });

  /**
   * `curl -sSL -o /dev/null -D - <url>` from sleep: the status of each response, a redirect followed
   * once (`301 200`), or `error <code>`.
   */
  function curlFollowing(url: string): Promise<string> {
    const code = `const get=(u,seen)=>require(u.startsWith('https')?'https':'http').get(u,r=>{r.resume();seen.push(r.statusCode);if(r.statusCode===301&&seen.length<2)get(r.headers.location,seen);else r.on('end',()=>console.log(seen.join(' ')))}).on('error',e=>console.log('error '+(e.code||e.message)));get(${JSON.stringify(url)},[])`;
    return new Promise((resolve, reject) =>
      execFile(
        'ip',
        ['netns', 'exec', netns, process.execPath, '-e', code],
        { timeout: 10_000, env: { ...process.env, NODE_EXTRA_CA_CERTS: cnn.ca } },
        (err, stdout) => (err ? reject(err) : resolve(stdout.trim())),
      ),
    );
  }

  const serviceEntry = () => cnnServiceEntry(cnn);
  /** Port 80 to the `tls-origination` subset on 443, whose SIMPLE TLS checks the test's CA. */
  const origination = () => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edition-cnn-com, namespace: default }
spec:
  hosts: [edition.cnn.com]
  http:
  - match: [{ port: 80 }]
    route:
    - destination: { host: edition.cnn.com, subset: tls-origination, port: { number: 443 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: edition-cnn-com, namespace: default }
spec:
  host: edition.cnn.com
  subsets:
  - name: tls-origination
    trafficPolicy:
      portLevelSettings:
      - port: { number: 443 }
        tls: { mode: SIMPLE, caCertificates: ${caFile} }
`;

  test('the ServiceEntry alone: curl -L gets 301, then 200 over the app’s own HTTPS', async () => {
    await mesh.edit('mesh/cnn.yaml', serviceEntry);
    const before = cnn.hits.length;
    expect(await curlFollowing('http://edition.cnn.com/politics')).toBe('301 200');
    expect(cnn.hits.slice(before)).toEqual([
      { method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: false },
      { method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: true, serverName: 'edition.cnn.com' },
    ]);
  });

  test('TLS origination for port 80: the first answer is 200, the sidecar having asked over TLS', async () => {
    await mesh.edit('mesh/cnn.yaml', () => `${serviceEntry()}---\n${origination()}`);
    const before = cnn.hits.length;
    expect(await curlFollowing('http://edition.cnn.com/politics')).toBe('200');
    expect(cnn.hits.slice(before)).toEqual([
      { method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: true, serverName: 'edition.cnn.com' },
    ]);
  });

  test('an app asking for https:// works as before (its TLS passed on by server name)', async () => {
    const before = cnn.hits.length;
    expect(await curlFollowing('https://edition.cnn.com/politics')).toBe('200');
    expect(cnn.hits.slice(before)).toHaveLength(1);
  });
});
