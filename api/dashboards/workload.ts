/**
 * mast's Workload dashboard: one workload (`$namespace`, `$workload`: a Deployment's name, or the
 * ingress gateway's), its inbound traffic as its sidecar reports it (`reporter="destination"`) and
 * its outbound calls as its sidecar or gateway reports them (`reporter="source"`), HTTP, gRPC and TCP.
 */
import { durations, series, stat } from './panels';
import type { DashboardSpec } from './grafana';
import { DESTINATION, legend, type Matcher, mtlsShare, quantile, rate, requests, SOURCE, sumBy, successRate } from './promql';

const CALLER = ['source_workload', 'source_workload_namespace'];
const SERVICE = ['destination_service'];
const byCaller = legend(...CALLER);
const byService = legend(...SERVICE);

const inbound: Matcher[] = [DESTINATION, ['destination_workload', '=', '$workload'], ['destination_workload_namespace', '=', '$namespace']];
const outbound: Matcher[] = [SOURCE, ['source_workload', '=', '$workload'], ['source_workload_namespace', '=', '$namespace']];

/**
 * The namespaces, or a namespace's workloads, that report metrics: a server's own name is its
 * `destination_workload` (reporter="destination"), a client's or a gateway's its `source_workload`
 * (reporter="source"); both read with one query, whose `label` Grafana's regex picks.
 */
function reporting(label: 'namespace' | 'workload', namespace?: string): string {
  const side = (reporter: 'destination' | 'source') => {
    const inNamespace = namespace ? `, ${reporter}_workload_namespace="${namespace}"` : '';
    const from = label === 'namespace' ? `${reporter}_workload_namespace` : `${reporter}_workload`;
    const series = `{__name__=~"istio_requests_total|istio_tcp_connections_opened_total", reporter="${reporter}"${inNamespace}}`;
    return `label_replace(${series}, "${label}", "$1", "${from}", "(.+)")`;
  };
  return `query_result(count by (${label}) (${side('destination')} or ${side('source')}))`;
}

export const workloadDashboard: DashboardSpec = {
  uid: 'mast-workload',
  title: 'mast / Workload',
  description: 'One workload: who calls it, whom it calls, how fast and how well, over mTLS or not; HTTP, gRPC and TCP.',
  tags: ['mast', 'istio'],
  variables: [
    { kind: 'query', name: 'namespace', label: 'Namespace', query: reporting('namespace'), regex: '/namespace="([^"]+)"/' },
    {
      kind: 'query',
      name: 'workload',
      label: 'Workload',
      query: reporting('workload', '$namespace'),
      regex: '/workload="([^"]+)"/',
    },
  ],
  rows: [
    {
      title: 'Overview',
      panels: [
        stat('Inbound requests', 'Requests per second the workload received.', 'reqps', requests(inbound)),
        stat('Inbound success rate', 'Share of them it did not answer with a 5xx.', 'percentunit', successRate(inbound)),
        stat('Outbound requests', 'Requests per second the workload sent to other services.', 'reqps', requests(outbound)),
        stat('Outbound success rate', 'Share of them not answered with a 5xx.', 'percentunit', successRate(outbound)),
      ],
    },
    {
      title: 'Inbound',
      panels: [
        series('Requests by caller and response code', 'Requests per second, by the calling workload and the response code.', 'reqps', [
          { expr: requests(inbound, [...CALLER, 'response_code']), legend: `${byCaller} {{response_code}}` },
        ]),
        series('Success rate by caller', "Share of each caller's requests not answered with a 5xx.", 'percentunit', [
          { expr: successRate(inbound, CALLER), legend: byCaller },
        ]),
        series(
          'Request duration by caller',
          'P50, P90, P99 per caller, as this sidecar measured them.',
          's',
          durations(inbound, CALLER, byCaller),
        ),
        series(
          'mTLS share by caller',
          "Share of each caller's requests that arrived over mutual TLS (a caller outside the mesh: 0).",
          'percentunit',
          [{ expr: mtlsShare(inbound, CALLER), legend: byCaller }],
        ),
        series('Request and response size by caller', 'P90 of request and response sizes (head and body).', 'decbytes', [
          { expr: quantile(0.9, 'istio_request_bytes', inbound, CALLER), legend: `request ${byCaller}` },
          { expr: quantile(0.9, 'istio_response_bytes', inbound, CALLER), legend: `response ${byCaller}` },
        ]),
      ],
    },
    {
      title: 'Outbound',
      panels: [
        series(
          'Requests by destination and response code',
          'Requests per second the workload sent, by service and response code.',
          'reqps',
          [{ expr: requests(outbound, [...SERVICE, 'response_code']), legend: `${byService} {{response_code}}` }],
        ),
        series('Success rate by destination', 'Share of the requests to each service not answered with a 5xx.', 'percentunit', [
          { expr: successRate(outbound, SERVICE), legend: byService },
        ]),
        series(
          'Request duration by destination',
          'P50, P90, P99 per service, as this proxy measured them (the network and the server included).',
          's',
          durations(outbound, SERVICE, byService),
        ),
        series(
          'Requests by destination workload',
          'Requests per second to each workload (version) behind the services it calls.',
          'reqps',
          [
            {
              expr: requests(outbound, ['destination_workload', 'destination_workload_namespace']),
              legend: legend('destination_workload', 'destination_workload_namespace'),
            },
          ],
        ),
      ],
    },
    {
      title: 'TCP',
      panels: [
        series('Inbound TCP bytes by caller', 'Bytes per second the workload received from and sent to each TCP caller.', 'Bps', [
          { expr: sumBy(CALLER, rate('istio_tcp_received_bytes_total', inbound)), legend: `received ${byCaller}` },
          { expr: sumBy(CALLER, rate('istio_tcp_sent_bytes_total', inbound)), legend: `sent ${byCaller}` },
        ]),
        series('Outbound TCP bytes by destination', 'Bytes per second the workload sent to each TCP service and got back from it.', 'Bps', [
          { expr: sumBy(SERVICE, rate('istio_tcp_received_bytes_total', outbound)), legend: `sent ${byService}` },
          { expr: sumBy(SERVICE, rate('istio_tcp_sent_bytes_total', outbound)), legend: `received ${byService}` },
        ]),
        series('TCP connections', 'Connections per second opened to the workload (by caller) and by it (by service).', 'short', [
          { expr: sumBy(CALLER, rate('istio_tcp_connections_opened_total', inbound)), legend: `from ${byCaller}` },
          { expr: sumBy(SERVICE, rate('istio_tcp_connections_opened_total', outbound)), legend: `to ${byService}` },
        ]),
      ],
    },
  ],
};
