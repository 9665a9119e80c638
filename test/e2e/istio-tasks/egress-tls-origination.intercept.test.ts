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
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../support/temp-dir';
import { cnnServiceEntry, originateTlsForPort80 } from './cnn-mesh';
import { captureUnavailable, capturedSleep } from './captured-sleep';

const reason = captureUnavailable('egress-tls-origination');

(reason ? describe.skip : describe)('egress-tls-origination, the app’s own HTTPS (captured)', () => {
  const sleep = capturedSleep();
  let caFile = '';
  beforeAll(() => {
    // The DestinationRule's caCertificates is a file the sidecar reads: captured sidecars run as uid
    // 1337, as in a pod, where it would be mounted readable for the proxy.
    const dir = tempDir('mast-cnn-ca-');
    chmodSync(dir, 0o755);
    caFile = join(dir, 'ca.crt');
    copyFileSync(sleep.cnn.ca, caFile);
    chmodSync(caFile, 0o644);
  });

  /**
   * `curl -sSL -o /dev/null -D - <url>` from sleep: the status of each response, a redirect followed
   * once (`301 200`), or `error <code>`.
   */
  const curlFollowing = (url: string) =>
    sleep.run(
      `const get=(u,seen)=>require(u.startsWith('https')?'https':'http').get(u,r=>{r.resume();seen.push(r.statusCode);if(r.statusCode===301&&seen.length<2)get(r.headers.location,seen);else r.on('end',()=>console.log(seen.join(' ')))}).on('error',e=>console.log('error '+(e.code||e.message)));get(${JSON.stringify(url)},[])`,
    );
  const serviceEntry = () => cnnServiceEntry(sleep.cnn);

  test('the ServiceEntry alone: curl -L gets 301, then 200 over the app’s own HTTPS', async () => {
    await sleep.mesh.edit('mesh/cnn.yaml', serviceEntry);
    const before = sleep.cnn.hits.length;
    expect(await curlFollowing('http://edition.cnn.com/politics')).toBe('301 200');
    expect(sleep.cnn.hits.slice(before)).toEqual([
      { method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: false },
      { method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: true, serverName: 'edition.cnn.com' },
    ]);
  });

  test('TLS origination for port 80: the first answer is 200, the sidecar having asked over TLS', async () => {
    await sleep.mesh.edit('mesh/cnn.yaml', () => `${serviceEntry()}---\n${originateTlsForPort80(caFile)}`);
    const before = sleep.cnn.hits.length;
    expect(await curlFollowing('http://edition.cnn.com/politics')).toBe('200');
    expect(sleep.cnn.hits.slice(before)).toEqual([
      { method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: true, serverName: 'edition.cnn.com' },
    ]);
  });

  test('an app asking for https:// works as before (its TLS passed on by server name)', async () => {
    const before = sleep.cnn.hits.length;
    expect(await curlFollowing('https://edition.cnn.com/politics')).toBe('200');
    expect(sleep.cnn.hits.slice(before)).toHaveLength(1);
  });
});
