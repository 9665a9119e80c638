/**
 * Istio's authorization task authz-td-migration (istio.io content/en/docs/tasks/security/
 * authorization/authz-td-migration/): an AuthorizationPolicy naming `old-td/ns/sleep-allow/sa/sleep`
 * keeps working across a move of the mesh to trust domain `new-td` only with `trustDomainAliases`.
 *
 * Each of the task's installs is one `mast local` run with the mesh config of that install (the
 * trust domain is read at start, as istiod reads it, and every workload gets a new certificate in it:
 * the task's "delete the secrets, redeploy the pods"). httpbin (httpbin.ts) in default; sleep with
 * service account `sleep` in default and in sleep-allow (a sidecar only: the task's curl is a
 * request to its sidecar's outbound port).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../runtime/local/local-mesh';
import { fromWorkload, startLocal, stopLocal } from '../support';
import { meshConfigDoc } from '../../support/mesh-yaml';
import { httpbinWorkload } from './httpbin-mesh';

const sleep = (namespace: string, port: number) => `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: sleep, namespace: ${namespace} }
spec: { address: 127.0.0.1, ports: { http: ${port} }, serviceAccount: sleep, labels: { app: sleep } }
`;

// The task's policy, as written: deny all to httpbin except GET from sleep in sleep-allow, in old-td.
const POLICY = `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: service-httpbin.default.svc.cluster.local, namespace: default }
spec:
  rules:
  - from: [{ source: { principals: [old-td/ns/sleep-allow/sa/sleep] } }]
    to: [{ operation: { methods: [GET] } }]
  selector: { matchLabels: { app: httpbin } }
`;

/** One install of the task: `mast local` with this mesh config; the two sleeps' curl to httpbin. */
async function install(mesh: string, policy = POLICY): Promise<{ fromDefault: number; fromSleepAllow: number; identity: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-td-'));
  const files = `${meshConfigDoc(mesh)}
---
${httpbinWorkload('default', await freePort())}${sleep('default', await freePort())}${sleep('sleep-allow', await freePort())}${policy}`;
  writeFileSync(join(dir, 'mesh.yaml'), files);
  const local = await startLocal(dir);
  try {
    const curl = async (ns: string) => (await fromWorkload(local, `${ns}/sleep`, 'http://httpbin.default:8000/ip')).status;
    return {
      fromDefault: await curl('default'),
      fromSleepAllow: await curl('sleep-allow'),
      identity: local.mastd.ca!.trustDomain,
    };
  } finally {
    await stopLocal(local, dir);
  }
}

describe('authorization/authz-td-migration', () => {
  test('before you begin: with trust domain old-td, sleep in default is denied (403) and sleep in sleep-allow allowed (200)', async () => {
    expect(await install('trustDomain: old-td')).toEqual({ fromDefault: 403, fromSleepAllow: 200, identity: 'old-td' });
  }, 90_000);

  test('migrate without trust domain aliases: with new-td both are denied (403), the policy names old-td', async () => {
    expect(await install('trustDomain: new-td')).toEqual({ fromDefault: 403, fromSleepAllow: 403, identity: 'new-td' });
  }, 90_000);

  test('migrate with trust domain aliases [old-td]: sleep in sleep-allow is allowed again, without changing the policy', async () => {
    expect(await install('trustDomain: new-td\ntrustDomainAliases: [old-td]')).toEqual({
      fromDefault: 403,
      fromSleepAllow: 200,
      identity: 'new-td',
    });
  }, 90_000);
});
