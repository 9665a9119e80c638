/** mastd's registry as Istio's control-plane dashboard reads it, and HELP/TYPE for every family (checked by promtool when installed). */
import { spawnSync } from 'node:child_process';
import { ConfigEvents } from '../../../runtime/control/config-events';
import { mastdRegistry, pushHistograms, type PushTrigger } from '../../../runtime/control/pilot-metrics';

const histograms = pushHistograms();
for (const ms of [50, 400, 2_000, 45_000]) {
  histograms.convergence.observe(ms / 1000);
  histograms.convergenceMs.observe(ms);
}
for (const s of [0.002, 0.004, 0.2]) histograms.pushTime.observe(s);
for (const bytes of [900, 25_000]) histograms.configSize.observe(bytes);
const events = new ConfigEvents();
const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews', namespace: 'default' } };
const route = (weight: number) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'default' },
  spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' }, weight }] }] },
});
events.observe([service, route(100)]);
events.observe([route(50)]);
const counters = { pushes: 7, pushErrors: 0, acks: 6, nacks: 1, rejectedPeers: 0, certificates: 4, overCap: 0 };
const sources = (events: ConfigEvents) => ({
  counters,
  histograms,
  connected: () => 3,
  rejectedResources: () => 0,
  triggers: new Map<PushTrigger, number>([['config', 2]]),
  internalErrors: () => 1,
  events,
  jwks: () => [
    { uri: 'https://a/keys', fetches: 1, failures: 0 },
    { uri: 'https://b/"keys"', fetches: 2, failures: 1 },
  ],
});
const registry = mastdRegistry(sources(events));
let text = '';
beforeAll(async () => {
  text = await registry.metrics();
});

test('pilot_* families as Istio names them: pushes by xDS type, rejects, connected proxies, convergence in seconds', () => {
  expect(text).toMatch(/^pilot_xds_pushes\{type="cds"\} 7$/m);
  expect(text).toMatch(/^pilot_xds_pushes\{type="eds"\} 7$/m);
  expect(text).toMatch(/^pilot_total_xds_rejects 1$/m);
  expect(text).toMatch(/^pilot_xds 3$/m);
  expect(text).toMatch(/^citadel_server_success_cert_issuance_count 4$/m);
  // The Mesh dashboard's "Istio Component Versions" reads the control plane's build under this name.
  expect(text).toMatch(/^istio_build\{component="pilot",tag="\d+\.\d+\.\d+[^"]*"\} 1$/m);
  // Cumulative buckets in seconds: 0.05 s, 0.4 s, 2 s, 45 s.
  const bucket = (le: string) =>
    Number(new RegExp(`^pilot_proxy_convergence_time_bucket\\{le="${le.replace('+', '\\+')}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
  expect(['0.1', '0.5', '1', '3', '30', '+Inf'].map(bucket)).toEqual([1, 2, 2, 3, 3, 4]);
  expect(text).toMatch(/^pilot_proxy_convergence_time_sum 47\.45$/m);
});

test("the Control Plane dashboard's push panels: push time and config size as Istio's histograms, triggers, internal errors", () => {
  expect(text).toMatch(/^pilot_xds_push_time_bucket\{le="0\.01"\} 2$/m);
  expect(text).toMatch(/^pilot_xds_push_time_bucket\{le="0\.5"\} 3$/m);
  expect(text).toMatch(/^pilot_xds_config_size_bytes_bucket\{le="10000"\} 1$/m);
  expect(text).toMatch(/^pilot_xds_config_size_bytes_count 2$/m);
  expect(text).toMatch(/^pilot_push_triggers\{type="config"\} 2$/m);
  expect(text).toMatch(/^pilot_push_triggers\{type="endpoint"\} 0$/m);
  expect(text).toMatch(/^pilot_total_xds_internal_errors 1$/m);
});

test('config events: the mesh kinds under pilot_k8s_cfg_events, the registry under pilot_k8s_reg_events, by kind and event', async () => {
  expect(text).toMatch(/^pilot_k8s_cfg_events\{type="VirtualService",event="add"\} 1$/m);
  expect(text).toMatch(/^pilot_k8s_cfg_events\{type="VirtualService",event="update"\} 1$/m);
  expect(text).toMatch(/^pilot_k8s_reg_events\{type="Service",event="add"\} 1$/m);
  expect(text).toMatch(/^pilot_k8s_reg_events\{type="Service",event="delete"\} 1$/m);
  // The same objects again: no event.
  const again = new ConfigEvents();
  again.observe([route(50)]);
  again.observe([route(50)]);
  // A kind's three series from its first event on, at 0 (a rate then sees its first update).
  const lines = (await mastdRegistry(sources(again)).getSingleMetricAsString('pilot_k8s_cfg_events')).split('\n');
  expect(lines.filter((l) => !l.startsWith('#'))).toEqual([
    'pilot_k8s_cfg_events{type="VirtualService",event="add"} 1',
    'pilot_k8s_cfg_events{type="VirtualService",event="update"} 0',
    'pilot_k8s_cfg_events{type="VirtualService",event="delete"} 0',
  ]);
});

test("mastd's own process figures from prom-client's default metrics", () => {
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'process_start_time_seconds',
    'nodejs_heap_size_used_bytes',
  ])
    expect(text).toMatch(new RegExp(`^${name} \\d+(\\.\\d+)?(e[-+]\\d+)?$`, 'm'));
});

test('every family has one HELP and one TYPE, as prom-client declares them', () => {
  expect(text).toContain('# TYPE mastd_pushes_total counter');
  expect(text).toContain('# TYPE mastd_connected_proxies gauge');
  expect(text).toContain('# TYPE mastd_convergence_ms histogram');
  expect(text.match(/^# TYPE mastd_jwks_fetches_total /gm)).toHaveLength(1);
  expect(text).toContain('# TYPE pilot_xds_pushes counter');
  expect(text).toContain('# TYPE process_cpu_seconds_total counter');
  const types = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
  expect(new Set(types).size).toBe(types.length);
});

test('mastd_* families: counts read from the push server at each scrape, convergence in ms, JWKS fetches by URI (label escaped)', async () => {
  expect(text).toMatch(/^mastd_pushes_total 7$/m);
  expect(text).toMatch(/^mastd_connected_proxies 3$/m);
  expect(text).toMatch(/^mastd_convergence_ms_bucket\{le="500"\} 2$/m);
  expect(text).toMatch(/^mastd_convergence_ms_count 4$/m);
  expect(text).toMatch(/^mastd_jwks_fetches_total\{uri="https:\/\/a\/keys"\} 1$/m);
  expect(text).toMatch(/^mastd_jwks_fetch_failures_total\{uri="https:\/\/b\/\\"keys\\""\} 1$/m);
  // Nothing is copied at registration: the next scrape sees the push server's counts as they are then.
  counters.pushes += 2;
  expect(await registry.getSingleMetricAsString('pilot_xds_pushes')).toMatch(/^pilot_xds_pushes\{type="lds"\} 9$/m);
  expect(await registry.getSingleMetricAsString('mastd_pushes_total')).toMatch(/^mastd_pushes_total 9$/m);
});

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
(promtool.error ? test.skip : test)('promtool parses it', () => {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10_000 });
  // Exit 1 is a parse error; 3 is lint findings only (Istio's names break its naming advice; one has `errors` in it).
  expect([r.status, r.stdout + r.stderr]).toEqual([r.status === 3 ? 3 : 0, expect.not.stringMatching(/error while|parsing error/)]);
});
