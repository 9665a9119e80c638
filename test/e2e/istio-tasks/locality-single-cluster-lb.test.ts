/**
 * Istio's task traffic-management/locality-load-balancing/single-cluster-lb on `mast local`: one
 * cluster whose nodes carry only a zone label (us-south10, us-south12, us-south13), helloworld in
 * each zone and sleep in us-south10, all in namespace default. Here the zones are the WorkloadEntries'
 * `topology.kubernetes.io/zone` labels (a pod's node's, as istiod reads them), so every locality has a
 * zone and no region. The task's DestinationRule: ROUND_ROBIN, one request per connection, outlier
 * detection, and `failover: [{ from: us-south10, to: us-south12 }]`.
 *
 * What this asserts is Istio's code, where the page's sample output differs: Istio orders endpoints
 * by region, then zone, then subzone, and `failover` names regions. With no region anywhere, both
 * other zones are one level below the client's (same region "", another zone), and the failover rule
 * (from region us-south10) matches no client's region, so it changes nothing. Once us-south10 fails,
 * calls go to us-south12 AND us-south13, shared round robin; the page shows us-south12 only.
 * The task drains us-south10's proxy; here its app answers 503 (helloworld.ts), which outlier
 * detection ejects after the first failing call, as the drained proxy's refused connections are.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type LocalMesh } from '../../../runtime/local/local-mesh';
import { until } from '../../support/poll';
import { serviceEntryDoc } from '../../support/mesh-yaml';
import { startLocal, stopLocal } from '../support';

const ZONES = ['us-south10', 'us-south12', 'us-south13'] as const;
const HOST = 'helloworld.default.svc.cluster.local';

let dir: string;
let local: LocalMesh;
const logs: string[] = [];
const failing = (zone: string) => join(dir, `${zone}.failing`);

const workload = (name: string, zone: string, app: string, port: number, env: string, run: boolean) => `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${name}
  annotations: { ${run ? `local.mast.dev/run: ${join(__dirname, 'helloworld.ts')}, ` : ''}local.mast.dev/env: "${env}" }
spec:
  address: 127.0.0.1
  ports: { http: ${port} }
  labels: { app: ${app}, version: v1, topology.kubernetes.io/zone: ${zone} }
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mast-single-cluster-lb-'));
  const helloworlds: string[] = [];
  for (const zone of ZONES)
    helloworlds.push(
      workload(
        `helloworld-${zone}`,
        zone,
        'helloworld',
        await freePort(),
        `INSTANCE=helloworld-${zone} FAILING_FILE=${failing(zone)}`,
        true,
      ),
    );
  const sleep = workload('sleep-us-south10', 'us-south10', 'sleep', await freePort(), '', false);
  writeFileSync(join(dir, 'mesh.yaml'), `${serviceEntryDoc({ name: 'helloworld', port: 5000 })}\n${helloworlds.join('')}${sleep}`);
  local = await startLocal(dir, logs);
}, 90_000);
afterAll(() => stopLocal(local, dir));

/** The task's DestinationRule: waits until every proxy runs the snapshot with it. */
async function applyRule(): Promise<void> {
  const before = local.mastd.snapshot?.version;
  writeFileSync(
    join(dir, 'rule.yaml'),
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: helloworld, namespace: default }
spec:
  host: ${HOST}
  trafficPolicy:
    connectionPool: { http: { maxRequestsPerConnection: 1 } }
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        enabled: true
        failover: [{ from: us-south10, to: us-south12 }]
    outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 1m }
`,
  );
  await until(
    'the DestinationRule applied by every proxy',
    async () => local.mastd.snapshot?.version !== before && (await local.notReady()).length === 0,
    15_000,
  );
  expect(local.mastd.rejected).toEqual([]);
}

/** `curl -sSL helloworld.default:5000/hello` from sleep: the instance that answered, or the status. */
function hello(): Promise<string> {
  const sleep = local.workloads.get('default/sleep-us-south10');
  if (!sleep) throw new Error('no sleep workload');
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port: sleep.outboundPort,
        path: 'http://helloworld.default:5000/hello',
        headers: { host: 'helloworld.default:5000' },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(res.statusCode === 200 ? (/instance: (\S+)/.exec(body)?.[1] ?? body) : `status ${res.statusCode}`));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
  });
}

async function tally(n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const v = await hello();
    out[v] = (out[v] ?? 0) + 1;
  }
  return out;
}

describe('locality-load-balancing/single-cluster-lb', () => {
  beforeAll(() => applyRule(), 30_000);

  test('verify traffic stays in us-south10: every call is answered there', async () => {
    expect(await tally(20)).toEqual({ 'helloworld-us-south10': 20 });
  }, 30_000);

  test('us-south10 fails: after the first failing call, us-south12 and us-south13 share the calls (Istio: same empty region, the failover rule names none)', async () => {
    writeFileSync(failing('us-south10'), '');
    // "The first call will fail, which triggers the failover": outlier detection ejects us-south10 on it.
    expect(await hello()).toBe('status 503');
    const got = await tally(40);
    expect(Object.keys(got).sort()).toEqual(['helloworld-us-south12', 'helloworld-us-south13']);
    // Round robin over two endpoints at one priority: about half each; 40 calls, each zone at least 10.
    expect(got['helloworld-us-south12']).toBeGreaterThanOrEqual(10);
    expect(got['helloworld-us-south13']).toBeGreaterThanOrEqual(10);
  }, 40_000);
});
