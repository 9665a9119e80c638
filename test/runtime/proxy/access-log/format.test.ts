/**
 * Access log formats compiled into functions of a request's record: each operator of Istio's
 * default TEXT and JSON formats, lengths, alternatives, and Telemetry CEL filters over Envoy's
 * attributes. Pure: records are made here, no sockets.
 */
import { ISTIO_JSON_LABELS, ISTIO_TEXT_FORMAT, parseAccessLogFormat } from '../../../../api';
import { compileFilter } from '../../../../runtime/proxy/access-log/filter';
import { compileJsonFormat, compileTextFormat } from '../../../../runtime/proxy/access-log/format';
import type { RequestRecord } from '../../../../runtime/proxy/request/record';

const NOW = Date.parse('2020-11-25T21:26:18.413Z');

/** sleep's outbound request to httpbin, as Istio's access-log task shows it. */
function record(over: Partial<RequestRecord> = {}, headers: Record<string, string> = {}, peer?: string): RequestRecord {
  const all: Record<string, string> = {
    'user-agent': 'curl/7.73.0-DEV',
    'x-request-id': '84961386-6d84-929d-98bd-c5aee93b5c88',
    ...headers,
  };
  return {
    owner: {},
    request: {
      method: 'GET',
      target: '/status/418?x=1',
      host: 'httpbin',
      port: 8000,
      scheme: 'http',
      header: (n: string) => all[n],
      remoteAddress: '10.44.1.23',
      remotePort: 46520,
      peerAddress: '10.44.1.23',
      originalAddress: '10.0.45.184',
      originalPort: 8000,
      clientAddress: () => '10.44.1.23',
      ...(peer ? { peer: { principal: peer } } : {}),
    } as unknown as RequestRecord['request'],
    inbound: false,
    cluster: { name: 'outbound|8000||httpbin.foo.svc.cluster.local' } as RequestRecord['cluster'],
    status: 418,
    flags: '-',
    ms: 4.7,
    bytesIn: 0,
    bytesOut: 135,
    route: 'default',
    upstream: '10.44.1.27:80',
    requestId: '84961386-6d84-929d-98bd-c5aee93b5c88',
    authority: 'httpbin:8000',
    protocol: 'HTTP/1.1',
    ...over,
  };
}

test("Istio's default TEXT format gives the task's line, `-` for what mast-proxy has not", () => {
  const line = compileTextFormat(ISTIO_TEXT_FORMAT)(record(), NOW);
  expect(line).toBe(
    '[2020-11-25T21:26:18.408Z] "GET /status/418?x=1 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 - "-" "curl/7.73.0-DEV" ' +
      '"84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local - ' +
      '10.0.45.184:8000 10.44.1.23:46520 - default',
  );
});

test("Istio's default JSON labels: keys in order, numbers as numbers, null where the text prints -", () => {
  const line = JSON.parse(compileJsonFormat(ISTIO_JSON_LABELS)(record(), NOW));
  expect(Object.keys(line)).toEqual(Object.keys(ISTIO_JSON_LABELS));
  expect(line).toMatchObject({
    start_time: '2020-11-25T21:26:18.408Z',
    method: 'GET',
    path: '/status/418?x=1',
    response_code: 418,
    response_flags: '-',
    response_code_details: 'via_upstream',
    bytes_received: 0,
    bytes_sent: 135,
    duration: 4,
    upstream_service_time: null,
    x_forwarded_for: null,
    user_agent: 'curl/7.73.0-DEV',
    authority: 'httpbin:8000',
    upstream_cluster: 'outbound|8000||httpbin.foo.svc.cluster.local',
    downstream_remote_address: '10.44.1.23:46520',
    requested_server_name: null,
  });
});

test.each([
  ['%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%', {}, '/status/418?x=1'],
  ['%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%', { 'x-envoy-original-path': '/before' }, '/before'],
  ['%REQ_WITHOUT_QUERY(:PATH)%', {}, '/status/418'],
  ['%REQ(USER-AGENT):4%', {}, 'curl'],
  ['%REQ(X-MISSING)% and %RESPONSE_CODE%', {}, '- and 418'],
  ['%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %GRPC_STATUS_NUMBER%', {}, '10.44.1.23 -'],
  ['100%% %PROTOCOL%', {}, undefined],
])('%s with headers %j → %s', (format, headers, expected) => {
  if (expected === undefined) return expect(() => compileTextFormat(format)).toThrow(/no command operator/);
  expect(compileTextFormat(format)(record({}, headers), NOW)).toBe(expected);
});

test.each([
  // Envoy's documented examples: a calendar time, seconds since the epoch with milli-, micro- and nanoseconds.
  ['%START_TIME(%Y/%m/%dT%H:%M:%S%z %s)%', '2020/11/25T21:26:18+0000 1606339578'],
  ['%START_TIME(%s.%3f)%', '1606339578.408'],
  ['%START_TIME(%s.%6f)%', '1606339578.408300'],
  ['%START_TIME(%s.%9f)% %START_TIME(%f)%', '1606339578.408300000 408300000'],
  ['[%START_TIME(%F %T)%] %START_TIME(%a %b %e %j %I%p %y %Z %%)%', '[2020-11-25 21:26:18] Wed Nov 25 330 09PM 20 UTC %'],
])('START_TIME with a format, in UTC, at the start of the request: %s', (format, expected) => {
  // The record's request took 4.7 ms: it started at 18.4083.
  expect(compileTextFormat(format)(record(), NOW)).toBe(expected);
});

test('an operator mast-proxy cannot fill is refused by name, with or without arguments', () => {
  expect(() => parseAccessLogFormat('%UPSTREAM_PEER_SUBJECT%')).toThrow(
    '%UPSTREAM_PEER_SUBJECT% is not a command operator mast-proxy fills',
  );
  expect(() => parseAccessLogFormat('%DURATION(%s)%')).toThrow(/without an argument/);
  expect(() => parseAccessLogFormat('%START_TIME(%Y %Q)%')).toThrow('"%Q" is not a time specifier');
  expect(() => parseAccessLogFormat('%RESP(CONTENT-TYPE)%')).toThrow(/keeps no response header/);
  expect(() => parseAccessLogFormat('%REQ%')).toThrow(/needs a header/);
});

test('a JSON format nests objects, keeps literals, and writes a mixed value as text', () => {
  const line = compileJsonFormat({ req: { m: '%REQ(:METHOD)%', code: '%RESPONSE_CODE%' }, mixed: 'took %DURATION% ms', n: 1, off: false });
  expect(JSON.parse(line(record(), NOW))).toEqual({ req: { m: 'GET', code: 418 }, mixed: 'took 4 ms', n: 1, off: false });
});

test('JSON lines are written as text directly and stay JSON whatever a header holds (quotes, backslashes, control characters)', () => {
  const ua = 'a "quoted"\\ agent\u0001';
  const line = compileJsonFormat({
    ua: '%REQ(USER-AGENT)%',
    both: '%REQ(:METHOD)% %REQ(USER-AGENT)%',
    '"odd key"': '%RESPONSE_CODE%',
    empty: {},
  });
  expect(JSON.parse(line(record({}, { 'user-agent': ua }), NOW))).toEqual({ ua, both: `GET ${ua}`, '"odd key"': 418, empty: {} });
});

describe('CEL filters over Envoy attributes (Istio telemetry-api task)', () => {
  test.each([
    ['response.code >= 400', record(), true],
    ['response.code >= 400', record({ status: 200 }), false],
    ['response.code >= 500', record(), false],
    // No response (the client went away): no response.code; Istio's guard says what to log then.
    ['response.code >= 500', record({ status: 0 }), false],
    ['!has(response.code) || response.code >= 500', record({ status: 0 }), true],
    ["request.headers['x-foo'] == 'bar'", record({}, { 'x-foo': 'bar' }), true],
    ["request.headers['x-foo'] == 'bar'", record(), false],
    ["!has(request.useragent) || !request.useragent.startsWith('Amazon-Route53-Health-Check-Service')", record(), true],
    ["xds.cluster_name == 'BlackHoleCluster' || xds.cluster_name == 'PassthroughCluster'", record(), false],
    ['connection.mtls', record({}, {}, 'cluster.local/ns/foo/sa/sleep'), true],
    ['connection.mtls', record(), false],
    ["request.url_path == '/status/418' && request.method == 'GET'", record(), true],
    ["request.path.matches('^/status/4[0-9]+')", record(), true],
    // Not a boolean: never logs.
    ['response.code', record(), false],
  ])('%s', (expression, r, logged) => {
    expect(compileFilter(expression)(r)).toBe(logged);
  });

  test('an expression that is not CEL does not compile', () => {
    expect(() => compileFilter('response.code >= ')).toThrow();
  });
});
