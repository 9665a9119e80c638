/**
 * Istio's access log tasks (istio.io content/en/docs/tasks/observability/logs/access-log/ and
 * telemetry-api/) on one `mast local`: sleep and httpbin (httpbin.ts) in default, both with
 * sidecars; the task's `kubectl exec sleep -- curl httpbin:8000/status/418` is a request to sleep's
 * sidecar's outbound port. The proxies write their access logs to /dev/stdout, which `mast local`
 * prints as `[sidecar <name>.<namespace>] <line>`, as `kubectl logs -c istio-proxy` shows them.
 *
 * Steps: a root Telemetry enabling the built-in `envoy` provider → one line per request on both
 * proxies in Istio's default TEXT format, and its JSON labels with the mesh config's
 * `accessLogEncoding: JSON`; a Telemetry for sleep with `filter.expression:
 * response.code >= 400` → only the 4xx on sleep's; `disabled: true` for httpbin → none of the envoy
 * provider on httpbin's (an `envoyFileAccessLog` extension provider left on beside it is the witness).
 * Not tested here: the task's otel provider (mast writes files only, MAST0301), Loki.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ISTIO_JSON_LABELS } from '../../../api';
import type { LocalMesh } from '../../../runtime/local/local-mesh';
import { until } from '../../support/poll';
import { meshConfigDoc, meshYaml } from '../../support/mesh-yaml';
import { fromWorkload, rewriteMesh, startLocal, stopLocal } from '../support';
import { sleepAndHttpbin } from './httpbin-mesh';

const telemetry = (name: string, namespace: string, spec: string) => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${spec}`;

// The task's Telemetry: the built-in envoy provider, nothing else configured.
const MESH_DEFAULT = telemetry('mesh-default', 'istio-system', '  accessLogging:\n  - providers: [{ name: envoy }]');

/**
 * Istio's default TEXT format, field by field, for sleep → httpbin GET /status/<code>: the start
 * time, request line, code, flags, details, termination details, "transport failure", bytes in and
 * out, duration, upstream service time, "x-forwarded-for", "user-agent", "request id", "authority",
 * "upstream host", cluster, upstream local address, downstream local and remote, SNI, route.
 */
const textLine = (code: number) =>
  new RegExp(
    `^\\[\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\] "GET /status/${code} HTTP/1\\.1" ${code} - via_upstream - "-" 0 \\d+ \\d+ - ` +
      '"[^"]+" "[^"]+" "[0-9a-f-]{36}" "httpbin:8000" "127\\.0\\.0\\.1:\\d+" \\S+ - \\S+ 127\\.0\\.0\\.1:\\d+ - \\S+$',
  );

let dir = '';
let local: LocalMesh | undefined;
const logs: string[] = [];
const linesOf = (proxy: string, from = 0) =>
  logs
    .slice(from)
    .filter((l) => l.startsWith(`[sidecar ${proxy}] `))
    .map((l) => l.slice(`[sidecar ${proxy}] `.length))
    .filter((l) => l.includes('/status/'));
const curl = async (code: number) => {
  const r = await fromWorkload(local!, 'sleep', `http://httpbin:8000/status/${code}`, { 'user-agent': 'curl/8.5.0' });
  expect(r.status).toBe(code);
};

/** The workloads, the mesh-wide Telemetry and `extra`, applied to the running mesh. */
const apply = (...extra: string[]) => rewriteMesh(local!, join(dir, 'mesh.yaml'), meshYaml(workloads, MESH_DEFAULT, ...extra));

let workloads = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mast-access-log-'));
  workloads = await sleepAndHttpbin();
  writeFileSync(join(dir, 'mesh.yaml'), meshYaml(workloads, MESH_DEFAULT));
  local = await startLocal(dir, logs);
}, 90_000);
afterAll(() => stopLocal(local, dir));

describe('observability/logs/access-log', () => {
  test("a Telemetry enabling the envoy provider: sleep's and httpbin's proxies each log the request in Istio's TEXT format", async () => {
    const from = logs.length;
    await curl(418);
    await until(
      'a line on sleep and one on httpbin',
      () => linesOf('sleep.default', from).length && linesOf('httpbin.default', from).length,
    );
    const out = linesOf('sleep.default', from);
    const inbound = linesOf('httpbin.default', from);
    expect(out).toHaveLength(1);
    expect(inbound).toHaveLength(1);
    expect(out[0]).toMatch(textLine(418));
    expect(inbound[0]).toMatch(textLine(418));
    // One request: the same id on both sides, and the client's user agent.
    const id = (l: string) => /"([0-9a-f-]{36})"/.exec(l)?.[1];
    expect(id(out[0])).toBe(id(inbound[0]));
    expect(out[0]).toContain('"curl/8.5.0"');
    // The client side names the outbound cluster, the server side the inbound one (as Envoy's UPSTREAM_CLUSTER).
    expect(out[0]).toMatch(/ outbound\|8000\|\|httpbin\.default\.svc\.cluster\.local /);
    expect(inbound[0]).toMatch(/ inbound\|/);
  });
});

describe('observability/logs/access-log, mesh config', () => {
  test("accessLogEncoding: JSON (the task's other encoding): the envoy provider writes Istio's default JSON labels, typed", async () => {
    await apply(meshConfigDoc('accessLogEncoding: JSON'));
    const from = logs.length;
    await curl(418);
    await until(
      'a line on sleep and one on httpbin',
      () => linesOf('sleep.default', from).length && linesOf('httpbin.default', from).length,
    );
    const [out, inbound] = [linesOf('sleep.default', from), linesOf('httpbin.default', from)].map((l) => JSON.parse(l[0]));
    expect(Object.keys(out)).toEqual(Object.keys(ISTIO_JSON_LABELS));
    expect(out).toMatchObject({
      method: 'GET',
      path: '/status/418',
      protocol: 'HTTP/1.1',
      response_code: 418,
      response_flags: '-',
      response_code_details: 'via_upstream',
      user_agent: 'curl/8.5.0',
      authority: 'httpbin:8000',
      upstream_cluster: 'outbound|8000||httpbin.default.svc.cluster.local',
      route_name: 'default',
      upstream_service_time: null,
      requested_server_name: null,
    });
    expect(inbound.request_id).toBe(out.request_id);
    expect(inbound.upstream_cluster).toMatch(/^inbound\|/);
  });
});

describe('observability/logs/telemetry-api', () => {
  test('filter.expression response.code >= 400 for sleep: only the 4xx are logged on its proxy, httpbin logs both', async () => {
    await apply(
      telemetry(
        'filter-sleep-logging',
        'default',
        '  selector: { matchLabels: { app: sleep } }\n  accessLogging:\n  - providers: [{ name: envoy }]\n    filter: { expression: response.code >= 400 }',
      ),
    );
    const from = logs.length;
    await curl(200);
    await curl(404);
    await until('both requests on httpbin', () => linesOf('httpbin.default', from).length === 2);
    // sleep's lines leave its proxy in order: once the 503's is out, a 200's written before it would be too.
    await curl(503);
    await until("the 503 on sleep's proxy", () => linesOf('sleep.default', from).some((l) => l.includes('/status/503')));
    const out = linesOf('sleep.default', from);
    expect(out.map((l) => / (\d{3}) /.exec(l)?.[1])).toEqual(['404', '503']);
    expect(out[0]).toMatch(textLine(404));
  });

  test('disabled: true for httpbin: its proxy writes no line of the envoy provider, sleep goes on logging', async () => {
    // A second provider left on for httpbin writes to the same stdout after each request's envoy line
    // would have been: its line is the proof that nothing was held back. The task's Telemetry names one
    // provider; naming both keeps the witness in scope (as istiod: the lowest level naming providers chooses them).
    await apply(
      meshConfigDoc(`extensionProviders:
- name: witness
  envoyFileAccessLog: { path: /dev/stdout, logFormat: { text: "witness %REQ(:PATH)% %RESPONSE_CODE%" } }`),
      telemetry(
        'disable-httpbin-logging',
        'default',
        '  selector: { matchLabels: { app: httpbin } }\n  accessLogging:\n  - providers: [{ name: envoy }]\n    disabled: true\n  - providers: [{ name: witness }]',
      ),
    );
    const from = logs.length;
    await curl(418);
    await until("the request on sleep's proxy and the witness on httpbin's", () => {
      const witness = linesOf('httpbin.default', from).filter((l) => l.startsWith('witness '));
      return linesOf('sleep.default', from).length === 1 && witness.length === 1;
    });
    expect(linesOf('sleep.default', from)[0]).toMatch(textLine(418));
    expect(linesOf('httpbin.default', from)).toEqual(['witness /status/418 418']);
  });
});
