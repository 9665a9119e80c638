/**
 * Istio's distributed-tracing tasks that trace Bookinfo (istio.io content/en/docs/tasks/observability/
 * distributed-tracing/): zipkin/, jaeger/ (an `opentelemetry` provider over OTLP/gRPC) and
 * opentelemetry/'s gRPC variant (its `otel-demo` Telemetry in default), on one `mast local` of the example. The tracers' UIs are not run: the test plays the
 * collector, a Zipkin v2 span API (test/support/zipkin-receiver.ts) and an OTLP/gRPC receiver
 * (test/support/otlp-receiver.ts) on loopback, reached through a ServiceEntry for the task's
 * collector Service (mast local has no Kubernetes Services), and reads the traces as the tasks'
 * verify scripts read Zipkin's API. The zipkin task runs under the demo profile (sampling 100 %):
 * here that is `defaultConfig.tracing.sampling: 100` with the provider as `defaultProviders.tracing`.
 */
import { until } from '../../support/poll';
import { meshConfigDoc, meshYaml, serviceEntryDoc, telemetryDoc } from '../../support/mesh-yaml';
import { OtlpGrpcReceiver } from '../../support/otlp-receiver';
import { type ReceivedZipkinSpan, ZipkinReceiver } from '../../support/zipkin-receiver';
import { request, startExample, type Running } from '../support';

const ZIPKIN = 'zipkin.istio-system.svc.cluster.local';
const JAEGER = 'jaeger-collector.istio-system.svc.cluster.local';
const zipkin = new ZipkinReceiver();
const jaeger = new OtlpGrpcReceiver();
let zipkinPort = 0;
let jaegerPort = 0;
let ex: Running;

/** The collectors' Services: ServiceEntries whose endpoints are the receivers. */
const collectors = () =>
  meshYaml(
    serviceEntryDoc({ name: 'zipkin', namespace: 'istio-system', port: 9411, endpoints: [zipkinPort] }),
    serviceEntryDoc({ name: 'jaeger-collector', namespace: 'istio-system', port: 4317, protocol: 'GRPC', endpoints: [jaegerPort] }),
    serviceEntryDoc({ name: 'opentelemetry-collector', namespace: 'observability', port: 4317, protocol: 'GRPC', endpoints: [jaegerPort] }),
  );

// The zipkin task's mesh: a zipkin provider for the whole mesh, every request sampled.
const ZIPKIN_MESH = meshConfigDoc(`enableTracing: true
defaultConfig: { tracing: { sampling: 100 } }
extensionProviders:
- name: zipkin
  zipkin: { service: ${ZIPKIN}, port: 9411 }
defaultProviders: { tracing: [zipkin] }`);

beforeAll(async () => {
  zipkinPort = await zipkin.listen();
  jaegerPort = await jaeger.listen();
  ex = await startExample({ files: { 'mesh/tracing.yaml': meshYaml(collectors(), ZIPKIN_MESH) } });
}, 90_000);
afterAll(async () => {
  await ex?.stop();
  await zipkin.close();
  await jaeger.close();
});

/** `outbound|9080||details.default.svc.cluster.local` → `details.default`, as the task's verify_traces.py reads it. */
const serviceOfCluster = (cluster: string) => cluster.split('|')[3].split('.').slice(0, 2).join('.');

/** jason's /productpage through the gateway, and its trace at the OTLP collector once it has `atLeast` spans (the one ratings is in). */
async function jasonsTrace(atLeast: number) {
  const from = jaeger.spans.length;
  expect((await request(ex.port, '/productpage', { 'end-user': 'jason' })).status).toBe(200);
  return (await until(
    'the trace at the OTLP collector',
    () => {
      const mine = jaeger.spans.slice(from);
      const ratings = mine.find((s) => s.service === 'ratings.default');
      const trace = ratings && mine.filter((s) => s.traceId === ratings.traceId);
      return trace && trace.length >= atLeast ? trace : undefined;
    },
    15_000,
  ))!;
}

describe('observability/distributed-tracing/zipkin', () => {
  test("traces of /productpage in Zipkin's API hold only Bookinfo's calls (the task's verify_traces.py)", async () => {
    const from = zipkin.spans.length;
    for (let i = 0; i < 20; i++) expect((await request(ex.port, '/productpage')).status).toBe(200);
    // Each request: gateway, productpage in, its two calls out, details in, reviews in (and ratings for v2/v3).
    await until(
      'every request traced',
      () => zipkin.spans.length - from >= 20 * 6,
      15_000,
      () => `${zipkin.spans.length - from} spans`,
    );
    // The task's interactions: whoever calls (localEndpoint) → the service of its upstream cluster.
    const expected: Record<string, string[]> = {
      'istio-ingressgateway.mast-system': ['productpage.default'],
      'productpage.default': ['details.default', 'reviews.default'],
      'reviews.default': ['ratings.default'],
    };
    const seen = new Set<string>();
    for (const s of zipkin.spans.slice(from)) {
      expect(zipkin.posts.every((p) => p.path === '/api/v2/spans' && p.contentType === 'application/json')).toBe(true);
      if (s.tags.upstream_cluster.startsWith('inbound')) continue;
      const edge = `${s.localEndpoint.serviceName} → ${serviceOfCluster(s.tags.upstream_cluster)}`;
      expect(expected[s.localEndpoint.serviceName]).toContain(serviceOfCluster(s.tags.upstream_cluster));
      seen.add(edge);
    }
    expect([...seen].sort()).toEqual(
      expect.arrayContaining([
        'istio-ingressgateway.mast-system → productpage.default',
        'productpage.default → details.default',
        'productpage.default → reviews.default',
      ]),
    );
  }, 60_000);

  test("one request as jason: one trace gateway → productpage → reviews v2 → ratings, parent ids hop by hop, in Zipkin's form", async () => {
    const from = zipkin.spans.length;
    expect((await request(ex.port, '/productpage', { 'end-user': 'jason' })).status).toBe(200);
    const spans: ReceivedZipkinSpan[] = (await until(
      'the trace with its ratings span',
      () => {
        const mine = zipkin.spans.slice(from);
        const ratings = mine.find((s) => s.localEndpoint.serviceName === 'ratings.default');
        const trace = ratings && mine.filter((s) => s.traceId === ratings.traceId);
        return trace && trace.length >= 8 ? trace : undefined;
      },
      15_000,
    ))!;
    const byId = new Map(spans.map((s) => [s.id, s]));
    const one = (service: string, kind: string, upstream = '') => {
      const found = spans.filter(
        (s) => s.localEndpoint.serviceName === service && s.kind === kind && s.tags.upstream_cluster.includes(upstream),
      );
      expect(found).toHaveLength(1);
      return found[0];
    };
    const gw = one('istio-ingressgateway.mast-system', 'CLIENT');
    const ppIn = one('productpage.default', 'SERVER');
    const ppToReviews = one('productpage.default', 'CLIENT', 'reviews');
    const reviewsIn = one('reviews.default', 'SERVER');
    const reviewsToRatings = one('reviews.default', 'CLIENT', 'ratings');
    const ratingsIn = one('ratings.default', 'SERVER');
    expect(gw.parentId).toBeUndefined();
    const chain = [gw, ppIn, ppToReviews, reviewsIn, reviewsToRatings, ratingsIn];
    for (let i = 1; i < chain.length; i++) expect(byId.get(chain[i].parentId ?? '')).toBe(chain[i - 1]);
    // Zipkin's form: 128-bit trace id, 64-bit span ids in lowercase hex; microsecond times.
    expect(gw.traceId).toMatch(/^[0-9a-f]{32}$/);
    for (const s of spans)
      expect([s.id, s.duration > 0, s.tags['http.status_code']]).toEqual([expect.stringMatching(/^[0-9a-f]{16}$/), true, '200']);
    expect(ppToReviews.tags.upstream_cluster).toMatch(
      /^outbound\|9080\|v2\|reviews\.default\.svc\.cluster\.local$|^outbound\|9080\|\|reviews/,
    );
  }, 60_000);
});

describe('observability/distributed-tracing/jaeger (its provider: opentelemetry over OTLP/gRPC)', () => {
  test("the task's jaeger provider and mesh-default Telemetry: one trace for jason's request at the collector", async () => {
    await ex.edit('mesh/tracing.yaml', () =>
      meshYaml(
        collectors(),
        meshConfigDoc(`enableTracing: true
defaultConfig: { tracing: {} }
extensionProviders:
- name: jaeger
  opentelemetry: { port: 4317, service: ${JAEGER} }`),
        // The task's Telemetry, at 100 % here so that one request is enough (the task sends many at Istio's default 1 %).
        telemetryDoc('mesh-default', 'istio-system', '  tracing:\n  - providers: [{ name: jaeger }]\n    randomSamplingPercentage: 100'),
      ),
    );
    const spans = await jasonsTrace(8);
    const ids = new Set(spans.map((s) => s.spanId));
    expect(spans.filter((s) => !s.parentSpanId).map((s) => s.service)).toEqual(['istio-ingressgateway.mast-system']);
    for (const s of spans) if (s.parentSpanId) expect(ids.has(s.parentSpanId)).toBe(true);
    expect(jaeger.calls.at(-1)).toMatchObject({ path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', authority: JAEGER });
  }, 60_000);
});

describe('observability/distributed-tracing/opentelemetry (its gRPC variant)', () => {
  test("the otel-demo Telemetry in default: Bookinfo's proxies (not the gateway's, in another namespace) report spans with my-attribute", async () => {
    await ex.edit('mesh/tracing.yaml', () =>
      meshYaml(
        collectors(),
        meshConfigDoc(`enableTracing: true
extensionProviders:
- name: otel-tracing
  opentelemetry: { port: 4317, service: opentelemetry-collector.observability.svc.cluster.local }`),
        telemetryDoc(
          'otel-demo',
          'default',
          `  tracing:
  - providers: [{ name: otel-tracing }]
    randomSamplingPercentage: 100
    customTags:
      my-attribute: { literal: { value: default-value } }`,
          'telemetry.istio.io/v1alpha1',
        ),
      ),
    );
    const spans = await jasonsTrace(7);
    expect(new Set(spans.map((s) => s.service))).toEqual(
      new Set(['productpage.default', 'details.default', 'reviews.default', 'ratings.default']),
    );
    for (const s of spans) expect(s.attributes).toContainEqual(['my-attribute', 'default-value']);
    // The gateway traces nothing: productpage's inbound span is the trace's root.
    expect(spans.filter((s) => !s.parentSpanId).map((s) => [s.service, s.kind])).toEqual([['productpage.default', 2]]);
    expect(jaeger.calls.at(-1)?.authority).toBe('opentelemetry-collector.observability.svc.cluster.local');
  }, 60_000);
});
