/**
 * The panels of Istio's Control Plane dashboard that mastd's metrics feed, and the queries of Istio's
 * querying-metrics task (observability/metrics/querying-metrics), in the form of dashboard-queries.ts.
 */
import { DASHBOARDS, type Expectation, type PanelQuery, positive, rate, sum, WINDOW } from './promql';

/** The Control Plane (pilot) dashboard's panels that mastd's metrics feed. */
export function controlPlaneDashboard(): PanelQuery[] {
  const at = (row: string, panel: string, series: string, query: string, expect: Expectation): PanelQuery => ({
    dashboard: DASHBOARDS.controlPlane,
    row,
    panel,
    series,
    query,
    expect,
  });
  const push = 'Push Information';
  return [
    at('Deployed Versions', 'Pilot Versions', '', 'sum by (tag) (istio_build{component="pilot"})', positive()),
    at(
      push,
      'XDS Pushes',
      '',
      sum(['type'], rate('pilot_xds_pushes', [])),
      positive(...['cds', 'eds', 'lds', 'rds'].map((type) => ({ type }))),
    ),
    at(push, 'Connections', 'server reported', 'sum (pilot_xds)', positive()),
    at(push, 'Push Errors', 'Rejected Config', 'sum by (type) (pilot_total_xds_rejects)', { kind: 'series', value: 'count', labels: [] }),
  ];
}

/** observability/metrics/querying-metrics: the totals to productpage and to reviews v3, and productpage's rate of 200s. */
export function queryingTask(): PanelQuery[] {
  const at = (panel: string, query: string, expect: Expectation): PanelQuery => ({
    dashboard: DASHBOARDS.queryingTask,
    row: 'Querying Istio Metrics',
    panel,
    series: '',
    query,
    expect,
  });
  return [
    at('every request', 'istio_requests_total', positive({ reporter: 'source' }, { reporter: 'destination' })),
    at(
      'requests to productpage',
      `istio_requests_total{destination_service="productpage.default.svc.cluster.local"}`,
      positive({ destination_workload: 'productpage-v1' }),
    ),
    at(
      'requests to reviews v3',
      `istio_requests_total{destination_service="reviews.default.svc.cluster.local",destination_version="v3"}`,
      positive({ destination_workload: 'reviews-v3' }),
    ),
    at(
      'rate of 200s to productpage',
      `rate(istio_requests_total{destination_service=~"productpage.*",response_code="200"}[${WINDOW}])`,
      positive({ response_code: '200' }),
    ),
  ];
}
