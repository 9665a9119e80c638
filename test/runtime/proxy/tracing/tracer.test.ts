/** The tracer: the sampling share, the decision a parent carries, and sampled finished requests reported as spans. */
import type { ProxyConfig, TracingConfig } from '../../../../runtime/contract/proxy-config';
import { requestFinished, type RequestRecord } from '../../../../runtime/proxy/request/record';
import { CARRIED_B3, traceHeaders } from '../../../../runtime/proxy/tracing/propagation';
import { nodeIdOf, Tracer, tracerFor } from '../../../../runtime/proxy/tracing/tracer';
import { seededRandom } from '../../../support/seeded-random';

const tracing = (over: Partial<TracingConfig> = {}): TracingConfig => ({
  samplingPercent: 1,
  serviceName: 'gw.mast-system',
  tags: [],
  ...over,
});
const config = (t: TracingConfig | undefined): ProxyConfig => ({
  schema: 1,
  version: 'v1',
  listeners: [],
  clusters: [],
  ...(t ? { tracing: t } : {}),
});
const none = { header: () => undefined };

test.each([1, 10, 100, 0])('%d %% of requests without a decision are sampled', (percent) => {
  const t = new Tracer({}, config(tracing({ samplingPercent: percent })), () => undefined, { random: seededRandom(percent + 7) });
  const n = 20_000;
  let sampled = 0;
  for (let i = 0; i < n; i++) if (t.start(none, false)?.sampled) sampled++;
  const p = percent / 100;
  // Within 7 standard deviations of the expected count (a chance of failing below 1e-11).
  const sd = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(sampled - n * p)).toBeLessThanOrEqual(7 * sd);
  t.close();
});

test('a sampled parent is followed at 0 %, an unsampled one at 100 %', () => {
  const zero = new Tracer({}, config(tracing({ samplingPercent: 0 })), () => undefined);
  const all = new Tracer({}, config(tracing({ samplingPercent: 100 })), () => undefined);
  const parent = (flag: string) => ({
    header: (n: string) => (n === 'traceparent' ? `00-${'1'.repeat(32)}-${'2'.repeat(16)}-${flag}` : undefined),
  });
  expect(zero.start(parent('01'), false)?.sampled).toBe(true);
  expect(all.start(parent('00'), false)?.sampled).toBe(false);
});

test('sampled finished requests of this proxy become spans for the collector; unsampled ones and other proxies do not', () => {
  const owner = {};
  const bodies: string[] = [];
  const t = new Tracer(owner, config(tracing({ collector: { host: '127.0.0.1', port: 4318, path: '/v1/traces' } })), () => undefined, {
    post: () => (body, done) => (bodies.push(body), done(true)),
    exporter: { batchSize: 1 },
  });
  const rec = (o: object, sampled: boolean) =>
    ({
      owner: o,
      request: { method: 'GET', target: '/', scheme: 'http', remoteAddress: '127.0.0.1', header: () => undefined },
      inbound: false,
      status: 404,
      flags: 'NR',
      ms: 1,
      bytesIn: 0,
      bytesOut: 0,
      requestId: 'r',
      authority: 'a',
      protocol: 'HTTP/1.1',
      trace: { traceId: '1'.repeat(32), spanId: '2'.repeat(16), parentId: '', sampled, tracestate: '', carried: 0 },
    }) as unknown as RequestRecord;
  requestFinished.publish(rec(owner, true));
  requestFinished.publish(rec(owner, false));
  requestFinished.publish(rec({}, true));
  expect(bodies).toHaveLength(1);
  expect(JSON.parse(bodies[0]).resourceSpans[0].scopeSpans[0].spans[0]).toMatchObject({ name: 'egress a', spanId: '2'.repeat(16) });
  t.close();
  requestFinished.publish(rec(owner, true));
  expect(bodies).toHaveLength(1);
});

test('match.mode: only CLIENT starts no context for inbound requests, only SERVER none for outbound ones', () => {
  const client = new Tracer({}, config(tracing({ samplingPercent: 100, only: 'CLIENT' })), () => undefined);
  const server = new Tracer({}, config(tracing({ samplingPercent: 100, only: 'SERVER' })), () => undefined);
  const both = new Tracer({}, config(tracing({ samplingPercent: 100 })), () => undefined);
  expect([client.start(none, true), client.start(none, false)?.sampled]).toEqual([undefined, true]);
  expect([server.start(none, true)?.sampled, server.start(none, false)]).toEqual([true, undefined]);
  expect([both.start(none, true)?.sampled, both.start(none, false)?.sampled]).toEqual([true, true]);
});

test("a server part: inbound requests drawn at its percentage, outbound at the config's", () => {
  const t = new Tracer({}, config(tracing({ samplingPercent: 0, server: { samplingPercent: 100, tags: [] } })), () => undefined);
  expect([t.start(none, true)?.sampled, t.start(none, false)?.sampled]).toEqual([true, false]);
});

test('a zipkin provider: B3 upstream whatever came, 64-bit trace ids when asked, spans posted as Zipkin v2 JSON', () => {
  const bodies: string[] = [];
  const zipkin = { host: '127.0.0.1', port: 9411, path: '/api/v2/spans', protocol: 'zipkin' as const };
  const t = new Tracer({}, config(tracing({ samplingPercent: 100, collector: zipkin, b3: 'B3', traceId64: true })), () => undefined, {
    post: () => (body, done) => (bodies.push(body), done(true)),
    exporter: { batchSize: 1 },
  });
  const ctx = t.start(none, false)!;
  expect(ctx.carried & CARRIED_B3).toBe(CARRIED_B3);
  expect(ctx.traceId).toMatch(/^0{16}[0-9a-f]{16}$/);
  // USE_B3 (the default): B3 only, the 64-bit id in 16 digits, no traceparent written.
  const sent = Object.fromEntries(traceHeaders(ctx));
  expect(Object.keys(sent).sort()).toEqual(['x-b3-sampled', 'x-b3-spanid', 'x-b3-traceid']);
  expect(sent['x-b3-traceid']).toBe(ctx.traceId.slice(16));
  // ... nor read: a traceparent is not the parent (it goes on untouched).
  const w3c = { header: (n: string) => (n === 'traceparent' ? `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` : undefined) };
  expect(t.start(w3c, false)?.traceId).not.toBe('1'.repeat(32));
  t.close();
  // USE_B3_WITH_W3C_PROPAGATION: both written.
  const both = new Tracer({}, config(tracing({ samplingPercent: 100, b3: 'B3_AND_W3C' })), () => undefined);
  expect(traceHeaders(both.start(w3c, false)!).map(([n]) => n)).toEqual([
    'traceparent',
    'x-b3-traceid',
    'x-b3-spanid',
    'x-b3-sampled',
    'x-b3-parentspanid',
  ]);
});

test('tracerFor: none without tracing (the old one closed), the same one updated otherwise', () => {
  const a = tracerFor({}, config(tracing()), undefined, () => undefined)!;
  expect(tracerFor({}, config(tracing({ samplingPercent: 5 })), a, () => undefined)).toBe(a);
  expect(a.config.samplingPercent).toBe(5);
  expect(tracerFor({}, config(undefined), a, () => undefined)).toBeUndefined();
});

test("node_id as Istio forms Envoy's node id: a gateway is a router", () => {
  expect(nodeIdOf({ mode: 'sidecar', workload: 'reviews-v1', namespace: 'default' }, '10.0.0.5')).toBe(
    'sidecar~10.0.0.5~reviews-v1.default~default.svc.cluster.local',
  );
  expect(nodeIdOf({ mode: 'gateway', workload: 'ingress', namespace: 'mast-system' }, '10.0.0.6')).toBe(
    'router~10.0.0.6~ingress.mast-system~mast-system.svc.cluster.local',
  );
});
