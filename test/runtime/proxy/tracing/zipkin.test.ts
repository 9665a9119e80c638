/** Spans as Zipkin's v2 JSON (what Envoy's Zipkin tracer posts to `/api/v2/spans`). */
import { type OtlpSpan, SPAN_KIND_CLIENT, SPAN_KIND_SERVER, STATUS_CODE_ERROR } from '../../../../runtime/proxy/tracing/span';
import { zipkinBody, zipkinSpan } from '../../../../runtime/proxy/tracing/zipkin';

const span = (over: Partial<OtlpSpan> = {}): OtlpSpan => ({
  traceId: 'a'.repeat(32),
  spanId: 'b'.repeat(16),
  name: 'reviews.default.svc.cluster.local:9080/*',
  kind: SPAN_KIND_CLIENT,
  startTimeUnixNano: '1700000000123456789',
  endTimeUnixNano: '1700000000125456789',
  attributes: [
    { key: 'http.status_code', value: { stringValue: '200' } },
    { key: 'upstream_cluster', value: { stringValue: 'outbound|9080||reviews.default.svc.cluster.local' } },
  ],
  ...over,
});

test('a client span: hex ids, microseconds, kind, service and tags as strings', () => {
  expect(zipkinSpan(span({ parentSpanId: 'c'.repeat(16) }), 'productpage.default')).toEqual({
    traceId: 'a'.repeat(32),
    id: 'b'.repeat(16),
    parentId: 'c'.repeat(16),
    name: 'reviews.default.svc.cluster.local:9080/*',
    kind: 'CLIENT',
    timestamp: 1700000000123456,
    duration: 2000,
    localEndpoint: { serviceName: 'productpage.default' },
    tags: { 'http.status_code': '200', upstream_cluster: 'outbound|9080||reviews.default.svc.cluster.local' },
  });
});

test('a root server span has no parentId; an error status is the error tag; a zero duration is one microsecond', () => {
  const z = zipkinSpan(span({ kind: SPAN_KIND_SERVER, status: { code: STATUS_CODE_ERROR }, endTimeUnixNano: '1700000000123456789' }), 's');
  expect(z).not.toHaveProperty('parentId');
  expect(z).toMatchObject({ kind: 'SERVER', duration: 1, tags: { error: 'true' } });
});

test('a 64-bit trace id (high half zero) is written in 16 hex digits, as Zipkin keeps it', () => {
  expect(zipkinSpan(span({ traceId: `${'0'.repeat(16)}${'d'.repeat(16)}` }), 's').traceId).toBe('d'.repeat(16));
});

test('a batch is one JSON list', () => {
  const body = JSON.parse(zipkinBody([span(), span({ spanId: 'e'.repeat(16) })], 'gw'));
  expect(body.map((s: { id: string }) => s.id)).toEqual(['b'.repeat(16), 'e'.repeat(16)]);
});
