/**
 * mast's Control Plane dashboard: mastd's versions, CPU and memory, what it pushes, why and how
 * fast, what the proxies rejected, and the certificates it issued, from the `pilot_*` and
 * `citadel_*` families mastd exports under Istio's names. mastd's process figures are picked by
 * `and on (instance) pilot_xds`: the targets that are a control plane, whatever else a pod exports.
 */
import { series } from './panels';
import type { DashboardSpec } from './grafana';
import { rate, sumBy } from './promql';

const ofMastd = (expr: string) => `${expr} and on (instance) pilot_xds`;
const quantiles = (histogram: string) =>
  [0.5, 0.99].map((q) => ({ expr: `histogram_quantile(${q}, ${sumBy(['le'], rate(`${histogram}_bucket`, []))})`, legend: `P${q * 100}` }));

export const controlPlaneDashboard: DashboardSpec = {
  uid: 'mast-control-plane',
  title: 'mast / Control Plane',
  description: 'mastd: versions, resources, pushes and their triggers, push time and size, convergence, rejections, certificates.',
  tags: ['mast', 'istio'],
  variables: [],
  rows: [
    {
      title: 'Versions and resources',
      panels: [
        series('mastd versions', 'Running mastd instances by version.', 'short', [
          { expr: 'sum by (tag) (istio_build{component="pilot"})', legend: '{{tag}}' },
        ]),
        series('CPU', 'CPU seconds per second each mastd used.', 'short', [
          { expr: ofMastd('rate(process_cpu_seconds_total[$__rate_interval])'), legend: '{{instance}}' },
        ]),
        series('Memory', "Each mastd's resident memory and V8 heap in use.", 'decbytes', [
          { expr: ofMastd('process_resident_memory_bytes'), legend: 'resident {{instance}}' },
          { expr: ofMastd('nodejs_heap_size_used_bytes'), legend: 'heap {{instance}}' },
        ]),
      ],
    },
    {
      title: 'Pushes',
      panels: [
        series('Pushes', 'Configs pushed to proxies per second, by xDS type (a mast push carries them all).', 'short', [
          { expr: sumBy(['type'], rate('pilot_xds_pushes', [])), legend: '{{type}}' },
        ]),
        series('Push triggers', 'Snapshots per second, by cause: a config change, or endpoints changing readiness.', 'short', [
          { expr: sumBy(['type'], rate('pilot_push_triggers', [])), legend: '{{type}}' },
        ]),
        series('Config events', 'Objects added, updated and deleted per second: mesh config, and the service registry.', 'short', [
          { expr: sumBy(['type', 'event'], rate('pilot_k8s_cfg_events', [])), legend: 'config {{type}} {{event}}' },
          { expr: sumBy(['type', 'event'], rate('pilot_k8s_reg_events', [])), legend: 'registry {{type}} {{event}}' },
        ]),
        series('Connected proxies', 'Proxies holding a push stream to mastd.', 'short', [{ expr: 'sum(pilot_xds)', legend: 'proxies' }]),
        series('Push time', 'P50 and P99 of the time to build and send one proxy its config.', 's', quantiles('pilot_xds_push_time')),
        series(
          'Config size',
          'P50 and P99 of the size of each push (a whole config or a delta).',
          'decbytes',
          quantiles('pilot_xds_config_size_bytes'),
        ),
        series(
          'Convergence',
          'P50 and P99 of the time from a config change to every proxy having acknowledged it.',
          's',
          quantiles('pilot_proxy_convergence_time'),
        ),
        series('Errors', 'Configs proxies rejected (NACKs), and updates mastd failed to turn into a snapshot.', 'short', [
          { expr: 'sum(pilot_total_xds_rejects)', legend: 'rejected by proxies' },
          { expr: 'sum(pilot_total_xds_internal_errors)', legend: 'internal' },
        ]),
      ],
    },
    {
      title: 'Certificates',
      panels: [
        series('Certificates issued', 'Workload certificates mastd signed per second.', 'short', [
          { expr: sumBy([], rate('citadel_server_success_cert_issuance_count', [])), legend: 'issued' },
        ]),
      ],
    },
  ],
};
