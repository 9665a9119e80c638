/**
 * Istio's "Customizing Istio Metrics with Telemetry API" task (istio.io content/en/docs/tasks/
 * observability/metrics/telemetry-api/) on one `mast local`: sleep and httpbin in default, both with
 * sidecars; the task's Telemetries applied in turn in istio-system, each checked on the proxies'
 * `/stats/prometheus` (what the task's `curl localhost:15000/stats/prometheus` reads) after
 * `curl httpbin:8000/status/418` from sleep. The customize-metrics task's dimensions
 * (`request_host`, `destination_port` on `requests_total`), which it sets through install options,
 * come through a Telemetry `tagOverrides` here (mast has no IstioOperator).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalMesh } from '../../../runtime/local/local-mesh';
import { until } from '../../support/poll';
import { meshYaml, telemetryDoc } from '../../support/mesh-yaml';
import { adminOf, fromWorkload, rewriteMesh, startLocal, stopLocal } from '../support';
import { sleepAndHttpbin } from './httpbin-mesh';

const telemetry = (name: string, metrics: string) =>
  telemetryDoc(name, 'istio-system', `  metrics:\n${metrics}`, 'telemetry.istio.io/v1alpha1');
const disable = (name: string, mode: string, metric: string) =>
  telemetry(
    name,
    `  - providers: [{ name: prometheus }]\n    overrides:\n    - disabled: true\n      match: { mode: ${mode}, metric: ${metric} }`,
  );

let dir = '';
let local: LocalMesh | undefined;
let workloads = '';

type Sample = Record<string, string> & { value: string };
async function samples(workload: string, family: string): Promise<Sample[]> {
  const text = await (await fetch(`http://127.0.0.1:${adminOf(local!, workload)}/stats/prometheus`)).text();
  return [...text.matchAll(new RegExp(`^${family}\\{(.*)\\} (\\d+)$`, 'gm'))].map(
    ([, labels, value]) =>
      ({ ...Object.fromEntries([...labels.matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]])), value }) as Sample,
  );
}
/** The series of sleep → httpbin /status/418 on one side: the client (sleep's) or the server (httpbin's). */
const teapots = async (workload: string) => (await samples(workload, 'istio_requests_total')).filter((s) => s.response_code === '418');

async function curl(): Promise<void> {
  expect((await fromWorkload(local!, 'sleep', 'http://httpbin:8000/status/418')).status).toBe(418);
}

/** The workloads with `extra`, applied to the running mesh. */
const apply = (...extra: string[]) => rewriteMesh(local!, join(dir, 'mesh.yaml'), meshYaml(workloads, ...extra));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mast-metrics-api-'));
  workloads = await sleepAndHttpbin();
  writeFileSync(join(dir, 'mesh.yaml'), workloads);
  local = await startLocal(dir);
}, 90_000);
afterAll(() => stopLocal(local, dir));

describe('observability/metrics/telemetry-api', () => {
  test('before any Telemetry: both sides report istio_requests_total with the standard labels only', async () => {
    await curl();
    await until('both sides counted', async () => (await teapots('sleep')).length > 0 && (await teapots('httpbin')).length > 0);
    const [client] = await teapots('sleep');
    expect(client).toMatchObject({ reporter: 'source', destination_app: 'httpbin', response_flags: '-' });
    expect(client).not.toHaveProperty('destination_x');
  });

  test('remove-tags: REQUEST_COUNT without grpc_response_status (a gRPC call would have it; an HTTP one keeps the rest)', async () => {
    await apply(
      telemetry(
        'remove-tags',
        `  - providers: [{ name: prometheus }]
    overrides:
    - match: { mode: CLIENT_AND_SERVER, metric: REQUEST_COUNT }
      tagOverrides:
        grpc_response_status: { operation: REMOVE }`,
      ),
    );
    await curl();
    await until('counted again', async () => (await teapots('sleep')).some((s) => s.value === '2'));
    for (const s of await teapots('sleep')) expect(s).not.toHaveProperty('grpc_response_status');
  });

  test("custom-tags: destination_x from the upstream peer's app on the client, source_x from the downstream peer's on the server", async () => {
    await apply(
      telemetry(
        'custom-tags',
        `  - overrides:
    - match: { metric: ALL_METRICS, mode: CLIENT }
      tagOverrides:
        destination_x: { value: "upstream_peer.labels['app'].value" }
    - match: { metric: ALL_METRICS, mode: SERVER }
      tagOverrides:
        source_x: { value: "downstream_peer.labels['app'].value" }
    providers: [{ name: prometheus }]`,
      ),
    );
    await curl();
    await until('the shaped series on both sides', async () => {
      const client = (await teapots('sleep')).find((s) => s.destination_x);
      const server = (await teapots('httpbin')).find((s) => s.source_x);
      return client?.destination_x === 'httpbin' && server?.source_x === 'sleep';
    });
    const duration = (await samples('sleep', 'istio_request_duration_milliseconds_count')).find(
      (s) => s.response_code === '418' && s.destination_x,
    );
    expect(duration?.destination_x).toBe('httpbin');
  });

  test("customize-metrics' dimensions: request_host and destination_port on requests_total (as a Telemetry tagOverrides)", async () => {
    await apply(
      telemetry(
        'custom-dimensions',
        `  - providers: [{ name: prometheus }]
    overrides:
    - match: { metric: REQUEST_COUNT }
      tagOverrides:
        request_host: { value: request.host }
        destination_port: { value: string(destination.port) }`,
      ),
    );
    await curl();
    await until('the new dimensions', async () => (await teapots('sleep')).some((s) => s.request_host));
    expect((await teapots('sleep')).find((s) => s.request_host)).toMatchObject({ request_host: 'httpbin:8000', destination_port: '8000' });
  });

  test('disabling: REQUEST_COUNT for the client only, for the server only, then every metric', async () => {
    const counts = async () => ({
      client: (await teapots('sleep')).reduce((n, s) => n + Number(s.value), 0),
      server: (await teapots('httpbin')).reduce((n, s) => n + Number(s.value), 0),
    });
    await apply(disable('remove-client', 'CLIENT', 'REQUEST_COUNT'));
    let before = await counts();
    await curl();
    await until('the server counted', async () => (await counts()).server === before.server + 1);
    expect((await counts()).client).toBe(before.client);
    await apply(disable('remove-server', 'SERVER', 'REQUEST_COUNT'));
    before = await counts();
    // A client series appears again (its first count is this request's): the server's stays as it was.
    await curl();
    await until('the client counted', async () => (await counts()).client === before.client + 1);
    expect((await counts()).server).toBe(before.server);
    await apply(disable('remove-all-metrics', 'CLIENT_AND_SERVER', 'ALL_METRICS'));
    before = await counts();
    const durations = (await samples('sleep', 'istio_request_duration_milliseconds_count')).length;
    await curl();
    // Nothing to wait for: the request's record is published as it finishes, before the reply is read.
    expect(await counts()).toEqual(before);
    expect((await samples('sleep', 'istio_request_duration_milliseconds_count')).length).toBe(durations);
  });
});
