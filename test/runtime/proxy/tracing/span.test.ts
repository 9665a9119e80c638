/** A finished request as a span: Istio's names (route decorator, inbound service), Envoy's tags, kind and times. */
import type { ClusterConfig, RouteConfig, TracingConfig } from '../../../../runtime/contract/proxy-config';
import type { RequestRecord } from '../../../../runtime/proxy/request/record';
import { operationName } from '../../../../runtime/proxy/tracing/operation';
import { buildSpan, SPAN_KIND_CLIENT, SPAN_KIND_SERVER, unixNano } from '../../../../runtime/proxy/tracing/span';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const cluster = (host: string, port: number, subset = ''): ClusterConfig => ({
  name: `outbound|${port}|${subset}|${host}`,
  host,
  port,
  endpoints: [],
  lb: { kind: 'round_robin' },
  connectTimeoutMs: 1000,
});
const productpage = cluster('productpage.default.svc.cluster.local', 9080);
const bookinfo: RouteConfig = {
  name: 'default/bookinfo#0',
  matches: [{ uri: { exact: '/productpage' } }, { uri: { prefix: '/static' } }, { uri: { regex: '/api/v1/products.*' } }],
  action: { kind: 'forward', destinations: [{ cluster: productpage.name, weight: 100 }] },
};
const reviewsSplit: RouteConfig = {
  name: 'default/reviews#0',
  matches: [],
  action: {
    kind: 'forward',
    destinations: [
      { cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local', weight: 50 },
      { cluster: 'outbound|9080|v3|reviews.default.svc.cluster.local', weight: 50 },
    ],
  },
};

describe('operationName (Istio route decorator)', () => {
  const op = (route: RouteConfig | undefined, path: string, c?: ClusterConfig, egress = true) =>
    operationName({ route, cluster: c, port: 80, path, authority: 'bookinfo.example.com', egress });

  test.each([
    ['/productpage', 'productpage.default.svc.cluster.local:9080/productpage'],
    ['/static/img.png', 'productpage.default.svc.cluster.local:9080/static*'],
    // No exact or prefix match fits: the first URI match names it (a regex is not run for a name).
    ['/api/v1/products/1', 'productpage.default.svc.cluster.local:9080/productpage'],
  ])('one destination: host:port and the matched URI (%s)', (path, name) => expect(op(bookinfo, path, productpage)).toBe(name));

  test('a split route: the VirtualService name and the route port, /* without a URI match', () =>
    expect(op(reviewsSplit, '/reviews/0', cluster('reviews.default.svc.cluster.local', 9080, 'v1'))).toBe('reviews:80/*'));

  test('no route: Envoy names the span by direction', () => {
    expect(op(undefined, '/x')).toBe('egress bookinfo.example.com');
    expect(op(undefined, '/x', undefined, false)).toBe('ingress');
  });
});

const config: TracingConfig = {
  samplingPercent: 100,
  serviceName: 'productpage.default',
  nodeId: 'sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local',
  tags: [
    { name: 'istio.canonical_service', literal: 'productpage' },
    { name: 'istio.mesh_id', literal: 'cluster.local' },
    { name: 'end-user', header: 'end-user', defaultValue: 'anonymous' },
    { name: 'region', environment: 'MAST_TEST_REGION', defaultValue: 'unknown' },
  ],
  inboundOperations: { '9080': 'productpage.default.svc.cluster.local:9080/*' },
  maxPathTagLength: 12,
};

function record(over: Partial<RequestRecord> = {}, reqHeaders: Record<string, string> = {}): RequestRecord {
  return {
    owner: {},
    request: {
      method: 'GET',
      target: '/productpage?u=normal',
      host: 'bookinfo.example.com',
      port: 80,
      scheme: 'http',
      remoteAddress: '10.0.0.7',
      header: (n: string) => ({ 'user-agent': 'curl/8', ...reqHeaders })[n],
    } as unknown as RequestRecord['request'],
    inbound: false,
    cluster: productpage,
    status: 200,
    flags: '-',
    ms: 12.5,
    bytesIn: 0,
    bytesOut: 1843,
    route: bookinfo.name,
    requestId: 'req-1',
    authority: 'bookinfo.example.com',
    protocol: 'HTTP/1.1',
    ...over,
  };
}
const source = {
  config,
  nodeId: config.nodeId!,
  environment: new Map([['MAST_TEST_REGION', 'eu-1']]),
  route: (n?: string) => (n === bookinfo.name ? bookinfo : undefined),
};
const trace = { traceId: TRACE, spanId: 'aaaaaaaaaaaaaaaa', parentId: 'bbbbbbbbbbbbbbbb', sampled: true, tracestate: '', carried: 1 };
const attrs = (s: ReturnType<typeof buildSpan>) => Object.fromEntries(s.attributes.map((a) => [a.key, a.value.stringValue]));

describe('buildSpan', () => {
  test("an outbound (gateway) span: CLIENT, Istio's name, Envoy's tags, the times from the record", () => {
    const s = buildSpan(record(), trace, source, 1_700_000_000_000.5);
    expect(s).toMatchObject({
      traceId: TRACE,
      spanId: 'aaaaaaaaaaaaaaaa',
      parentSpanId: 'bbbbbbbbbbbbbbbb',
      name: 'productpage.default.svc.cluster.local:9080/productpage',
      kind: SPAN_KIND_CLIENT,
      startTimeUnixNano: '1699999999988000000',
      endTimeUnixNano: '1700000000000500000',
    });
    expect(s.status).toBeUndefined();
    expect(attrs(s)).toEqual({
      component: 'proxy',
      node_id: config.nodeId,
      'guid:x-request-id': 'req-1',
      // Cut at maxPathTagLength: 12 characters of the target, the query gone.
      'http.url': 'http://bookinfo.example.com/productpage',
      'http.method': 'GET',
      'http.protocol': 'HTTP/1.1',
      downstream_cluster: '-',
      user_agent: 'curl/8',
      'peer.address': '10.0.0.7',
      request_size: '0',
      response_size: '1843',
      response_flags: '-',
      'http.status_code': '200',
      upstream_cluster: productpage.name,
      'upstream_cluster.name': productpage.name,
      'istio.canonical_service': 'productpage',
      'istio.mesh_id': 'cluster.local',
      'end-user': 'anonymous',
      region: 'eu-1',
    });
  });

  test("what dry-run policies would have done: Istio's istio.authorization.dry_run.* tags, a name only where a rule matched", () => {
    const dryRun = {
      port: 80,
      results: [
        { action: 'deny', result: 'denied', policy: 'ns[foo]-policy[deny-path-headers]-rule[0]' },
        { action: 'allow', result: 'denied' },
      ] as const,
    };
    expect(attrs(buildSpan(record({ inbound: true, dryRun }), trace, source, 1_700_000_000_000))).toMatchObject({
      'istio.authorization.dry_run.deny_policy.name': 'ns[foo]-policy[deny-path-headers]-rule[0]',
      'istio.authorization.dry_run.deny_policy.result': 'denied',
      'istio.authorization.dry_run.allow_policy.result': 'denied',
    });
    expect(attrs(buildSpan(record({ inbound: true, dryRun }), trace, source, 1_700_000_000_000))).not.toHaveProperty(
      'istio.authorization.dry_run.allow_policy.name',
    );
  });

  test('an inbound span: SERVER, named for the service port; a header tag read from the request', () => {
    const inbound = cluster('127.0.0.1', 9080);
    const s = buildSpan(record({ inbound: true, cluster: inbound, route: 'default' }, { 'end-user': 'jason' }), trace, source, 1000);
    expect(s.kind).toBe(SPAN_KIND_SERVER);
    expect(s.name).toBe('productpage.default.svc.cluster.local:9080/*');
    expect(attrs(s)['end-user']).toBe('jason');
  });

  test('a 503 without upstream is an error; a root span has no parent', () => {
    const s = buildSpan(record({ status: 503, flags: 'UH' }), { ...trace, parentId: '' }, source, 1000);
    expect(s.status).toEqual({ code: 2 });
    expect(attrs(s)).toMatchObject({ error: 'true', response_flags: 'UH', 'http.status_code': '503' });
    expect(s.parentSpanId).toBeUndefined();
  });

  test("a server part (Telemetry match.mode): an inbound span takes its tags, an outbound one the config's", () => {
    const split = { ...source, config: { ...config, server: { samplingPercent: 100, tags: [{ name: 'side', literal: 'server' }] } } };
    expect(attrs(buildSpan(record({ inbound: true }), trace, split, 1)).side).toBe('server');
    expect(attrs(buildSpan(record(), trace, split, 1))).not.toHaveProperty('side');
  });

  test('unixNano keeps sub-millisecond precision as an integer string', () => {
    expect(unixNano(1.000001)).toBe('1000001');
    expect(unixNano(1_700_000_000_123.25)).toBe('1700000000123250000');
  });
});
