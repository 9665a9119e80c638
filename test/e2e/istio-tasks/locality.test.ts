/**
 * Istio's locality load-balancing tasks (traffic-management/locality-load-balancing: distribute and
 * failover) on `mast local`: helloworld in region1/zone1, region1/zone2, region2/zone3 and
 * region3/zone4 as local workloads (WorkloadEntry `locality`), and the task's `sleep` client in region1/zone1 (its sidecar
 * gets its WorkloadEntry's locality, as a pod's from its node). The test sends what the task's
 * `curl helloworld.sample:5000/hello` sends, to sleep's sidecar outbound port. The task drains a
 * zone's proxy to make it fail; here the first zone's app answers 503 (outlier detection ejects it),
 * and the next failovers stop a zone's workload outright (it leaves the registry).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type LocalMesh } from '../../../runtime/local/local-mesh';
import { startLocal, stopLocal } from '../support';
import { HOST, helloworldRule, helloworldService } from '../../fixtures/helloworld-locality';
import { until } from '../../support/poll';

const ZONES = ['region1/zone1', 'region1/zone2', 'region2/zone3', 'region3/zone4'] as const;
const APP = join(__dirname, 'helloworld.ts');

let dir: string;
let local: LocalMesh;
const logs: string[] = [];
const ports: Record<string, number> = {};
const failing = (zone: string) => join(dir, `${zone.replace('/', '.')}.failing`);
const stopped = (zone: string) => join(dir, `${zone.replace('/', '.')}.stopped`);

const workload = (name: string, namespace: string, locality: string, labels: string, port: number, env: string) => `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${name}
  namespace: ${namespace}
  annotations: { local.mast.dev/run: ${APP}, local.mast.dev/env: "${env}" }
spec:
  address: 127.0.0.1
  ports: { http: ${port} }
  labels: ${labels}
  locality: ${locality}
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mast-locality-'));
  for (const zone of ZONES) ports[zone] = await freePort();
  const helloworlds = ZONES.map((zone) => {
    const version = zone.replace('/', '.');
    const env = `VERSION=${version} INSTANCE=helloworld-${version} FAILING_FILE=${failing(zone)} STOPPED_FILE=${stopped(zone)}`;
    return workload(
      `helloworld-${version.replace('.', '-')}`,
      'sample',
      zone,
      `{ app: helloworld, version: ${version} }`,
      ports[zone],
      env,
    );
  });
  writeFileSync(
    join(dir, 'mesh.yaml'),
    `${helloworldService()}
${helloworlds.join('')}${workload('sleep', 'default', 'region1/zone1', '{ app: sleep }', await freePort(), 'VERSION=sleep')}`,
  );
  local = await startLocal(dir, logs);
}, 90_000);
afterAll(() => stopLocal(local, dir));

/** `kubectl apply` of the task's DestinationRule: waits until every proxy runs the snapshot with it. */
async function applyRule(trafficPolicy: string): Promise<void> {
  const before = local.mastd.snapshot?.version;
  writeFileSync(join(dir, 'rule.yaml'), helloworldRule(trafficPolicy));
  await until(
    'the DestinationRule applied by every proxy',
    async () => local.mastd.snapshot?.version !== before && (await local.notReady()).length === 0,
    15_000,
  );
  expect(local.mastd.rejected).toEqual([]);
}

/** `curl -sL helloworld.sample:5000/hello` from the sleep pod: through its sidecar's outbound port. */
function hello(): Promise<string> {
  const sleep = local.workloads.get('default/sleep');
  if (!sleep) throw new Error('no sleep workload');
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port: sleep.outboundPort, path: `http://${HOST}:5000/hello`, headers: { host: `${HOST}:5000` }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(res.statusCode === 200 ? (/version: (\S+),/.exec(body)?.[1] ?? body) : `status ${res.statusCode}`));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
  });
}

/** Stops a zone's workload for good: its app exits, and exits again at each restart (a crash loop). */
async function stop(zone: string): Promise<void> {
  writeFileSync(stopped(zone), '');
  await new Promise<void>((resolve, reject) =>
    http
      .get({ host: '127.0.0.1', port: ports[zone], path: '/exit', agent: false }, (r) => r.resume().on('end', resolve))
      .on('error', reject),
  );
}

/** Which version answered each of `n` calls, one after another. */
async function tally(n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const v = await hello();
    out[v] = (out[v] ?? 0) + 1;
  }
  return out;
}

describe('locality weighted distribution', () => {
  test('from region1/zone1: 70 % to zone1, 20 % to zone2, 10 % to region3/zone4, none to region2/zone3', async () => {
    await applyRule(`    loadBalancer:
      localityLbSetting:
        enabled: true
        distribute:
        - from: region1/zone1/*
          to:
            "region1/zone1/*": 70
            "region1/zone2/*": 20
            "region3/zone4/*": 10
    outlierDetection: { consecutive5xxErrors: 100, interval: 1s, baseEjectionTime: 1m }
`);
    const got = await tally(300);
    expect(Object.keys(got).sort()).toEqual(['region1.zone1', 'region1.zone2', 'region3.zone4']);
    // 300 draws: zone1 mean 210 (sd 7.9), zone2 60 (sd 6.9); each bound 7.5 sd away (a chance below
    // 1e-13 of failing by luck), and still apart from an even three-way split (100 each).
    expect(got['region1.zone1']).toBeGreaterThan(150);
    expect(got['region1.zone1']).toBeLessThan(270);
    expect(got['region1.zone2']).toBeGreaterThan(8);
    expect(got['region1.zone2']).toBeLessThan(112);
  }, 60_000);
});

describe('locality failover', () => {
  beforeAll(() =>
    applyRule(`    connectionPool: { http: { maxRequestsPerConnection: 1 } }
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        enabled: true
        failover: [{ from: region1, to: region2 }]
    outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 10m }
`),
  );

  test('traffic stays in region1/zone1', async () => {
    expect(await tally(20)).toEqual({ 'region1.zone1': 20 });
  }, 30_000);

  test('zone1 fails: the first call fails, then every call goes to region1/zone2', async () => {
    writeFileSync(failing('region1/zone1'), '');
    await until('a call answered by region1.zone2', async () => (await hello()) === 'region1.zone2', 10_000);
    expect(await tally(20)).toEqual({ 'region1.zone2': 20 });
  }, 30_000);

  test('zone2 stops: every call goes to region2/zone3, the failover region', async () => {
    await stop('region1/zone2');
    await until('a call answered by region2.zone3', async () => (await hello()) === 'region2.zone3', 15_000);
    expect(await tally(20)).toEqual({ 'region2.zone3': 20 });
  }, 40_000);

  test('region2 stops: every call goes to region3/zone4, the region no failover names', async () => {
    await stop('region2/zone3');
    await until('a call answered by region3.zone4', async () => (await hello()) === 'region3.zone4', 15_000);
    expect(await tally(20)).toEqual({ 'region3.zone4': 20 });
  }, 40_000);
});
