/** Requests into Istio's series as Telemetry records them: each request counted in the series of its own response, in whatever order they come. */
import type { ProxyConfig } from '../../../runtime/contract/proxy-config';
import { Metrics } from '../../../runtime/proxy/metrics';
import { requestFinished, type RequestRecord } from '../../../runtime/proxy/request/record';
import { Telemetry } from '../../../runtime/proxy/telemetry';

const identity = { mode: 'gateway' as const, workload: 'gw', namespace: 'mast-system', serviceAccount: 'gw-sa' };

function publish(owner: object, status: number, flags = '-'): void {
  const record = { owner, request: {}, inbound: false, status, flags, ms: 1, bytesIn: 0, bytesOut: 10, requestId: 'r', authority: 'a' };
  requestFinished.publish(record as unknown as RequestRecord);
}

/** istio_requests_total by response code and flags, from the Prometheus text. */
function totals(m: Metrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of m.render().split('\n')) {
    const s = /^istio_requests_total\{.*response_code="(\d+)".*response_flags="([^"]*)".*\} (\d+)$/.exec(l);
    if (s) out[`${s[1]} ${s[2]}`] = (out[`${s[1]} ${s[2]}`] ?? 0) + Number(s[3]);
  }
  return out;
}

test('a run of alike requests and the ones between them each land in their own series', () => {
  const owner: { identity: typeof identity; config?: ProxyConfig } = { identity };
  const metrics = new Metrics();
  const telemetry = new Telemetry(owner, identity, metrics);
  try {
    for (const [status, flags] of [[200], [200], [503, 'UH'], [200], [503, 'UO'], [503, 'UO'], [503, 'UH'], [404, 'NR']] as const)
      publish(owner, status, flags);
    expect(totals(metrics)).toEqual({ '200 -': 3, '503 UH': 2, '503 UO': 2, '404 NR': 1 });
    // Another proxy's requests (a process may hold several) are not this one's, before or after its own.
    publish({ identity }, 200);
    publish(owner, 200);
    expect(totals(metrics)['200 -']).toBe(4);
  } finally {
    telemetry.close();
  }
});

test("after a push, requests alike to the last one before it are counted with the new config's labels", () => {
  const owner: { identity: typeof identity; config?: ProxyConfig } = { identity };
  const metrics = new Metrics();
  const telemetry = new Telemetry(owner, identity, metrics);
  try {
    publish(owner, 200);
    // mastd names the gateway's workload (its Deployment) in the config it pushes: the source labels change.
    const workload = {
      identity: 'ns/mast-system/sa/gw-sa',
      workload: 'ingress',
      namespace: 'mast-system',
      app: 'unknown',
      version: 'unknown',
    };
    owner.config = { workloads: [workload] } as unknown as ProxyConfig;
    publish(owner, 200);
    publish(owner, 200);
    const samples = metrics
      .render()
      .split('\n')
      .filter((l) => l.startsWith('istio_requests_total{'));
    expect(samples).toHaveLength(2);
    expect(samples.find((l) => l.includes('source_workload="gw"'))).toMatch(/ 1$/);
    expect(samples.find((l) => l.includes('source_workload="ingress"'))).toMatch(/ 2$/);
  } finally {
    telemetry.close();
  }
});
