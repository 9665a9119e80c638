/**
 * A TCP connection's access log line (Envoy's tcp_proxy log at close) through Istio's default TEXT
 * and JSON formats: what each operator prints for a connection, and which CEL filter attributes a
 * connection has. Pure: records are made here, no sockets.
 */
import { ISTIO_JSON_LABELS, ISTIO_TEXT_FORMAT } from '../../../../api';
import { compileFilters } from '../../../../runtime/proxy/access-log/filter';
import { compileFormat, compileTextFormat } from '../../../../runtime/proxy/access-log/format';
import { TCP_FIELDS } from '../../../../runtime/proxy/access-log/tcp-fields';
import type { ConnectionRecord } from '../../../../runtime/proxy/tcp-record';

const START = Date.parse('2026-03-04T05:06:07.089Z');

/** A client's outbound connection to a TCP echo service, closed after 12 ms. */
function connection(over: Partial<ConnectionRecord> = {}): ConnectionRecord {
  return {
    owner: {},
    inbound: false,
    start: START,
    ms: 12,
    bytesIn: 17,
    bytesOut: 42,
    flags: '-',
    cluster: 'outbound|9000||tcp-echo.shop.svc.cluster.local',
    upstream: '10.1.7.3:9000',
    upstreamLocal: '10.1.2.8:51012',
    remote: '10.1.2.8:51000',
    local: '10.96.4.4:9000',
    ...over,
  };
}

const text = (c: ConnectionRecord) => compileTextFormat(ISTIO_TEXT_FORMAT, TCP_FIELDS)(c, START + 99);

test("Istio's TEXT format for a connection: `- - -` for the request line, code 0, its bytes, duration, cluster and addresses", () => {
  expect(text(connection())).toBe(
    '[2026-03-04T05:06:07.089Z] "- - -" 0 - - - "-" 17 42 12 - "-" "-" "-" "-" "10.1.7.3:9000" ' +
      'outbound|9000||tcp-echo.shop.svc.cluster.local 10.1.2.8:51012 10.96.4.4:9000 10.1.2.8:51000 - -',
  );
});

test('a BlackHoleCluster connection is UH with no upstream host; a TLS one names its server', () => {
  const hole = connection({
    flags: 'UH',
    cluster: 'BlackHoleCluster',
    upstream: undefined,
    upstreamLocal: undefined,
    bytesIn: 0,
    bytesOut: 0,
    ms: 0,
  });
  expect(text(hole)).toBe(
    '[2026-03-04T05:06:07.089Z] "- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster - 10.96.4.4:9000 10.1.2.8:51000 - -',
  );
  expect(text(connection({ serverName: 'api.example.org' }))).toMatch(/ 10\.1\.2\.8:51000 api\.example\.org -$/);
});

test("Istio's JSON labels for a connection: null for the request's fields, response_code 0, numbers for bytes and duration", () => {
  const line = JSON.parse(compileFormat({ json: ISTIO_JSON_LABELS }).connection(connection({ serverName: 'api.example.org' }), START));
  expect(Object.keys(line)).toEqual(Object.keys(ISTIO_JSON_LABELS));
  expect(line).toEqual({
    start_time: '2026-03-04T05:06:07.089Z',
    route_name: null,
    method: null,
    path: null,
    protocol: null,
    response_code: 0,
    response_flags: '-',
    response_code_details: null,
    connection_termination_details: null,
    bytes_received: 17,
    bytes_sent: 42,
    duration: 12,
    upstream_service_time: null,
    x_forwarded_for: null,
    user_agent: null,
    request_id: null,
    authority: null,
    upstream_host: '10.1.7.3:9000',
    upstream_cluster: 'outbound|9000||tcp-echo.shop.svc.cluster.local',
    upstream_local_address: '10.1.2.8:51012',
    downstream_local_address: '10.96.4.4:9000',
    downstream_remote_address: '10.1.2.8:51000',
    requested_server_name: 'api.example.org',
    upstream_transport_failure_reason: null,
  });
});

test('the other operators: the peer SAN of an inbound mTLS client, addresses without port, lengths', () => {
  const line = compileTextFormat(
    '%DOWNSTREAM_PEER_URI_SAN% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS% %UPSTREAM_CLUSTER:8% %REQ(USER-AGENT)% %GRPC_STATUS_NUMBER%',
    TCP_FIELDS,
  );
  expect(line(connection({ inbound: true, principal: 'cluster.local/ns/shop/sa/client' }), START)).toBe(
    'spiffe://cluster.local/ns/shop/sa/client 10.1.2.8 10.1.2.8:51000 outbound - -',
  );
  expect(line(connection({ remote: '[::1]:4000' }), START)).toBe('- [::1] [::1]:4000 outbound - -');
});

test.each([
  // Envoy's connection has no response code nor request headers: these are false (an absent attribute is an error).
  ['response.code >= 400', connection(), false],
  ["request.headers['x-debug'] == 'on'", connection(), false],
  ['has(request.method)', connection(), false],
  ['has(response.code) && response.code >= 500', connection(), false],
  // What a connection has: its flags' cluster, sizes, addresses, server name, mTLS.
  ["xds.cluster_name == 'BlackHoleCluster'", connection({ cluster: 'BlackHoleCluster', flags: 'UH' }), true],
  ['response.size > 40 && request.size == 17', connection(), true],
  ["destination.port == 9000 && source.address == '10.1.2.8'", connection(), true],
  ["upstream.address == '10.1.7.3'", connection(), true],
  ["connection.requested_server_name == 'api.example.org'", connection({ serverName: 'api.example.org' }), true],
  ['connection.mtls', connection({ principal: 'cluster.local/ns/shop/sa/client' }), true],
  ['connection.mtls', connection(), false],
  ['!has(response.code)', connection(), true],
])('filter %s on a connection: %s', (expression, c, expected) => {
  expect(compileFilters(expression).connection(c)).toBe(expected);
});
