/**
 * Istio's telemetry-api task (istio.io content/en/docs/tasks/observability/logs/telemetry-api/) with
 * its `otel` provider, and the otel-provider task's Telemetry, on one `mast local`: sleep and httpbin
 * (httpbin.ts) in default, both with sidecars. The test plays the OpenTelemetry collector: an OTLP/gRPC
 * receiver on loopback (test/support/otlp-receiver.ts). The provider is the task's
 * (samples/open-telemetry/loki/iop.yaml: `opentelemetry-collector.istio-system.svc.cluster.local`
 * port 4317, labels pod, namespace, cluster, mesh), as written; the collector's Service is a
 * ServiceEntry whose endpoint is the receiver (mast local has no Kubernetes Services), and the proxies
 * reach it there as istiod's LookupCluster finds the provider's cluster.
 *
 * Steps, each replacing the last (a workload's Telemetry is one per level): the root Telemetry
 * `mesh-logging-default` naming otel → one record per request from each proxy, Istio's TEXT format as
 * the body; `disable-sleep-logging` → none from sleep; `disable-httpbin-logging` (mode SERVER) → none
 * from httpbin; `filter-sleep-logging` (`response.code >= 500`) → only the 5xx from sleep. Then the
 * otel-provider task's `sleep-logging` alone → records from sleep only. A second provider to the same
 * collector (`witness`) shows, in the same queue, that nothing was held back.
 * Not here: Loki, and the `cluster`/`mesh` labels' values (ISTIO_META_CLUSTER_ID and
 * ISTIO_META_MESH_ID are not set on mast's sidecars: they print `-`).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalMesh } from '../../../runtime/local/local-mesh';
import { until } from '../../support/poll';
import { meshConfigDoc, meshYaml, serviceEntryDoc } from '../../support/mesh-yaml';
import type { DecodedLogRecord } from '../../support/otlp-decode';
import { OtlpGrpcReceiver } from '../../support/otlp-receiver';
import { fromWorkload, startLocal, stopLocal } from '../support';
import { sleepAndHttpbin } from './httpbin-mesh';

const telemetry = (name: string, namespace: string, spec: string) => `apiVersion: telemetry.istio.io/v1alpha1
kind: Telemetry
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${spec}`;

// The task's first step: the otel provider for the whole mesh.
const MESH_LOGGING_DEFAULT = telemetry('mesh-logging-default', 'istio-system', '  accessLogging:\n  - providers:\n    - name: otel');

const COLLECTOR = 'opentelemetry-collector.istio-system.svc.cluster.local';

/** The task's mesh config (iop.yaml's extensionProviders) and a witness provider beside it, to the same collector. */
const meshConfig = () =>
  meshConfigDoc(`extensionProviders:
- name: otel
  envoyOtelAls:
    service: ${COLLECTOR}
    port: 4317
    logFormat:
      labels:
        pod: "%ENVIRONMENT(POD_NAME)%"
        namespace: "%ENVIRONMENT(POD_NAMESPACE)%"
        cluster: "%ENVIRONMENT(ISTIO_META_CLUSTER_ID)%"
        mesh: "%ENVIRONMENT(ISTIO_META_MESH_ID)%"
- name: witness
  envoyOtelAls:
    service: ${COLLECTOR}
    port: 4317
    logFormat: { text: "witness %REQ(:PATH)%", labels: { pod: "%ENVIRONMENT(POD_NAME)%", witness: "yes" } }`);

/** Istio's default TEXT format's body for sleep → httpbin GET /status/<code> (with its newline, as Envoy sends it). */
const body = (code: number, cluster: RegExp) =>
  new RegExp(
    `^\\[\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\] "GET /status/${code} HTTP/1\\.1" ${code} - via_upstream - "-" 0 \\d+ \\d+ - ` +
      `"[^"]+" "curl/8\\.5\\.0" "[0-9a-f-]{36}" "httpbin:8000" "127\\.0\\.0\\.1:\\d+" ${cluster.source} - \\S+ 127\\.0\\.0\\.1:\\d+ - \\S+\\n$`,
  );
const OUTBOUND = /outbound\|8000\|\|httpbin\.default\.svc\.cluster\.local/;
const INBOUND = /inbound\|\S+/;

let dir = '';
let local: LocalMesh | undefined;
let workloads = '';
const collector = new OtlpGrpcReceiver();

const attrs = (r: DecodedLogRecord) => Object.fromEntries(r.attributes);
/** The records of the task's provider (not the witness) from one workload's proxy, from index `from` on. */
const recordsOf = (pod: string, from: number) =>
  collector.records.slice(from).filter((r) => attrs(r).pod === pod && attrs(r).witness === undefined && r.body?.includes('/status/'));
const witnessesOf = (pod: string, from: number) =>
  collector.records.slice(from).filter((r) => attrs(r).pod === pod && attrs(r).witness === 'yes');

const curl = async (code: number) => {
  const r = await fromWorkload(local!, 'sleep', `http://httpbin:8000/status/${code}`, { 'user-agent': 'curl/8.5.0' });
  expect(r.status).toBe(code);
};

/** Rewrites the mesh file with the root Telemetry and `extra`, and waits until every proxy runs it. */
const apply = (...extra: string[]) => applyDocs(MESH_LOGGING_DEFAULT, ...extra);
async function applyDocs(...docs: string[]): Promise<void> {
  const before = local!.mastd.snapshot?.version;
  writeFileSync(join(dir, 'mesh.yaml'), meshYaml(workloads, ...docs));
  await until(
    'the new Telemetry applied',
    async () => local!.mastd.snapshot?.version !== before && (await local!.notReady()).length === 0,
    15_000,
  );
  expect(local!.mastd.rejected).toEqual([]);
}

beforeAll(async () => {
  await collector.listen();
  dir = mkdtempSync(join(tmpdir(), 'mast-otel-log-'));
  workloads = meshYaml(
    meshConfig(),
    // The collector's Service (samples/open-telemetry/loki/otel.yaml: grpc-otlp 4317), its endpoint the test's receiver.
    serviceEntryDoc({
      name: 'opentelemetry-collector',
      namespace: 'istio-system',
      port: 4317,
      protocol: 'GRPC',
      endpoints: [collector.port],
    }),
    await sleepAndHttpbin(),
  );
  writeFileSync(join(dir, 'mesh.yaml'), meshYaml(workloads, MESH_LOGGING_DEFAULT));
  local = await startLocal(dir);
}, 90_000);
afterAll(async () => {
  await stopLocal(local, dir);
  await collector.close();
});

describe('observability/logs/telemetry-api with the otel provider', () => {
  test("enable access logging (mesh-logging-default): sleep's and httpbin's proxies each send the request's record, labels filled", async () => {
    const from = collector.records.length;
    await curl(418);
    await until(
      'a record from sleep and one from httpbin',
      () => recordsOf('sleep', from).length && recordsOf('httpbin', from).length,
      15_000,
    );
    const [out] = recordsOf('sleep', from);
    const [inbound] = recordsOf('httpbin', from);
    expect(out.body).toMatch(body(418, OUTBOUND));
    expect(inbound.body).toMatch(body(418, INBOUND));
    // The task's labels, by name: the pod and namespace from the sidecar's environment, as the downward API sets them.
    expect(out.attributes).toEqual([
      ['cluster', '-'],
      ['mesh', '-'],
      ['namespace', 'default'],
      ['pod', 'sleep'],
    ]);
    expect(attrs(inbound)).toMatchObject({ namespace: 'default', pod: 'httpbin' });
    // One request: the same x-request-id in both bodies.
    const id = (b = '') => /"([0-9a-f-]{36})"/.exec(b)?.[1];
    expect(id(out.body)).toBe(id(inbound.body));
    expect(collector.calls.every((c) => c.path === '/opentelemetry.proto.collector.logs.v1.LogsService/Export')).toBe(true);
    // Reached at the Service's endpoint, named by its host.
    expect(collector.calls.every((c) => c.authority === COLLECTOR)).toBe(true);
  });

  test('disable access log for sleep (disabled: true): no record from its proxy, httpbin goes on', async () => {
    await apply(
      telemetry(
        'disable-sleep-logging',
        'default',
        '  selector:\n    matchLabels:\n      app: sleep\n  accessLogging:\n  - providers:\n    - name: otel\n    disabled: true\n  - providers:\n    - name: witness',
      ),
    );
    const from = collector.records.length;
    await curl(418);
    await until(
      "sleep's witness and httpbin's record",
      () => witnessesOf('sleep', from).length && recordsOf('httpbin', from).length,
      15_000,
    );
    expect(recordsOf('sleep', from)).toEqual([]);
    expect(recordsOf('httpbin', from)).toHaveLength(1);
  });

  test("filter by workload mode (httpbin, mode SERVER, disabled): no record from httpbin's inbound, sleep goes on", async () => {
    await apply(
      telemetry(
        'disable-httpbin-logging',
        'default',
        '  selector:\n    matchLabels:\n      app: httpbin\n  accessLogging:\n  - providers:\n    - name: otel\n    match:\n      mode: SERVER\n    disabled: true\n  - providers:\n    - name: witness',
      ),
    );
    const from = collector.records.length;
    await curl(418);
    await until(
      "httpbin's witness and sleep's record",
      () => witnessesOf('httpbin', from).length && recordsOf('sleep', from).length,
      15_000,
    );
    expect(recordsOf('httpbin', from)).toEqual([]);
    expect(recordsOf('sleep', from)[0].body).toMatch(body(418, OUTBOUND));
  });

  test('filter with a CEL expression (sleep, response.code >= 500): only the 5xx from sleep, every request from httpbin', async () => {
    await apply(
      telemetry(
        'filter-sleep-logging',
        'default',
        '  selector:\n    matchLabels:\n      app: sleep\n  accessLogging:\n  - providers:\n    - name: otel\n    filter:\n      expression: response.code >= 500',
      ),
    );
    const from = collector.records.length;
    await curl(200);
    await curl(404);
    await until('both requests from httpbin', () => recordsOf('httpbin', from).length === 2, 15_000);
    // sleep's records leave its proxy in order: once the 503's is in, a 200's or 404's sent before it would be too.
    await curl(503);
    await until("the 503 from sleep's proxy", () => recordsOf('sleep', from).length >= 1, 15_000);
    expect(recordsOf('sleep', from).map((r) => r.body?.match(/" (\d{3}) /)?.[1])).toEqual(['503']);
    expect(recordsOf('sleep', from)[0].body).toMatch(body(503, OUTBOUND));
  });
});

describe('observability/logs/otel-provider', () => {
  test("a Telemetry for sleep only (sleep-logging): records from sleep's proxy, none from httpbin's", async () => {
    // The task's Telemetry alone (no root one); httpbin keeps the witness, to show its proxy held nothing back.
    await applyDocs(
      telemetry(
        'sleep-logging',
        'default',
        '  selector:\n    matchLabels:\n      app: sleep\n  accessLogging:\n    - providers:\n      - name: otel',
      ),
      telemetry(
        'httpbin-witness',
        'default',
        '  selector:\n    matchLabels:\n      app: httpbin\n  accessLogging:\n  - providers:\n    - name: witness',
      ),
    );
    const from = collector.records.length;
    await curl(418);
    await until(
      "sleep's record and httpbin's witness",
      () => recordsOf('sleep', from).length && witnessesOf('httpbin', from).length,
      15_000,
    );
    expect(recordsOf('sleep', from)).toHaveLength(1);
    expect(recordsOf('sleep', from)[0].body).toMatch(body(418, OUTBOUND));
    expect(recordsOf('httpbin', from)).toEqual([]);
  });
});
