/**
 * The panel queries of Istio's Grafana dashboards (istio/istio manifests/addons/dashboards: the
 * Mesh, Service and Workload dashboards), as a user runs them against mast's metrics: each panel's
 * metric, selector, grouping and aggregation, with the dashboard's variables given concrete values
 * from the bookinfo example, and what the answer must hold.
 *
 * Two substitutions, the same for every panel:
 * - `[$__rate_interval]` with `irate` becomes `rate(...[WINDOW])`: irate reads the last two samples,
 *   which are equal once the test's traffic has stopped; a rate over a window that holds the
 *   traffic answers the same question (how much, with which labels) without a race.
 * - A variable left at "All" (source and destination workloads, namespaces, clusters) is no matcher:
 *   Grafana turns it into a regular expression of every value, which matches every series.
 * `reporter` ($qrep) is "source|destination" (both selected), so each panel's mTLS and plain
 * variants are both exercised.
 */

import { controlPlaneDashboard, queryingTask } from './pilot-and-task-queries';
import {
  BOTH,
  DASHBOARDS,
  type Expectation,
  MTLS,
  NOT_MTLS,
  type Matchers,
  type PanelQuery,
  positive,
  quantile,
  rate,
  ratio,
  seconds,
  successRate,
  sum,
} from './promql';

export { DASHBOARDS, type Expectation, type PanelQuery } from './promql';

/** The concrete values the dashboards' variables take here. */
export interface Scene {
  /** The Service dashboard's `$service` for HTTP panels, e.g. reviews.default.svc.cluster.local. */
  readonly httpService: string;
  /** Its workloads that must show (reviews-v1/v2/v3). */
  readonly httpServiceWorkloads: readonly string[];
  /** The workload of the Workload dashboard's HTTP panels (productpage-v1) and its namespace. */
  readonly httpWorkload: { readonly name: string; readonly namespace: string };
  /** Who calls that workload (the ingress gateway) and whom it calls (details, reviews). */
  readonly httpWorkloadCaller: { readonly name: string; readonly namespace: string };
  readonly httpWorkloadCallees: readonly string[];
  /** The mesh workload that calls httpService (productpage-v1). */
  readonly httpServiceCaller: string;
  /** A TCP service (tcp-echo), its workload, and the workload that opens its connections (the gateway). */
  readonly tcpService: string;
  readonly tcpWorkload: { readonly name: string; readonly namespace: string };
  readonly tcpCaller: { readonly name: string; readonly namespace: string };
  /** The workload a client outside the mesh calls in plain text (reviews-v1), and the TCP one (tcpWorkload). */
  readonly plainTarget: string;
  /** Every workload the gateway's HTTP traffic reaches, for the Mesh dashboard's workload table. */
  readonly meshWorkloads: readonly string[];
}

/** A source reporter cannot know the server's policy: Istio writes `unknown` there, and so does mast. */
const SOURCE_POLICY_UNKNOWN: Expectation = {
  kind: 'empty',
  why: 'reporter="source" carries connection_security_policy="unknown" on Istio (its docs: "set to unknown when report is from source"), so this mTLS-only selection is empty there too',
};

interface Section {
  readonly dashboard: PanelQuery['dashboard'];
  readonly row: string;
  /** The row's selection (service, workload, reporter). */
  readonly base: Matchers;
  /** Its grouping (by source workload, by destination workload, by destination service). */
  readonly by: readonly string[];
  /** Panel titles, as the dashboard names them in this row. */
  readonly titles: Readonly<Record<'requests' | 'success' | 'duration' | 'requestSize' | 'responseSize', string>>;
  /** What the mTLS and the plain variant of each panel must show (label sets; codes are added for the by-code panel). */
  readonly mtls: Expectation;
  readonly plain: Expectation;
  /** For the requests-by-code panel: the codes each variant must show. */
  readonly codes: { readonly mtls: readonly string[]; readonly plain: readonly string[] };
  /** The mTLS variant of the requests panel selects on `destination_principal=~"spiffe.*"` (the Workload dashboard's outbound row). */
  readonly principalForMtlsRequests?: boolean;
  readonly quantiles: readonly number[];
}

const withCodes = (e: Expectation, codes: readonly string[]): Expectation =>
  e.kind === 'empty' ? e : positive(...e.labels.map((l) => ({ ...l })), ...codes.map((c) => ({ response_code: c })));
const asRatio = (e: Expectation): Expectation => (e.kind === 'empty' ? e : ratio(...e.labels));

function httpSection(s: Section): PanelQuery[] {
  const out: PanelQuery[] = [];
  const at = (panel: string, series: string, query: string, expect: Expectation) =>
    out.push({ dashboard: s.dashboard, row: s.row, panel, series, query, expect });
  for (const [variant, policy, expect] of [
    ['mTLS', MTLS, s.mtls],
    ['plain', NOT_MTLS, s.plain],
  ] as const) {
    const m = [...s.base, ...policy];
    const requests =
      variant === 'mTLS' && s.principalForMtlsRequests
        ? [...s.base, ['destination_principal', '=~', 'spiffe.*'] as const]
        : variant === 'plain' && s.principalForMtlsRequests
          ? [...s.base, ['destination_principal', '!~', 'spiffe.*'] as const]
          : m;
    const requestsExpect =
      s.principalForMtlsRequests && variant === 'mTLS' && s.plain.kind === 'series'
        ? withCodes(s.plain, s.codes.plain)
        : s.principalForMtlsRequests && variant === 'plain'
          ? { kind: 'empty' as const, why: 'every call of this workload goes over mTLS, so no destination lacks a SPIFFE principal' }
          : withCodes(expect, s.codes[variant === 'mTLS' ? 'mtls' : 'plain']);
    at(
      s.titles.requests,
      variant,
      `round(${sum([...s.by, 'response_code'], rate('istio_requests_total', requests))}, 0.001)`,
      requestsExpect,
    );
    at(s.titles.success, variant, successRate(m, s.by), asRatio(expect));
    for (const q of s.quantiles) {
      const p = `P${Math.round(q * 100)} ${variant}`;
      at(s.titles.duration, p, seconds(q, m, s.by), expect);
      at(s.titles.requestSize, p, quantile(q, 'istio_request_bytes', m, s.by), expect);
      at(s.titles.responseSize, p, quantile(q, 'istio_response_bytes', m, s.by), expect);
    }
  }
  return out;
}

/** The two TCP byte panels of a row, each in its mTLS and plain variant. */
function tcpSection(
  s: Pick<Section, 'dashboard' | 'row' | 'base' | 'by' | 'mtls' | 'plain'>,
  titles: { received: string; sent: string },
): PanelQuery[] {
  return (['mTLS', 'plain'] as const).flatMap((variant) =>
    (
      [
        [titles.received, 'istio_tcp_received_bytes_total'],
        [titles.sent, 'istio_tcp_sent_bytes_total'],
      ] as const
    ).map(([panel, metric]) => ({
      dashboard: s.dashboard,
      row: s.row,
      panel,
      series: variant,
      query: `round(${sum(s.by, rate(metric, [...s.base, ...(variant === 'mTLS' ? MTLS : NOT_MTLS)]))}, 0.001)`,
      expect: variant === 'mTLS' ? s.mtls : s.plain,
    })),
  );
}

const BY_SOURCE = ['source_workload', 'source_workload_namespace'];
const BY_DESTINATION = ['destination_workload', 'destination_workload_namespace'];
const FOUR = [0.5, 0.9, 0.95, 0.99];
const SOURCE_ROW_TITLES = {
  requests: 'Incoming Requests By Source And Response Code',
  success: 'Incoming Success Rate (non-5xx responses) By Source',
  duration: 'Incoming Request Duration By Source',
  requestSize: 'Incoming Request Size By Source',
  responseSize: 'Response Size By Source',
};
const TCP_INCOMING = { received: 'Bytes Received from Incoming TCP Connection', sent: 'Bytes Sent to Incoming TCP Connection' };

function meshDashboard(c: Scene): PanelQuery[] {
  const d = DASHBOARDS.mesh;
  const client: Matchers = [['reporter', '=~', 'source|waypoint']];
  const at = (row: string, panel: string, series: string, query: string, expect: Expectation): PanelQuery => ({
    dashboard: d,
    row,
    panel,
    series,
    query,
    expect,
  });
  const workloads = c.meshWorkloads.map((w) => ({ destination_workload: w, destination_workload_namespace: 'default' }));
  const tcp = positive({ destination_workload: c.tcpWorkload.name, destination_workload_namespace: c.tcpWorkload.namespace });
  const g = 'Global Traffic';
  return [
    at(g, 'Traffic Volume', '', `round(${sum([], rate('istio_requests_total', client))}, 0.01)`, positive()),
    at(g, 'Success Rate', '', successRate(client, []), ratio()),
    at(g, '4xxs', '', `round(${sum([], rate('istio_requests_total', [...client, ['response_code', '=~', '4..']]))}, 0.01)`, positive()),
    at(g, '5xxs', '', `round(${sum([], rate('istio_requests_total', [...client, ['response_code', '=~', '5..']]))}, 0.01)`, positive()),
    at(
      g,
      'HTTP/gRPC Workloads',
      'requests',
      sum([...BY_DESTINATION, 'destination_service'], rate('istio_requests_total', client)),
      positive(...workloads),
    ),
    ...[0.5, 0.9, 0.99].map((q) =>
      at(
        g,
        'HTTP/gRPC Workloads',
        `P${q * 100}`,
        quantile(q, 'istio_request_duration_milliseconds', client, BY_DESTINATION),
        positive(...workloads),
      ),
    ),
    at(g, 'HTTP/gRPC Workloads', 'success rate', successRate(client, BY_DESTINATION), ratio(...workloads)),
    at(
      g,
      'TCP Workloads',
      'received',
      sum([...BY_DESTINATION, 'destination_service'], rate('istio_tcp_received_bytes_total', client)),
      tcp,
    ),
    at(g, 'TCP Workloads', 'sent', sum([...BY_DESTINATION, 'destination_service'], rate('istio_tcp_sent_bytes_total', client)), tcp),
    at(
      'Istio Component Versions',
      'Istio Component Versions',
      '',
      'sum by (component,tag) (istio_build)',
      positive({ component: 'proxy' }, { component: 'pilot' }),
    ),
  ];
}

/** The query builder of a dashboard's General row. */
const generalRow =
  (dashboard: PanelQuery['dashboard']) =>
  (panel: string, series: string, query: string, expect: Expectation): PanelQuery => ({
    dashboard,
    row: 'General',
    panel,
    series,
    query,
    expect,
  });

function serviceDashboard(c: Scene): PanelQuery[] {
  const d = DASHBOARDS.service;
  const svc: Matchers = [['destination_service', '=', c.httpService]];
  const client: Matchers = [...BOTH, ...svc];
  const server: Matchers = [['reporter', '=', 'destination'], ...svc];
  const tcpSvc: Matchers = [['destination_service', '=', c.tcpService]];
  const general = generalRow(d);
  const caller = { source_workload: c.httpServiceCaller, source_workload_namespace: 'default' };
  const outsider = { source_workload: 'unknown' };
  const tcpCaller = { source_workload: c.tcpCaller.name, source_workload_namespace: c.tcpCaller.namespace };
  const tcpDest = { destination_workload: c.tcpWorkload.name, destination_workload_namespace: c.tcpWorkload.namespace };
  const volume = (m: Matchers) => `round(${sum([], rate('istio_requests_total', m))}, 0.001)`;
  return [
    general('Client Request Volume', '', volume(client), positive()),
    general('Client Success Rate (non-5xx responses)', '', successRate(client, []), ratio()),
    ...[0.5, 0.9, 0.99].map((q) => general('Client Request Duration', `P${q * 100}`, seconds(q, client, []), positive())),
    general('TCP Received Bytes', '', sum([], rate('istio_tcp_received_bytes_total', [...BOTH, ...tcpSvc])), positive()),
    general('Server Request Volume', '', volume(server), positive()),
    general('Server Success Rate (non-5xx responses)', '', successRate(server, []), ratio()),
    ...[0.5, 0.9, 0.99].map((q) => general('Server Request Duration', `P${q * 100}`, seconds(q, server, []), positive())),
    general('TCP Sent Bytes', '', sum([], rate('istio_tcp_sent_bytes_total', [...BOTH, ...tcpSvc])), positive()),
    ...httpSection({
      dashboard: d,
      row: 'Client Workloads',
      base: client,
      by: BY_SOURCE,
      titles: SOURCE_ROW_TITLES,
      // mTLS: the server sidecars' reports; plain: the client sidecar's (policy unknown) and the outside client's.
      mtls: positive(caller),
      plain: positive(caller, outsider),
      codes: { mtls: ['200', '500'], plain: ['200', '500'] },
      quantiles: FOUR,
    }),
    ...tcpSection(
      {
        dashboard: d,
        row: 'Client Workloads',
        base: [...BOTH, ...tcpSvc],
        by: BY_SOURCE,
        mtls: positive(tcpCaller),
        plain: positive(tcpCaller, outsider),
      },
      TCP_INCOMING,
    ),
    ...httpSection({
      dashboard: d,
      row: 'Service Workloads',
      base: server,
      by: BY_DESTINATION,
      titles: {
        requests: 'Incoming Requests By Destination Workload And Response Code',
        success: 'Incoming Success Rate (non-5xx responses) By Destination Workload',
        duration: 'Incoming Request Duration By Service Workload',
        requestSize: 'Incoming Request Size By Service Workload',
        responseSize: 'Response Size By Service Workload',
      },
      mtls: positive(...c.httpServiceWorkloads.map((w) => ({ destination_workload: w, destination_workload_namespace: 'default' }))),
      plain: positive({ destination_workload: c.plainTarget, destination_workload_namespace: 'default' }),
      codes: { mtls: ['200', '500'], plain: ['200'] },
      quantiles: FOUR,
    }),
    ...tcpSection(
      {
        dashboard: d,
        row: 'Service Workloads',
        base: [['reporter', '=', 'destination'], ...tcpSvc],
        by: BY_DESTINATION,
        mtls: positive(tcpDest),
        plain: positive(tcpDest),
      },
      TCP_INCOMING,
    ),
  ];
}

function workloadDashboard(c: Scene): PanelQuery[] {
  const d = DASHBOARDS.workload;
  const w = c.httpWorkload;
  const inbound: Matchers = [...BOTH, ['destination_workload', '=', w.name], ['destination_workload_namespace', '=', w.namespace]];
  const outbound: Matchers = [
    ['reporter', '=', 'source'],
    ['source_workload', '=', w.name],
    ['source_workload_namespace', '=', w.namespace],
  ];
  const t = c.tcpWorkload;
  const tcpInbound: Matchers = [...BOTH, ['destination_workload', '=', t.name], ['destination_workload_namespace', '=', t.namespace]];
  const tcpOutbound: Matchers = [
    ['reporter', '=', 'source'],
    ['source_workload', '=', c.tcpCaller.name],
    ['source_workload_namespace', '=', c.tcpCaller.namespace],
  ];
  const general = generalRow(d);
  const caller = { source_workload: c.httpWorkloadCaller.name, source_workload_namespace: c.httpWorkloadCaller.namespace };
  const callees = c.httpWorkloadCallees.map((s) => ({ destination_service: s }));
  const tcpCaller = { source_workload: c.tcpCaller.name, source_workload_namespace: c.tcpCaller.namespace };
  const bothWays = (m: Matchers) =>
    `${sum([], rate('istio_tcp_sent_bytes_total', m))} + ${sum([], rate('istio_tcp_received_bytes_total', m))}`;
  return [
    general('Incoming Request Volume', '', `round(${sum([], rate('istio_requests_total', inbound))}, 0.001)`, positive()),
    general('Incoming Success Rate (non-5xx responses)', '', successRate(inbound, []), ratio()),
    ...[0.5, 0.9, 0.99].map((q) => general('Request Duration', `P${q * 100}`, seconds(q, inbound, []), positive())),
    general('TCP Server Traffic', '', bothWays(tcpInbound), positive()),
    general(
      'TCP Client Traffic',
      '',
      bothWays([...BOTH, ['source_workload', '=', c.tcpCaller.name], ['source_workload_namespace', '=', c.tcpCaller.namespace]]),
      positive(),
    ),
    ...httpSection({
      dashboard: d,
      row: 'Inbound Workloads',
      base: inbound,
      by: BY_SOURCE,
      titles: SOURCE_ROW_TITLES,
      mtls: positive(caller),
      plain: positive(caller),
      codes: { mtls: ['200'], plain: ['200'] },
      quantiles: FOUR,
    }),
    ...tcpSection(
      { dashboard: d, row: 'Inbound Workloads', base: tcpInbound, by: BY_SOURCE, mtls: positive(tcpCaller), plain: positive(tcpCaller) },
      TCP_INCOMING,
    ),
    ...httpSection({
      dashboard: d,
      row: 'Outbound Services',
      base: outbound,
      by: ['destination_service'],
      titles: {
        requests: 'Outgoing Requests By Destination And Response Code',
        success: 'Outgoing Success Rate (non-5xx responses) By Destination',
        duration: 'Outgoing Request Duration By Destination',
        requestSize: 'Outgoing Request Size By Destination',
        responseSize: 'Response Size By Destination',
      },
      mtls: SOURCE_POLICY_UNKNOWN,
      plain: positive(...callees),
      codes: { mtls: [], plain: ['200', '500'] },
      principalForMtlsRequests: true,
      quantiles: FOUR,
    }),
    ...tcpSection(
      {
        dashboard: d,
        row: 'Outbound Services',
        base: tcpOutbound,
        by: ['destination_service'],
        mtls: SOURCE_POLICY_UNKNOWN,
        plain: positive({ destination_service: c.tcpService }),
      },
      { received: 'Bytes Sent on Outgoing TCP Connection', sent: 'Bytes Received from Outgoing TCP Connection' },
    ),
  ];
}

/**
 * Every panel query of the Mesh, Service and Workload dashboards that reads an istio_* metric, for this
 * scene; the Control Plane dashboard's panels mastd feeds; the querying-metrics task's queries.
 */
export function dashboardQueries(scene: Scene): PanelQuery[] {
  return [...meshDashboard(scene), ...serviceDashboard(scene), ...workloadDashboard(scene), ...controlPlaneDashboard(), ...queryingTask()];
}
