/** Prometheus text of the proxy's request telemetry: cumulative buckets, and series merged across processes. */
import { Metrics, type RequestLabels } from '../../../runtime/proxy/metrics';

const labels = (): RequestLabels => ({
  reporter: 'source',
  sourceWorkload: 'gw',
  sourceNamespace: 'default',
  destinationService: 'reviews.default.svc.cluster.local',
  destinationServiceName: 'reviews',
  destinationVersion: 'v1',
  responseCode: 200,
  responseFlags: '-',
});
const group = {};
const line = (text: string, name: string, le?: string) => {
  const found = text.split('\n').find((l) => l.startsWith(`${name}{`) && (le === undefined || l.includes(`le="${le}"`)));
  return found === undefined ? undefined : Number(found.slice(found.lastIndexOf(' ') + 1));
};

describe('request metrics', () => {
  test('histogram buckets are cumulative, +Inf and _count are the total, _sum the sum', () => {
    const m = new Metrics();
    for (const ms of [0.3, 0.5, 3, 70_000]) m.recordIn(group, 'source', 200, '-', labels, ms, 0, 150);
    const text = m.render();
    const d = 'istio_request_duration_milliseconds';
    expect(
      [
        ['0.5', 2],
        ['1', 2],
        ['5', 3],
        ['60000', 3],
        ['+Inf', 4],
      ].map(([le]) => line(text, `${d}_bucket`, String(le))),
    ).toEqual([2, 2, 3, 3, 4]);
    expect(line(text, `${d}_count`)).toBe(4);
    expect(line(text, `${d}_sum`)).toBeCloseTo(70_003.8);
    expect(line(text, 'istio_response_bytes_bucket', '100')).toBe(0);
    expect(line(text, 'istio_response_bytes_bucket', '1000')).toBe(4);
    expect(line(text, 'istio_request_bytes_bucket', '1')).toBe(4);
    expect(line(text, 'istio_requests_total')).toBe(4);
  });

  test("another process's snapshot is added bucket by bucket", () => {
    const a = new Metrics();
    const b = new Metrics();
    a.recordIn(group, 'source', 200, '-', labels, 0.2, 0, 10);
    b.recordIn(group, 'source', 200, '-', labels, 7, 0, 10);
    b.recordIn(group, 'source', 200, '-', labels, 8, 0, 10);
    const text = a.render([b.snapshot()]);
    const d = 'istio_request_duration_milliseconds';
    expect(line(text, `${d}_bucket`, '0.5')).toBe(1);
    expect(line(text, `${d}_bucket`, '10')).toBe(3);
    expect(line(text, `${d}_count`)).toBe(3);
    expect(line(text, 'istio_requests_total')).toBe(3);
  });
});
