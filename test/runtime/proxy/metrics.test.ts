/** Prometheus text of the proxy's telemetry: Istio's labels and buckets, HELP and TYPE per family, series merged across processes. */
import { version as packageVersion } from '../../../package.json';
import { MAST_VERSION } from '../../../runtime/contract/build-info';
import { DEFAULT_BUCKETS, Metrics, type RequestLabels } from '../../../runtime/proxy/metrics';
import { peerLabelText } from '../../../runtime/proxy/metric-labels';

const peer = {
  reporter: 'source',
  sourceWorkload: 'gw',
  sourceCanonicalService: 'gw',
  sourceCanonicalRevision: 'latest',
  sourceWorkloadNamespace: 'mast-system',
  sourcePrincipal: 'unknown',
  sourceApp: 'istio-ingressgateway',
  sourceVersion: 'unknown',
  sourceCluster: 'Kubernetes',
  destinationWorkload: 'reviews-v1',
  destinationWorkloadNamespace: 'default',
  destinationPrincipal: 'unknown',
  destinationApp: 'reviews',
  destinationVersion: 'v1',
  destinationService: 'reviews.default.svc.cluster.local',
  destinationCanonicalService: 'reviews',
  destinationCanonicalRevision: 'v1',
  destinationServiceName: 'reviews',
  destinationServiceNamespace: 'default',
  destinationCluster: 'Kubernetes',
  connectionSecurityPolicy: 'unknown',
} as const;
const labels = (): RequestLabels => ({ ...peer, responseCode: 200, responseFlags: '-' });
const group = {};
const line = (text: string, name: string, le?: string) => {
  const found = text.split('\n').find((l) => l.startsWith(`${name}{`) && (le === undefined || l.includes(`le="${le}"`)));
  return found === undefined ? undefined : Number(found.slice(found.lastIndexOf(' ') + 1));
};

/** Istio's label names of istio_requests_total (istio.io, "Istio Standard Metrics"), in any order. */
const ISTIO_REQUEST_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_canonical_service',
  'source_canonical_revision',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
];
const labelNames = (sample: string) => [...sample.matchAll(/([a-z_]+)="/g)].map((m) => m[1]);

describe('request metrics', () => {
  test('histogram buckets are Envoy defaults, cumulative; +Inf and _count are the total, _sum the sum', () => {
    const m = new Metrics();
    for (const ms of [0.3, 0.5, 3, 70_000]) m.recordIn(group, '200', labels, ms, 0, 150);
    const text = m.render();
    const d = 'istio_request_duration_milliseconds';
    expect(DEFAULT_BUCKETS).toEqual([
      0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
    ]);
    expect(
      [
        ['0.5', 2],
        ['1', 2],
        ['5', 3],
        ['60000', 3],
        ['300000', 4],
        ['+Inf', 4],
      ].map(([le]) => line(text, `${d}_bucket`, String(le))),
    ).toEqual([2, 2, 3, 3, 4, 4]);
    expect(line(text, `${d}_count`)).toBe(4);
    expect(line(text, `${d}_sum`)).toBeCloseTo(70_003.8);
    expect(line(text, 'istio_response_bytes_bucket', '100')).toBe(0);
    expect(line(text, 'istio_response_bytes_bucket', '250')).toBe(4);
    expect(line(text, 'istio_request_bytes_bucket', '0.5')).toBe(4);
    expect(line(text, 'istio_requests_total')).toBe(4);
  });

  test('a series carries every label of Istio standard metrics; grpc_response_status only on gRPC (empty is absent to Prometheus)', () => {
    const m = new Metrics();
    m.recordIn(group, '200', labels, 1, 0, 0);
    m.recordIn(group, '200|grpc', () => ({ ...labels(), grpcStatus: 14 }), 1, 0, 0);
    const samples = m
      .render()
      .split('\n')
      .filter((l) => l.startsWith('istio_requests_total{'));
    expect(samples).toHaveLength(2);
    expect(labelNames(samples[1]).sort()).toEqual([...ISTIO_REQUEST_LABELS].sort());
    expect(labelNames(samples[0]).sort()).toEqual(ISTIO_REQUEST_LABELS.filter((l) => l !== 'grpc_response_status').sort());
    expect(samples[0]).toContain('request_protocol="http"');
    expect(samples[1]).toContain('request_protocol="grpc"');
    expect(samples[1]).toContain('grpc_response_status="14"');
  });

  test('keys of a group that map to the same labels share one series; labels are made once per key', () => {
    const m = new Metrics();
    let made = 0;
    const counted = () => (made++, labels());
    for (let i = 0; i < 5; i++) m.recordIn(group, '200|10.0.0.1:80', counted, 1, 0, 0);
    m.recordIn(group, '200|10.0.0.2:80', counted, 1, 0, 0);
    expect(made).toBe(2);
    expect(m.render().match(/^istio_requests_total\{/gm)).toHaveLength(1);
    expect(line(m.render(), 'istio_requests_total')).toBe(6);
  });

  test('label values are escaped', () => {
    const text = peerLabelText({ ...peer, sourceWorkload: 'a"b\\c\nd' });
    expect(text).toContain('source_workload="a\\"b\\\\c\\nd"');
  });

  test("another process's snapshot is added bucket by bucket, TCP series and counters too", () => {
    const a = new Metrics();
    const b = new Metrics();
    a.recordIn(group, '200', labels, 0.2, 0, 10);
    b.recordIn(group, '200', labels, 7, 0, 10);
    b.recordIn(group, '200', labels, 8, 0, 10);
    a.tcpSeries(group, '', () => ({ ...peer, responseFlags: '-' })).opened++;
    b.tcpSeries(group, '', () => ({ ...peer, responseFlags: '-' })).opened += 2;
    b.inc('mast_mirror_dropped_total');
    const text = a.render([b.snapshot()]);
    const d = 'istio_request_duration_milliseconds';
    expect(line(text, `${d}_bucket`, '0.5')).toBe(1);
    expect(line(text, `${d}_bucket`, '10')).toBe(3);
    expect(line(text, `${d}_count`)).toBe(3);
    expect(line(text, 'istio_requests_total')).toBe(3);
    expect(line(text, 'istio_tcp_connections_opened_total')).toBe(3);
    expect(text).toMatch(/^mast_mirror_dropped_total 1$/m);
  });

  test('every scrape says which build it is, as Istio\'s proxies do: istio_build{component="proxy",tag=<version>} 1', () => {
    expect(new Metrics().render()).toContain(`\nistio_build{component="proxy",tag="${MAST_VERSION}"} 1\n`);
    expect(MAST_VERSION).toBe(packageVersion);
  });

  test('every family has one # HELP and one # TYPE, before its samples', () => {
    const m = new Metrics();
    m.recordIn(group, '200', labels, 1, 0, 0);
    m.tcpSeries(group, '', () => ({ ...peer, responseFlags: '-' })).closed++;
    m.inc('mast_peer_input_errors_total{side="downstream"}');
    m.inc('mast_peer_input_errors_total{side="upstream"}');
    m.inc('mast_something_new_total');
    const lines = m.render().trimEnd().split('\n');
    const declared = new Map<string, string[]>();
    for (const l of lines) {
      const meta = /^# (HELP|TYPE) (\S+) (.+)$/.exec(l);
      if (meta) {
        declared.set(meta[2], [...(declared.get(meta[2]) ?? []), meta[1]]);
        continue;
      }
      const name = /^[a-z_]+/.exec(l)![0];
      const family = name.replace(/_(bucket|sum|count)$/, '');
      expect(declared.get(declared.has(name) ? name : family)).toEqual(['HELP', 'TYPE']);
    }
    expect([...declared.keys()]).toEqual([
      'istio_build',
      'istio_requests_total',
      'istio_request_duration_milliseconds',
      'istio_request_bytes',
      'istio_response_bytes',
      'istio_request_messages_total',
      'istio_response_messages_total',
      'istio_tcp_sent_bytes_total',
      'istio_tcp_received_bytes_total',
      'istio_tcp_connections_opened_total',
      'istio_tcp_connections_closed_total',
      'mast_peer_input_errors_total',
      'mast_something_new_total',
    ]);
  });
});

test("gRPC messages: Istio's two counters have samples for the series of gRPC requests only, summed per series", () => {
  const m = new Metrics();
  const grpc = (): RequestLabels => ({ ...peer, responseCode: 200, responseFlags: '-', grpcStatus: 0 });
  m.recordIn(group, 'grpc', grpc, 1, 10, 20, { request: 1, response: 3 });
  m.recordIn(group, 'grpc', grpc, 1, 10, 20, { request: 2, response: 0 });
  m.recordIn(group, 'http', labels, 1, 10, 20);
  const text = m.render();
  expect(text).toContain('# TYPE istio_request_messages_total counter');
  expect(text).toContain('# TYPE istio_response_messages_total counter');
  const samples = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`));
  expect(samples('istio_request_messages_total')).toEqual([
    expect.stringMatching(/request_protocol="grpc".*grpc_response_status="0"\} 3$/),
  ]);
  expect(samples('istio_response_messages_total')).toEqual([expect.stringMatching(/\} 3$/)]);
  // A worker's snapshot merged in adds its messages.
  const worker = new Metrics();
  worker.recordIn(group, 'grpc', grpc, 1, 10, 20, { request: 5, response: 5 });
  expect(
    m
      .render([worker.snapshot()])
      .split('\n')
      .find((l) => l.startsWith('istio_request_messages_total{')),
  ).toMatch(/\} 8$/);
});
