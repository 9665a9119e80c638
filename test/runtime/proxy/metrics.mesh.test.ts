/**
 * Istio's standard metrics across two sidecars over mTLS: productpage's sidecar reports what it sent
 * (reporter="source"), ratings' what it received (reporter="destination"), each naming both
 * workloads as mastd's pushed metadata and the verified certificates say. Real proxies on loopback,
 * configs compiled from mesh YAML as mastd compiles them.
 */
import { spawnSync } from 'node:child_process';
import { loadYaml } from '../../../api';
import { buildIndex, makeSnapshot } from '../../../runtime/compile';
import { freePort } from '../../../runtime/local/local-mesh';
import type { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { meshCa } from '../../security/pki';
import { meshSidecar } from '../../support/mesh-sidecar';
import { meshYaml, serviceEntryDoc, workloadEntryDoc } from '../../support/mesh-yaml';
import { backend, get, until } from '../../support/proxy';

const mesh = (ratingsInbound: number) =>
  meshYaml(
    serviceEntryDoc({ name: 'ratings', port: 9080 }),
    serviceEntryDoc({ name: 'productpage', port: 9080 }),
    workloadEntryDoc({ app: 'ratings', version: 'v1', port: ratingsInbound, serviceAccount: 'ratings', mtls: true }),
    workloadEntryDoc({ app: 'productpage', version: 'v1', port: 1, serviceAccount: 'productpage', mtls: true }),
  );

/**
 * `promtool check metrics`: exit 1 on a parse error, 3 with lint findings (their lines). The one
 * finding expected is the unit Istio's duration histogram is named in (milliseconds, not seconds).
 */
function promtoolFindings(text: string): string[] {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 && r.status !== 3) throw new Error(`promtool rejected the exposition: ${r.stdout}${r.stderr}`);
  return `${r.stdout}${r.stderr}`.split('\n').filter(Boolean);
}
const ISTIO_UNIT_FINDINGS = ['istio_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"'];
/** Debian's prometheus package (.ci/run installs it when it can): without it, the parser test is skipped, not passed. */
const HAS_PROMTOOL = !spawnSync('promtool', ['--version'], { encoding: 'utf8' }).error;
/** The two sidecars' expositions, for Prometheus' own parser below. */
const expositions: string[] = [];

const proxies: MeshProxy[] = [];
afterAll(() => Promise.all(proxies.map((p) => p.drain(50))));

/** `istio_requests_total`'s samples as label maps with their value. */
function requests(text: string): Array<Record<string, string> & { value: string }> {
  return [...text.matchAll(/^istio_requests_total\{(.*)\} (\d+)$/gm)].map(
    ([, labels, value]) =>
      ({ ...Object.fromEntries([...labels.matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]])), value }) as never,
  );
}

test('both reporters name both workloads: principal, app, version, canonical labels, service, mTLS', async () => {
  const app = await backend('ratings');
  const ca = await meshCa();
  const inboundPort = await freePort();
  const objects = loadYaml(mesh(inboundPort)).objects;
  const index = buildIndex(makeSnapshot(objects, 'v1'));
  const start = async (identity: Parameters<typeof meshSidecar>[2], workloadName: string) => {
    const { proxy } = await meshSidecar(ca, index, identity, workloadName);
    proxies.push(proxy);
    return proxy;
  };
  // The workload names the proxies start with are their `app` labels: mastd's table names them better.
  const ratings = await start(
    {
      mode: 'sidecar',
      namespace: 'default',
      labels: { app: 'ratings', version: 'v1' },
      serviceAccount: 'ratings',
      inbound: { port: inboundPort, appPort: app.port },
    },
    'ratings',
  );
  const productpage = await start(
    {
      mode: 'sidecar',
      namespace: 'default',
      labels: { app: 'productpage', version: 'v1' },
      serviceAccount: 'productpage',
      outboundPort: 0,
    },
    'productpage',
  );
  const outbound = productpage.boundPort(productpage.config!.listeners.find((l) => l.trafficDirection === 'OUTBOUND')!.name)!;
  try {
    for (let i = 0; i < 3; i++) expect((await get(outbound, '/ratings/0', { host: 'ratings:9080' })).status).toBe(200);
    expect(app.seen).toHaveLength(3);
    await until(
      'both sides counted',
      () => requests(ratings.renderMetrics()).length > 0 && requests(productpage.renderMetrics()).length > 0,
    );
    const common = {
      source_workload: 'productpage-v1',
      source_workload_namespace: 'default',
      source_principal: 'spiffe://cluster.local/ns/default/sa/productpage',
      source_app: 'productpage',
      source_version: 'v1',
      source_canonical_service: 'productpage',
      source_canonical_revision: 'v1',
      source_cluster: 'Kubernetes',
      destination_workload: 'ratings-v1',
      destination_workload_namespace: 'default',
      destination_principal: 'spiffe://cluster.local/ns/default/sa/ratings',
      destination_app: 'ratings',
      destination_version: 'v1',
      destination_service: 'ratings.default.svc.cluster.local',
      destination_service_name: 'ratings',
      destination_service_namespace: 'default',
      destination_canonical_service: 'ratings',
      destination_canonical_revision: 'v1',
      destination_cluster: 'Kubernetes',
      request_protocol: 'http',
      response_code: '200',
      response_flags: '-',
      value: '3',
    };
    expect(requests(productpage.renderMetrics())).toEqual([{ reporter: 'source', ...common, connection_security_policy: 'unknown' }]);
    expect(requests(ratings.renderMetrics())).toEqual([{ reporter: 'destination', ...common, connection_security_policy: 'mutual_tls' }]);
    expositions.push(productpage.renderMetrics(), ratings.renderMetrics());
  } finally {
    await app.close();
  }
});

(HAS_PROMTOOL ? test : test.skip)("Prometheus' own parser (promtool) reads both sidecars' expositions", () => {
  expect(expositions).toHaveLength(2);
  for (const text of expositions) expect(promtoolFindings(text)).toEqual(ISTIO_UNIT_FINDINGS);
});
