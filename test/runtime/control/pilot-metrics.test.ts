/** mastd's metrics as Istio's control-plane dashboard reads them, and HELP/TYPE for every family (checked by promtool when installed). */
import { spawnSync } from 'node:child_process';
import { ConvergenceHistogram, pilotMetricLines, withHelp } from '../../../runtime/control/pilot-metrics';

const convergence = new ConvergenceHistogram();
for (const ms of [50, 400, 2_000, 45_000]) convergence.observe(ms);
const text = `${[
  ...withHelp([
    'mastd_pushes_total 7',
    'mastd_connected_proxies 3',
    'mastd_convergence_ms_bucket{le="10"} 1',
    'mastd_convergence_ms_bucket{le="+Inf"} 2',
    'mastd_convergence_ms_count 2',
    'mastd_convergence_ms_sum 30',
    'mastd_jwks_fetches_total{uri="a"} 1',
    'mastd_jwks_fetches_total{uri="b"} 2',
  ]),
  ...pilotMetricLines({ pushes: 7, nacks: 1, certificates: 4, connected: 3, convergence }),
].join('\n')}\n`;

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

test('every family has one HELP and one TYPE: counters by _total, histograms by their buckets, gauges otherwise', () => {
  expect(text).toContain('# TYPE mastd_pushes_total counter');
  expect(text).toContain('# TYPE mastd_connected_proxies gauge');
  expect(text).toContain('# TYPE mastd_convergence_ms histogram');
  expect(text.match(/^# TYPE mastd_jwks_fetches_total /gm)).toHaveLength(1);
  const types = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
  expect(new Set(types).size).toBe(types.length);
});

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
(promtool.error ? test.skip : test)('promtool parses it', () => {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10_000 });
  // Exit 1 is a parse error; 3 is lint findings only (Istio's names break its naming advice).
  expect([r.status, r.stdout + r.stderr]).toEqual([r.status === 3 ? 3 : 0, expect.not.stringContaining('error')]);
});
