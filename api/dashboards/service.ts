/**
 * mast's Service dashboard: one service (`$service`, a destination_service such as
 * reviews.default.svc.cluster.local), seen by its clients' sidecars (`reporter="source"`) and by
 * its own workloads' sidecars (`reporter="destination"`): who calls it, which of its workloads
 * answer, how fast, over mTLS or not, and its TCP traffic.
 */
import { durations, series, stat } from './panels';
import type { DashboardSpec } from './grafana';
import { DESTINATION, legend, type Matcher, mtlsShare, quantile, rate, requests, SOURCE, sumBy, successRate } from './promql';

const SERVICE: Matcher = ['destination_service', '=', '$service'];
const CALLER = ['source_workload', 'source_workload_namespace'];
const WORKLOAD = ['destination_workload', 'destination_workload_namespace'];
const byCaller = legend(...CALLER);
const byWorkload = legend(...WORKLOAD);

const server: Matcher[] = [DESTINATION, SERVICE];
const client: Matcher[] = [SOURCE, SERVICE];

export const serviceDashboard: DashboardSpec = {
  uid: 'mast-service',
  title: 'mast / Service',
  description: 'One service: its clients, its workloads, latency, sizes, mTLS and TCP traffic.',
  tags: ['mast', 'istio'],
  variables: [{ kind: 'query', name: 'service', label: 'Service', query: 'label_values(destination_service)' }],
  rows: [
    {
      title: 'Overview',
      panels: [
        stat(
          'Client requests',
          "Requests per second to the service, as its clients' sidecars and gateways sent them.",
          'reqps',
          requests(client),
        ),
        stat('Client success rate', 'Share of them not answered with a 5xx.', 'percentunit', successRate(client)),
        stat('Server requests', "Requests per second the service's workloads received.", 'reqps', requests(server)),
        stat('Server success rate', 'Share of them not answered with a 5xx.', 'percentunit', successRate(server)),
        series(
          'Client request duration',
          'P50, P90, P99 as the clients measured them (network and their proxies included).',
          's',
          durations(client, [], ''),
        ),
        series('Server request duration', "P50, P90, P99 as the service's sidecars measured them.", 's', durations(server, [], '')),
      ],
    },
    {
      title: 'Callers',
      panels: [
        series('Requests by caller and response code', 'Requests per second, by the calling workload and the response code.', 'reqps', [
          { expr: requests(server, [...CALLER, 'response_code']), legend: `${byCaller} {{response_code}}` },
        ]),
        series('Success rate by caller', "Share of each caller's requests not answered with a 5xx.", 'percentunit', [
          { expr: successRate(server, CALLER), legend: byCaller },
        ]),
        series('Request duration by caller', 'P50, P90, P99 per caller, at the server.', 's', durations(server, CALLER, byCaller)),
        series(
          'mTLS share by caller',
          "Share of each caller's requests that arrived over mutual TLS (a caller outside the mesh: 0).",
          'percentunit',
          [{ expr: mtlsShare(server, CALLER), legend: byCaller }],
        ),
        series('Request size by caller', 'P50 and P90 of request sizes (head and body).', 'decbytes', [
          { expr: quantile(0.5, 'istio_request_bytes', server, CALLER), legend: `P50 ${byCaller}` },
          { expr: quantile(0.9, 'istio_request_bytes', server, CALLER), legend: `P90 ${byCaller}` },
        ]),
        series('Response size by caller', 'P50 and P90 of response sizes (head and body).', 'decbytes', [
          { expr: quantile(0.5, 'istio_response_bytes', server, CALLER), legend: `P50 ${byCaller}` },
          { expr: quantile(0.9, 'istio_response_bytes', server, CALLER), legend: `P90 ${byCaller}` },
        ]),
      ],
    },
    {
      title: 'Workloads of the service',
      panels: [
        series(
          'Requests by workload and response code',
          'Requests per second each workload (version) of the service answered, by code.',
          'reqps',
          [{ expr: requests(server, [...WORKLOAD, 'response_code']), legend: `${byWorkload} {{response_code}}` }],
        ),
        series('Success rate by workload', "Share of each workload's requests not answered with a 5xx.", 'percentunit', [
          { expr: successRate(server, WORKLOAD), legend: byWorkload },
        ]),
        series('Request duration by workload', 'P50, P90, P99 per workload.', 's', durations(server, WORKLOAD, byWorkload)),
        series('Traffic split by workload', "Each workload's share of the service's requests, as the clients routed them.", 'percentunit', [
          { expr: `${requests(client, WORKLOAD)} / scalar(${requests(client)})`, legend: byWorkload },
        ]),
      ],
    },
    {
      title: 'TCP',
      panels: [
        series('TCP bytes by caller', 'Bytes per second the service received from and sent to each caller.', 'Bps', [
          { expr: sumBy(CALLER, rate('istio_tcp_received_bytes_total', server)), legend: `received ${byCaller}` },
          { expr: sumBy(CALLER, rate('istio_tcp_sent_bytes_total', server)), legend: `sent ${byCaller}` },
        ]),
        series('TCP connections by caller', 'Connections per second each caller opened and closed.', 'short', [
          { expr: sumBy(CALLER, rate('istio_tcp_connections_opened_total', server)), legend: `opened ${byCaller}` },
          { expr: sumBy(CALLER, rate('istio_tcp_connections_closed_total', server)), legend: `closed ${byCaller}` },
        ]),
      ],
    },
  ],
};
