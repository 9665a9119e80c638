/**
 * Istio's distributed-tracing tasks configured through the Telemetry API and the mesh config
 * (istio.io content/en/docs/tasks/observability/distributed-tracing/telemetry-api/, sampling/ and
 * mesh-and-proxy-config/),
 * with sleep → httpbin (httpbin.ts, whose `/headers` shows what the app received) on one `mast
 * local`, each step replacing the last. The test plays the collectors: a Zipkin v2 span API for the
 * telemetry-api task's `zipkin` provider and an OTLP/gRPC receiver for the sampling task's
 * `otel-tracing`, each behind a ServiceEntry for the task's collector Service. The tracers' UIs are
 * not run; their queries are the receivers' span lists. A sampled share is checked against the
 * binomial bounds (7 standard deviations); a request forced sampled (`x-b3-sampled: 1`) after the
 * others marks that every earlier span has been exported (one proxy exports in order).
 * Beyond the tasks: Telemetry `match.mode` CLIENT / SERVER (one side's spans only).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type LocalMesh } from '../../../runtime/local/local-mesh';
import { until } from '../../support/poll';
import { meshConfigDoc, meshYaml, serviceEntryDoc, telemetryDoc } from '../../support/mesh-yaml';
import { OtlpGrpcReceiver } from '../../support/otlp-receiver';
import { type ReceivedZipkinSpan, ZipkinReceiver } from '../../support/zipkin-receiver';
import { fromWorkload, rewriteMesh, startLocal, stopLocal } from '../support';
import { httpbinWorkload } from './httpbin-mesh';

const zipkin = new ZipkinReceiver();
const otel = new OtlpGrpcReceiver();
let dir = '';
let local: LocalMesh | undefined;
let workloads = '';

/** The telemetry-api task's installation: a zipkin provider, MeshConfig's tracing options emptied. */
const zipkinMesh = (extra = '') =>
  meshConfigDoc(`enableTracing: true
defaultConfig: { tracing: {} }
extensionProviders:
- name: zipkin
  zipkin: { service: zipkin.istio-system.svc.cluster.local, port: 9411${extra} }`);
const meshDefault = (lines: string) =>
  telemetryDoc('mesh-default', 'istio-system', `  tracing:\n  - providers: [{ name: zipkin }]\n${lines}`);
const apply = (...docs: string[]) => rewriteMesh(local!, join(dir, 'mesh.yaml'), meshYaml(workloads, ...docs));

const get = async (path: string, headers: Record<string, string> = {}) => {
  const r = await fromWorkload(local!, 'sleep', `http://httpbin:8000${path}`, headers);
  expect(r.status).toBe(200);
  return r;
};
/** Zipkin spans from index `from` on whose URL has `marker`. */
const zipkinSpans = (from: number, marker: string) => zipkin.spans.slice(from).filter((s) => s.tags['http.url']?.includes(marker));
/** Waits for a forced-sampled request's span (`x-b3-sampled: 1`) from `service`: every earlier span of that proxy's has arrived. */
async function flushZipkin(marker: string, service = 'sleep.default'): Promise<void> {
  const from = zipkin.spans.length;
  await get(`/get?flush=${marker}`, { 'x-b3-sampled': '1' });
  await until('the flush marker exported', () => zipkinSpans(from, `flush=${marker}`).some((s) => s.localEndpoint.serviceName === service));
}
const byService = (spans: ReceivedZipkinSpan[], service: string) => spans.filter((s) => s.localEndpoint.serviceName === service);
/** Within 7 standard deviations of n × p, and none only where that is likely (p^n: 2e-14 for 300 at 10 %). */
const binomial = (count: number, n: number, p: number) => {
  expect(Math.abs(count - n * p)).toBeLessThanOrEqual(7 * Math.sqrt(n * p * (1 - p)));
  if ((1 - p) ** n < 1e-9) expect(count).toBeGreaterThan(0);
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mast-tracing-api-'));
  workloads = meshYaml(
    httpbinWorkload('default', await freePort()),
    `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: sleep, namespace: default }
spec: { address: 127.0.0.1, ports: { http: ${await freePort()} }, labels: { app: sleep } }`,
    serviceEntryDoc({ name: 'zipkin', namespace: 'istio-system', port: 9411, endpoints: [await zipkin.listen()] }),
    serviceEntryDoc({
      name: 'opentelemetry-collector',
      namespace: 'observability',
      port: 4317,
      protocol: 'GRPC',
      endpoints: [await otel.listen()],
    }),
  );
  writeFileSync(join(dir, 'mesh.yaml'), meshYaml(workloads, zipkinMesh()));
  local = await startLocal(dir);
}, 90_000);
afterAll(async () => {
  await stopLocal(local, dir);
  await zipkin.close();
  await otel.close();
});

describe('observability/distributed-tracing/telemetry-api', () => {
  test("enable tracing for the mesh: the zipkin provider at Istio's default 1 %", async () => {
    await apply(zipkinMesh(), meshDefault(''));
    const from = zipkin.spans.length;
    for (let i = 0; i < 200; i++) await get('/get?step=default');
    await flushZipkin('default');
    binomial(byService(zipkinSpans(from, 'step=default'), 'sleep.default').length, 200, 0.01);
  }, 60_000);

  test('customizing trace sampling: 100 %, each request one trace sleep → httpbin, B3 headers at the app', async () => {
    await apply(zipkinMesh(), meshDefault('    randomSamplingPercentage: 100.00'));
    const from = zipkin.spans.length;
    const { body } = await get('/headers?step=all');
    const headers = JSON.parse(body).headers as Record<string, string>;
    const spans: ReceivedZipkinSpan[] = await until('both spans', () => {
      const s = zipkinSpans(from, 'step=all');
      return s.length >= 2 ? s : undefined;
    }).then((s) => s!);
    const [client] = byService(spans, 'sleep.default');
    const [server] = byService(spans, 'httpbin.default');
    expect([client.kind, client.parentId, server.kind, server.parentId, server.traceId]).toEqual([
      'CLIENT',
      undefined,
      'SERVER',
      client.id,
      client.traceId,
    ]);
    // Envoy's Zipkin tracer's headers, for the span of httpbin's proxy.
    expect(headers).toMatchObject({
      'x-b3-traceid': client.traceId,
      'x-b3-spanid': server.id,
      'x-b3-parentspanid': client.id,
      'x-b3-sampled': '1',
    });
    // USE_B3 (the provider's default traceContextOption): no W3C header written.
    expect(headers).not.toHaveProperty('traceparent');
    for (let i = 0; i < 20; i++) await get('/get?step=every');
    await flushZipkin('every');
    expect(byService(zipkinSpans(from, 'step=every'), 'sleep.default')).toHaveLength(20);
  }, 60_000);

  test('customizing tracing tags: a literal, an environment variable (with its default) and a request header', async () => {
    await apply(
      zipkinMesh(),
      meshDefault(`    randomSamplingPercentage: 100.00
    customTags:
      provider: { literal: { value: zipkin } }
      cluster_id: { environment: { name: ISTIO_META_CLUSTER_ID, defaultValue: Kubernetes } }
      my_tag_header: { header: { name: x-my-tag, defaultValue: none-sent } }`),
    );
    const from = zipkin.spans.length;
    await get('/get?step=tags-1', { 'x-my-tag': 'blue' });
    await get('/get?step=tags-2');
    const spans = await until('four spans', () =>
      zipkinSpans(from, 'step=tags').length >= 4 ? zipkinSpans(from, 'step=tags') : undefined,
    );
    for (const s of spans!)
      expect(s.tags).toMatchObject({
        provider: 'zipkin',
        // mast local's sidecars have no ISTIO_META_CLUSTER_ID: the default.
        cluster_id: 'Kubernetes',
        my_tag_header: s.tags['http.url'].includes('tags-1') ? 'blue' : 'none-sent',
      });
  }, 60_000);

  test("customizing tracing tag length: the provider's maxTagLength cuts http.url's path", async () => {
    await apply(zipkinMesh(', maxTagLength: 24'), meshDefault('    randomSamplingPercentage: 100.00'));
    const from = zipkin.spans.length;
    await get('/get?step=length&padding=0123456789');
    const spans = await until('a span', () => (zipkin.spans.length > from ? zipkin.spans.slice(from) : undefined));
    // The request target's first 24 characters.
    expect(spans![0].tags['http.url']).toBe('http://httpbin:8000/get?step=length&padding');
  }, 60_000);

  test.each([
    ['CLIENT', 'sleep.default'],
    ['SERVER', 'httpbin.default'],
  ])(
    'match.mode %s: spans of that side only; the other passes trace headers on untouched',
    async (mode, traced) => {
      await apply(zipkinMesh(), meshDefault(`    randomSamplingPercentage: 100.00\n    match: { mode: ${mode} }`));
      const from = zipkin.spans.length;
      const { body } = await get(`/headers?step=${mode}`);
      const headers = JSON.parse(body).headers as Record<string, string>;
      const spans = await until('a span', () => (zipkinSpans(from, `step=${mode}`).length ? zipkinSpans(from, `step=${mode}`) : undefined));
      // The other proxy's span, were there one, would be in by then: it would have left before its own marker's.
      await flushZipkin(mode, traced);
      const all = zipkinSpans(from, `step=${mode}`);
      expect(all.map((s) => s.localEndpoint.serviceName)).toEqual([traced]);
      // The app sees the span of the last proxy that traced: sleep's (httpbin's passed it on) or httpbin's own.
      expect(headers['x-b3-spanid']).toBe(spans![0].id);
      // Under SERVER, sleep's proxy started nothing: httpbin's span is a root.
      if (mode === 'SERVER') expect([spans![0].parentId, headers['x-b3-parentspanid']]).toEqual([undefined, undefined]);
    },
    60_000,
  );
});

describe('observability/distributed-tracing/mesh-and-proxy-config (under a provider)', () => {
  test("the task's defaultConfig.tracing: sampling 100, max_path_tag_length, custom_tags from the environment and a header", async () => {
    await apply(
      meshConfigDoc(`enableTracing: true
defaultConfig:
  tracing:
    sampling: 100.0
    max_path_tag_length: 20
    custom_tags:
      clusterID: { environment: { name: ISTIO_META_CLUSTER_ID, defaultValue: Kubernetes } }
      my_tag_header: { header: { name: host } }
extensionProviders:
- name: zipkin
  zipkin: { service: zipkin.istio-system.svc.cluster.local, port: 9411 }
defaultProviders: { tracing: [zipkin] }`),
    );
    const from = zipkin.spans.length;
    await get('/get?step=proxy-config');
    const spans = await until('both spans', () => (zipkin.spans.length - from >= 2 ? zipkin.spans.slice(from) : undefined));
    for (const s of spans!)
      expect(s.tags).toMatchObject({
        clusterID: 'Kubernetes',
        my_tag_header: 'httpbin:8000',
        'http.url': 'http://httpbin:8000/get?step=proxy-conf',
      });
  }, 60_000);
});

describe('observability/distributed-tracing/sampling (OTLP/gRPC collector)', () => {
  const otelMesh = (sampling: string) =>
    meshConfigDoc(`enableTracing: true
${sampling}extensionProviders:
- name: otel-tracing
  opentelemetry:
    port: 4317
    service: opentelemetry-collector.observability.svc.cluster.local
    resource_detectors:
      environment: {}`);
  const url = (s: { attributes: Array<[string, string | undefined]> }) => s.attributes.find(([k]) => k === 'http.url')?.[1] ?? '';
  /** 300 requests, then a forced-sampled one; the share of the 300 sleep reported. */
  async function sampledShare(step: string): Promise<number> {
    const from = otel.spans.length;
    for (let i = 0; i < 300; i++) await get(`/get?step=${step}`);
    await get(`/get?flush=${step}`, { 'x-b3-sampled': '1' });
    await until('the flush marker exported', () =>
      otel.spans.slice(from).some((s) => url(s).includes(`flush=${step}`) && s.service === 'sleep.default'),
    );
    return otel.spans.slice(from).filter((s) => s.service === 'sleep.default' && url(s).includes(`step=${step}`)).length;
  }

  test("a Telemetry's randomSamplingPercentage: 10 (the otel-demo Telemetry, in default)", async () => {
    await apply(
      otelMesh(''),
      telemetryDoc('otel-demo', 'default', '  tracing:\n  - providers:\n    - name: otel-tracing\n    randomSamplingPercentage: 10'),
    );
    binomial(await sampledShare('telemetry'), 300, 0.1);
  }, 90_000);

  test("the mesh config's defaultConfig.tracing.sampling: 10, under a Telemetry naming the provider only", async () => {
    await apply(
      otelMesh('defaultConfig:\n  tracing:\n    sampling: 10\n'),
      telemetryDoc('mesh-default', 'istio-system', '  tracing:\n  - providers:\n    - name: otel-tracing'),
    );
    binomial(await sampledShare('mesh'), 300, 0.1);
  }, 90_000);
});
