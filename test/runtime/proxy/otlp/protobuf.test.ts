/**
 * OTLP export requests in protobuf, read back by a reference reader (test/support/otlp-decode.ts: a
 * generic wire walk and opentelemetry-proto's field numbers): access log records as Envoy's
 * OpenTelemetry access logger sends them for Istio's envoyOtelAls (body, attributes, start time,
 * trace context, an empty resource), and spans as the OTLP/HTTP JSON body says them. Pure.
 */
import { OTEL_DEFAULT_LOG_NAME } from '../../../../api';
import { compileRecords } from '../../../../runtime/proxy/access-log/otlp';
import { grpcFrame } from '../../../../runtime/proxy/otlp/grpc';
import { encodeLogsRequest, encodeTraceRequest } from '../../../../runtime/proxy/otlp/protobuf';
import type { RequestRecord } from '../../../../runtime/proxy/request/record';
import type { ConnectionRecord } from '../../../../runtime/proxy/tcp-record';
import { SPAN_KIND_CLIENT, STATUS_CODE_ERROR, type OtlpSpan } from '../../../../runtime/proxy/tracing/span';
import { decodeLogsRequest, decodeTraceRequest } from '../../../support/otlp-decode';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';

test('a log record: start time (fixed64 nanoseconds), string body, attributes in order, trace and span ids as bytes', () => {
  const buf = encodeLogsRequest([
    {
      timeUnixNano: '1606339578409000000',
      body: '[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418\n',
      attributes: [
        ['cluster', 'Kubernetes'],
        ['namespace', 'default'],
        ['pod', 'sleep-7f8c'],
      ],
      traceId: TRACE,
      spanId: SPAN,
    },
    { timeUnixNano: '1', attributes: [] },
  ]);
  const [req, ...more] = decodeLogsRequest(buf);
  expect(more).toEqual([]);
  // Istio's disable_builtin_labels: no log_name, zone_name, cluster_name, node_name on the resource.
  expect(req.resource).toEqual([]);
  expect(req.records).toEqual([
    {
      timeUnixNano: 1606339578409000000n,
      body: '[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418\n',
      attributes: [
        ['cluster', 'Kubernetes'],
        ['namespace', 'default'],
        ['pod', 'sleep-7f8c'],
      ],
      traceId: TRACE,
      spanId: SPAN,
      fieldNumbers: [1, 5, 6, 9, 10],
    },
    // No body, attributes nor trace context: only the time is on the wire.
    { timeUnixNano: 1n, attributes: [], fieldNumbers: [1] },
  ]);
});

test('non-ASCII text is UTF-8 and a value may be empty', () => {
  const [req] = decodeLogsRequest(encodeLogsRequest([{ timeUnixNano: '5', body: 'ünï ✓', attributes: [['empty', '']] }]));
  expect(req.records[0]).toMatchObject({ body: 'ünï ✓', attributes: [['empty', '']] });
});

test('spans: ids as bytes, kind, times, attributes, the error status, service.name and the scope', () => {
  const span: OtlpSpan = {
    traceId: TRACE,
    spanId: SPAN,
    parentSpanId: '00f067aa0ba902b7',
    traceState: 'congo=t61rcWkgMzE',
    name: 'httpbin.default.svc.cluster.local:8000/*',
    kind: SPAN_KIND_CLIENT,
    startTimeUnixNano: '1606339578409000000',
    endTimeUnixNano: '1606339578413700000',
    attributes: [
      { key: 'http.method', value: { stringValue: 'GET' } },
      { key: 'http.status_code', value: { stringValue: '503' } },
    ],
    status: { code: STATUS_CODE_ERROR },
  };
  const root: OtlpSpan = {
    ...span,
    spanId: '1'.repeat(16),
    parentSpanId: undefined,
    traceState: undefined,
    status: undefined,
    attributes: [],
  };
  const [req] = decodeTraceRequest(
    encodeTraceRequest([span, root], [{ key: 'service.name', value: { stringValue: 'sleep.default' } }], 'mast-proxy'),
  );
  expect(req.resource).toEqual([['service.name', 'sleep.default']]);
  expect(req.scopes).toHaveLength(1);
  expect(req.scopes[0].name).toBe('mast-proxy');
  expect(req.scopes[0].spans).toEqual([
    {
      traceId: TRACE,
      spanId: SPAN,
      parentSpanId: '00f067aa0ba902b7',
      traceState: 'congo=t61rcWkgMzE',
      name: 'httpbin.default.svc.cluster.local:8000/*',
      kind: 3,
      startTimeUnixNano: 1606339578409000000n,
      endTimeUnixNano: 1606339578413700000n,
      attributes: [
        ['http.method', 'GET'],
        ['http.status_code', '503'],
      ],
      statusCode: 2,
    },
    {
      traceId: TRACE,
      spanId: '1'.repeat(16),
      name: 'httpbin.default.svc.cluster.local:8000/*',
      kind: 3,
      startTimeUnixNano: 1606339578409000000n,
      endTimeUnixNano: 1606339578413700000n,
      attributes: [],
    },
  ]);
});

test("gRPC's framing: an uncompressed flag, the length big-endian, the message", () => {
  expect([...grpcFrame(new Uint8Array([8, 1, 16]))]).toEqual([0, 0, 0, 0, 3, 8, 1, 16]);
  expect([...grpcFrame(new Uint8Array(0))]).toEqual([0, 0, 0, 0, 0]);
});

const NOW = Date.parse('2020-11-25T21:26:18.413Z');

/** sleep's outbound request to httpbin, traced. */
const request = {
  owner: {},
  request: {
    method: 'GET',
    target: '/status/418',
    scheme: 'http',
    header: (n: string) => ({ 'user-agent': 'curl/8.5.0' })[n],
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    peerAddress: '127.0.0.1',
    clientAddress: () => '127.0.0.1',
  },
  inbound: false,
  status: 418,
  flags: '-',
  ms: 4,
  bytesIn: 0,
  bytesOut: 135,
  requestId: 'r-1',
  authority: 'httpbin:8000',
  protocol: 'HTTP/1.1',
  trace: { traceId: TRACE, spanId: SPAN, parentId: '', sampled: false, tracestate: '', carried: 0 },
} as unknown as RequestRecord;

test("an envoyOtelAls log's record of a request: its start, the text as body (its newline kept), each label formatted", () => {
  process.env.MAST_TEST_POD = 'sleep-7f8c';
  const records = compileRecords({
    provider: 'otel',
    path: '',
    format: { text: '%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE%\n' },
    otlp: {
      host: '127.0.0.1',
      port: 4317,
      logName: OTEL_DEFAULT_LOG_NAME,
      attributes: {
        agent: '%REQ(USER-AGENT)%',
        code: 'code=%RESPONSE_CODE%',
        missing: '%REQ(X-NONE)%',
        pod: '%ENVIRONMENT(MAST_TEST_POD)%',
      },
    },
  });
  expect(records.request(request, NOW)).toEqual({
    timeUnixNano: String((NOW - 4) * 1e6),
    body: 'GET /status/418 418\n',
    attributes: [
      ['agent', 'curl/8.5.0'],
      ['code', 'code=418'],
      ['missing', '-'],
      ['pod', 'sleep-7f8c'],
    ],
    // Envoy takes them from the active span, sampled or not.
    traceId: TRACE,
    spanId: SPAN,
  });
});

test("a TCP connection's record: the connection's start, its body through the same format, no trace context", () => {
  const records = compileRecords({
    provider: 'otel',
    path: '',
    format: { text: '%DOWNSTREAM_REMOTE_ADDRESS% %RESPONSE_FLAGS% %REQ(:METHOD)%' },
    otlp: { host: 'c', port: 4317, logName: 'x' },
  });
  const c = {
    owner: {},
    inbound: true,
    start: 1000,
    ms: 5,
    bytesIn: 1,
    bytesOut: 2,
    flags: 'UF',
    remote: '10.0.0.9:5000',
  } as ConnectionRecord;
  expect(records.connection(c, 1005)).toEqual({ timeUnixNano: '1000000000', body: '10.0.0.9:5000 UF -', attributes: [] });
});

test('a collector without host or port is refused when the config is compiled', () => {
  expect(() => compileRecords({ provider: 'otel', path: '', format: { text: 'x' }, otlp: { host: '', port: 4317, logName: 'x' } })).toThrow(
    /otlp collector must be a host and a port/,
  );
});
