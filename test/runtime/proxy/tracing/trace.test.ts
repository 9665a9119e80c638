/**
 * One request through four proxies on loopback, as Bookinfo's gateway → productpage → reviews with
 * sidecars: each proxy reports its span over OTLP/HTTP to a receiver of the test, and the spans
 * form one trace that nests as Envoy's do (the gateway's CLIENT span the root, the inbound SERVER
 * spans and the outbound CLIENT span each the child of the hop before), named as Istio names them.
 * Apps propagate the trace headers they receive, as Bookinfo's do.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClusterConfig, ProxyConfig, RouteConfig, TracingConfig } from '../../../../runtime/contract/proxy-config';
import { MeshProxy } from '../../../../runtime/proxy/mesh-proxy';
import { DEFAULT_LIMITS } from '../../../../runtime/proxy/http/head';
import type { OtlpSpan } from '../../../../runtime/proxy/tracing/span';
import { get, stoppedAfterEach, until } from '../../../support/proxy';

const { stopAfter } = stoppedAfterEach();

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))));
  return (server.address() as AddressInfo).port;
}

/** An OTLP/HTTP JSON receiver: every span posted to /v1/traces, with its resource's service.name. */
async function receiver() {
  const spans: Array<OtlpSpan & { service: string }> = [];
  const port = await listen(
    http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        expect(req.url).toBe('/v1/traces');
        expect(req.headers['content-type']).toBe('application/json');
        for (const rs of JSON.parse(body).resourceSpans) {
          const service = rs.resource.attributes.find((a: { key: string }) => a.key === 'service.name').value.stringValue;
          for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, service });
        }
        res.end('{}');
      });
    }),
  );
  return { port, spans };
}

/** An app that answers after calling `next` (if any) with the trace headers it received, as Bookinfo's apps do. */
async function app(name: string, next?: { port: number; host: string; path: string }) {
  const seen: http.IncomingHttpHeaders[] = [];
  const port = await listen(
    http.createServer((req, res) => {
      seen.push(req.headers);
      if (!next) {
        res.end(name);
        return;
      }
      const propagate = Object.fromEntries(
        ['x-request-id', 'traceparent', 'tracestate', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled'].flatMap((h) =>
          req.headers[h] ? [[h, req.headers[h] as string]] : [],
        ),
      );
      const call = http.get(
        { host: '127.0.0.1', port: next.port, path: next.path, headers: { ...propagate, host: next.host }, agent: false },
        (r) => {
          let body = '';
          r.on('data', (c) => (body += c));
          r.on('end', () => res.end(`${name}(${body})`));
        },
      );
      call.on('error', () => ((res.statusCode = 502), res.end()));
    }),
  );
  return { port, seen };
}

const cluster = (name: string, host: string, port: number, endpoint: number): ClusterConfig => ({
  name,
  host,
  port,
  endpoints: [{ address: '127.0.0.1', port: endpoint }],
  lb: { kind: 'round_robin' },
  connectTimeoutMs: 1000,
});
const route = (name: string, c: string, uri?: string): RouteConfig => ({
  name,
  matches: uri ? [{ uri: { exact: uri } }] : [],
  action: { kind: 'forward', destinations: [{ cluster: c, weight: 100 }] },
});

/** A proxy of one listener `l` routing every host to `c`; `inbound` makes it a sidecar's inbound (SERVER spans). */
async function proxy(mode: 'gateway' | 'sidecar', c: ClusterConfig, r: RouteConfig, tracing: TracingConfig, inbound = false) {
  const p = new MeshProxy({ mode, workload: tracing.serviceName, namespace: 'default' }, undefined, DEFAULT_LIMITS);
  const cfg: ProxyConfig = {
    schema: 1,
    version: 'v1',
    listeners: [
      {
        name: 'l',
        port: 0,
        matchPort: 80,
        protocol: 'http',
        ...(inbound ? { trafficDirection: 'INBOUND' as const } : {}),
        virtualHosts: [{ name: 'vh', domains: ['*'], routes: [r] }],
      },
    ],
    clusters: [c],
    tracing,
  };
  const applied = await p.apply(cfg);
  if (!applied.ok) throw new Error(applied.error);
  stopAfter(() => p.drain(50));
  return p.boundPort('l')!;
}

test('gateway → productpage → reviews: one trace, spans nested by parent id, named and tagged as Istio', async () => {
  const otlp = await receiver();
  const collector = { host: '127.0.0.1', port: otlp.port, path: '/v1/traces' };
  const tracing = (serviceName: string, canonical: string, inboundOp?: string): TracingConfig => ({
    samplingPercent: 100,
    collector,
    serviceName,
    nodeId: `sidecar~127.0.0.1~${canonical}.default~default.svc.cluster.local`,
    tags: [
      { name: 'istio.canonical_service', literal: canonical },
      { name: 'istio.mesh_id', literal: 'cluster.local' },
    ],
    ...(inboundOp ? { inboundOperations: { '*': inboundOp } } : {}),
  });
  const PP = 'productpage.default.svc.cluster.local';
  const RV = 'reviews.default.svc.cluster.local';

  const reviews = await app('reviews');
  const reviewsIn = await proxy(
    'sidecar',
    cluster('inbound|9080||', '127.0.0.1', 9080, reviews.port),
    route('default', 'inbound|9080||'),
    tracing('reviews.default', 'reviews', `${RV}:9080/*`),
    true,
  );
  const ppOut = await proxy(
    'sidecar',
    cluster(`outbound|9080||${RV}`, RV, 9080, reviewsIn),
    route('default', `outbound|9080||${RV}`),
    tracing('productpage.default', 'productpage'),
  );
  const productpage = await app('productpage', { port: ppOut, host: `reviews:9080`, path: '/reviews/0' });
  const ppIn = await proxy(
    'sidecar',
    cluster('inbound|9080||', '127.0.0.1', 9080, productpage.port),
    route('default', 'inbound|9080||'),
    tracing('productpage.default', 'productpage', `${PP}:9080/*`),
    true,
  );
  const gateway = await proxy(
    'gateway',
    cluster(`outbound|9080||${PP}`, PP, 9080, ppIn),
    route('default/bookinfo#0', `outbound|9080||${PP}`, '/productpage'),
    tracing('istio-ingressgateway.istio-system', 'istio-ingressgateway'),
  );

  const reply = await get(gateway, '/productpage', { 'user-agent': 'trace-test' });
  expect(reply.status).toBe(200);
  expect(reply.body).toBe('productpage(reviews)');
  await until('four spans at the receiver', () => otlp.spans.length >= 4, 10_000);
  expect(otlp.spans).toHaveLength(4);

  const byService = (service: string, kind: number) => otlp.spans.find((s) => s.service === service && s.kind === kind)!;
  const gw = byService('istio-ingressgateway.istio-system', 3);
  const ppServer = byService('productpage.default', 2);
  const ppClient = byService('productpage.default', 3);
  const rvServer = byService('reviews.default', 2);
  expect([gw, ppServer, ppClient, rvServer].every(Boolean)).toBe(true);

  // One trace, nested hop by hop.
  expect(new Set(otlp.spans.map((s) => s.traceId)).size).toBe(1);
  expect(gw.parentSpanId).toBeUndefined();
  expect(ppServer.parentSpanId).toBe(gw.spanId);
  expect(ppClient.parentSpanId).toBe(ppServer.spanId);
  expect(rvServer.parentSpanId).toBe(ppClient.spanId);
  // Each span lies within its parent's time.
  for (const [child, parent] of [
    [ppServer, gw],
    [ppClient, ppServer],
    [rvServer, ppClient],
  ]) {
    expect(BigInt(child.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(parent.startTimeUnixNano));
    expect(BigInt(child.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(parent.endTimeUnixNano));
  }

  // Istio's names: the gateway route's host:port and exact path, the outbound default route's host:port/*, the inbound service's.
  expect(gw.name).toBe(`${PP}:9080/productpage`);
  expect(ppServer.name).toBe(`${PP}:9080/*`);
  expect(ppClient.name).toBe(`${RV}:9080/*`);
  expect(rvServer.name).toBe(`${RV}:9080/*`);

  const attrs = (s: OtlpSpan) => Object.fromEntries(s.attributes.map((a) => [a.key, a.value.stringValue]));
  const requestId = attrs(gw)['guid:x-request-id'];
  expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  for (const s of [gw, ppServer, ppClient, rvServer])
    expect(attrs(s)).toMatchObject({
      component: 'proxy',
      'http.method': 'GET',
      'http.status_code': '200',
      'guid:x-request-id': requestId,
      'istio.mesh_id': 'cluster.local',
    });
  expect(attrs(gw)).toMatchObject({
    'http.url': 'http://alpha.example.com/productpage',
    upstream_cluster: `outbound|9080||${PP}`,
    'istio.canonical_service': 'istio-ingressgateway',
    user_agent: 'trace-test',
    'peer.address': '127.0.0.1',
    response_flags: '-',
    node_id: 'sidecar~127.0.0.1~istio-ingressgateway.default~default.svc.cluster.local',
  });
  expect(attrs(rvServer)['istio.canonical_service']).toBe('reviews');

  // What each app received names the proxy span before it as parent, sampled.
  expect(productpage.seen[0].traceparent).toBe(`00-${gw.traceId}-${ppServer.spanId}-01`);
  expect(reviews.seen[0].traceparent).toBe(`00-${gw.traceId}-${rvServer.spanId}-01`);
});

test('an unsampled request: no span reported, the decision carried upstream (flag 00) and kept by the next proxy', async () => {
  const otlp = await receiver();
  const collector = { host: '127.0.0.1', port: otlp.port, path: '/v1/traces' };
  const backendApp = await app('backend');
  const inner = await proxy(
    'sidecar',
    cluster('inbound|80||', '127.0.0.1', 80, backendApp.port),
    route('default', 'inbound|80||'),
    {
      samplingPercent: 100,
      collector,
      serviceName: 'backend.default',
      tags: [],
    },
    true,
  );
  const edge = await proxy('gateway', cluster('outbound|80||backend', 'backend', 80, inner), route('default', 'outbound|80||backend'), {
    samplingPercent: 0,
    collector,
    serviceName: 'gw',
    tags: [],
  });
  expect((await get(edge, '/')).status).toBe(200);
  const tp = backendApp.seen[0].traceparent as string;
  expect(tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  // A sampled request afterwards proves the receiver works: its spans come, the unsampled ones never did.
  expect((await get(edge, '/', { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` })).status).toBe(200);
  await until('the sampled request spans', () => otlp.spans.length >= 2, 10_000);
  expect(otlp.spans.every((s) => s.traceId === '1'.repeat(32))).toBe(true);
  expect(otlp.spans).toHaveLength(2);
});

test('a collector that is down costs no request: requests answer, the failed exports are counted', async () => {
  const dead = http.createServer();
  const port = await listen(dead);
  await new Promise<void>((r) => dead.close(() => r()));
  const backendApp = await app('backend');
  const p = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'default' }, undefined, DEFAULT_LIMITS);
  await p.apply({
    schema: 1,
    version: 'v1',
    listeners: [
      { name: 'l', port: 0, matchPort: 80, protocol: 'http', virtualHosts: [{ name: 'vh', domains: ['*'], routes: [route('r', 'b')] }] },
    ],
    clusters: [cluster('b', 'backend', 80, backendApp.port)],
    tracing: { samplingPercent: 100, collector: { host: '127.0.0.1', port, path: '/v1/traces' }, serviceName: 'gw', tags: [] },
  });
  stopAfter(() => p.drain(50));
  for (let i = 0; i < 5; i++) expect((await get(p.boundPort('l')!, '/')).status).toBe(200);
  await until(
    'failed exports counted',
    () => /mast_tracing_spans_dropped_total\{reason="export_failed"\} [1-9]/.test(p.renderMetrics()),
    10_000,
  );
});
