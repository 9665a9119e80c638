/**
 * mast's Mesh dashboard: the whole mesh at a glance. Totals come from the clients' side
 * (`reporter="source"`: a request through the ingress gateway counts once, 404s the gateway
 * answered itself included); per-workload panels from the servers' side (`reporter="destination"`:
 * callers from outside the mesh included).
 */
import { stat } from './panels';
import type { DashboardSpec } from './grafana';
import { DESTINATION, legend, mtlsShare, quantile, rate, requests, SOURCE, sumBy, successRate } from './promql';

const WORKLOAD = ['destination_workload', 'destination_workload_namespace'];
const byWorkload = legend('destination_workload', 'destination_workload_namespace');

export const meshDashboard: DashboardSpec = {
  uid: 'mast-mesh',
  title: 'mast / Mesh',
  description: "Every workload of the mesh: requests, errors, latency, mTLS and TCP traffic, from mast's proxies' Istio metrics.",
  tags: ['mast', 'istio'],
  variables: [],
  rows: [
    {
      title: 'Global traffic',
      panels: [
        stat('Requests', 'Requests per second through the mesh, counted by the clients.', 'reqps', requests([SOURCE])),
        stat('Success rate', 'Share of requests not answered with a 5xx.', 'percentunit', successRate([SOURCE])),
        stat('4xx', 'Requests per second answered 4xx.', 'reqps', `${requests([SOURCE, ['response_code', '=~', '4..']])} or vector(0)`),
        stat('5xx', 'Requests per second answered 5xx.', 'reqps', `${requests([SOURCE, ['response_code', '=~', '5..']])} or vector(0)`),
      ],
    },
    {
      title: 'HTTP and gRPC workloads',
      panels: [
        {
          title: 'Requests by workload',
          kind: 'timeseries',
          description: 'Requests per second each workload received, as its sidecar reports them.',
          unit: 'reqps',
          queries: [{ expr: requests([DESTINATION], WORKLOAD), legend: byWorkload }],
        },
        {
          title: 'Success rate by workload',
          kind: 'timeseries',
          description: 'Share of the requests each workload received that it did not answer with a 5xx.',
          unit: 'percentunit',
          queries: [{ expr: successRate([DESTINATION], WORKLOAD), legend: byWorkload }],
        },
        {
          title: 'Latency by workload',
          kind: 'timeseries',
          description: 'P50, P90 and P99 of the time each workload took to answer, as its sidecar measured it.',
          unit: 's',
          queries: [0.5, 0.9, 0.99].map((q) => ({
            expr: quantile(q, 'istio_request_duration_milliseconds', [DESTINATION], WORKLOAD),
            legend: `P${q * 100} ${byWorkload}`,
          })),
        },
        {
          title: 'mTLS share by workload',
          kind: 'timeseries',
          description: "Share of each workload's requests that arrived over mutual TLS.",
          unit: 'percentunit',
          queries: [{ expr: mtlsShare([DESTINATION], WORKLOAD), legend: byWorkload }],
        },
      ],
    },
    {
      title: 'TCP workloads',
      panels: [
        {
          title: 'TCP bytes by workload',
          kind: 'timeseries',
          description: 'Bytes per second each workload received from and sent to its TCP clients.',
          unit: 'Bps',
          queries: [
            { expr: sumBy(WORKLOAD, rate('istio_tcp_received_bytes_total', [DESTINATION])), legend: `received ${byWorkload}` },
            { expr: sumBy(WORKLOAD, rate('istio_tcp_sent_bytes_total', [DESTINATION])), legend: `sent ${byWorkload}` },
          ],
        },
        {
          title: 'TCP connections by workload',
          kind: 'timeseries',
          description: 'TCP connections per second each workload accepted and closed.',
          unit: 'short',
          queries: [
            { expr: sumBy(WORKLOAD, rate('istio_tcp_connections_opened_total', [DESTINATION])), legend: `opened ${byWorkload}` },
            { expr: sumBy(WORKLOAD, rate('istio_tcp_connections_closed_total', [DESTINATION])), legend: `closed ${byWorkload}` },
          ],
        },
      ],
    },
    {
      title: 'Versions',
      panels: [
        {
          title: 'Component versions',
          kind: 'table',
          description: 'How many proxies and control planes run each mast version.',
          unit: 'none',
          width: 24,
          queries: [{ expr: 'sum by (component, tag) (istio_build)' }],
        },
      ],
    },
  ],
};
