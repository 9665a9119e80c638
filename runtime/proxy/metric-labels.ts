/**
 * Istio's standard metric labels, label for label (istio.io's "Istio Standard Metrics"), in the
 * order Istio's proxy writes them, and the help text of every family the proxy exports. Pure.
 */

/** The labels every Istio metric carries, HTTP and TCP alike. */
export interface PeerLabels {
  readonly reporter: 'source' | 'destination';
  readonly sourceWorkload: string;
  readonly sourceCanonicalService: string;
  readonly sourceCanonicalRevision: string;
  readonly sourceWorkloadNamespace: string;
  /** `spiffe://<trust domain>/ns/<ns>/sa/<account>`, or `unknown` without mTLS. */
  readonly sourcePrincipal: string;
  readonly sourceApp: string;
  readonly sourceVersion: string;
  readonly sourceCluster: string;
  readonly destinationWorkload: string;
  readonly destinationWorkloadNamespace: string;
  readonly destinationPrincipal: string;
  readonly destinationApp: string;
  readonly destinationVersion: string;
  /** The service's FQDN (`reviews.default.svc.cluster.local`). */
  readonly destinationService: string;
  readonly destinationCanonicalService: string;
  readonly destinationCanonicalRevision: string;
  /** The service's short name (`reviews`). */
  readonly destinationServiceName: string;
  readonly destinationServiceNamespace: string;
  readonly destinationCluster: string;
  /** `mutual_tls` or `none` on the server side; `unknown` on the client side (Istio's). */
  readonly connectionSecurityPolicy: 'mutual_tls' | 'none' | 'unknown';
}

export interface RequestLabels extends PeerLabels {
  readonly responseCode: number;
  readonly responseFlags: string;
  /** A gRPC request's status: `request_protocol="grpc"` and `grpc_response_status`; absent, `http` and no status. */
  readonly grpcStatus?: number;
}

/** Prometheus label value escaping (backslash, double quote, newline). */
export const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** A series' labels as name and value pairs, in the order Istio's proxy writes them. */
export type LabelPairs = Array<[string, string]>;

/** The labels shared by HTTP and TCP series, as Prometheus text (without braces). */
export function peerLabelText(l: PeerLabels): string {
  return labelText(peerLabelPairs(l));
}

/** Pairs as Prometheus text (without braces). */
export const labelText = (pairs: LabelPairs): string => pairs.map(([k, v]) => `${k}="${esc(v)}"`).join(',');

/** The labels shared by HTTP and TCP series. */
export function peerLabelPairs(l: PeerLabels): LabelPairs {
  return [
    ['reporter', l.reporter],
    ['source_workload', l.sourceWorkload],
    ['source_canonical_service', l.sourceCanonicalService],
    ['source_canonical_revision', l.sourceCanonicalRevision],
    ['source_workload_namespace', l.sourceWorkloadNamespace],
    ['source_principal', l.sourcePrincipal],
    ['source_app', l.sourceApp],
    ['source_version', l.sourceVersion],
    ['source_cluster', l.sourceCluster],
    ['destination_workload', l.destinationWorkload],
    ['destination_workload_namespace', l.destinationWorkloadNamespace],
    ['destination_principal', l.destinationPrincipal],
    ['destination_app', l.destinationApp],
    ['destination_version', l.destinationVersion],
    ['destination_service', l.destinationService],
    ['destination_canonical_service', l.destinationCanonicalService],
    ['destination_canonical_revision', l.destinationCanonicalRevision],
    ['destination_service_name', l.destinationServiceName],
    ['destination_service_namespace', l.destinationServiceNamespace],
    ['destination_cluster', l.destinationCluster],
    ['connection_security_policy', l.connectionSecurityPolicy],
  ];
}

/** Every label of an HTTP request's series as pairs (requestLabelText's). */
export function requestLabelPairs(l: RequestLabels): LabelPairs {
  const pairs = peerLabelPairs(l);
  const grpc = l.grpcStatus !== undefined;
  pairs.push(['request_protocol', grpc ? 'grpc' : 'http'], ['response_code', String(l.responseCode)], ['response_flags', l.responseFlags]);
  if (grpc) pairs.push(['grpc_response_status', String(l.grpcStatus)]);
  return pairs;
}

/** Every label of a TCP connection's series as pairs. */
export const tcpLabelPairs = (l: PeerLabels & { readonly responseFlags: string }): LabelPairs => [
  ...peerLabelPairs(l),
  ['request_protocol', 'tcp'],
  ['response_flags', l.responseFlags],
];

/**
 * Every label of an HTTP request's series. `grpc_response_status` last, and only on a gRPC request:
 * Istio writes it empty otherwise, and to Prometheus an empty label is no label.
 */
export function requestLabelText(l: RequestLabels): string {
  const grpc = l.grpcStatus !== undefined;
  return (
    `${peerLabelText(l)},request_protocol="${grpc ? 'grpc' : 'http'}",response_code="${l.responseCode}",` +
    `response_flags="${esc(l.responseFlags)}"${grpc ? `,grpc_response_status="${l.grpcStatus}"` : ''}`
  );
}

/** Istio's TCP counters and which count of a TCP series each is. */
export const ISTIO_TCP: ReadonlyArray<
  readonly [string, (s: { opened: number; closed: number; sent: number; received: number }) => number]
> = [
  ['istio_tcp_sent_bytes_total', (s) => s.sent],
  ['istio_tcp_received_bytes_total', (s) => s.received],
  ['istio_tcp_connections_opened_total', (s) => s.opened],
  ['istio_tcp_connections_closed_total', (s) => s.closed],
];

/** `# HELP` of Istio's families (their meaning as istio.io describes it, in our words). */
export const FAMILY_HELP: Readonly<Record<string, string>> = {
  istio_requests_total: 'Requests handled, by source, destination and response.',
  istio_request_duration_milliseconds: 'Request duration in milliseconds, from the first byte received to the last byte sent.',
  istio_request_bytes: 'Request size in bytes (head and body).',
  istio_response_bytes: 'Response size in bytes (head and body).',
  istio_request_messages_total: 'gRPC messages sent by clients.',
  istio_response_messages_total: 'gRPC messages sent by servers.',
  istio_tcp_sent_bytes_total: 'Bytes sent to the downstream client on TCP connections.',
  istio_tcp_received_bytes_total: 'Bytes received from the downstream client on TCP connections.',
  istio_tcp_connections_opened_total: 'TCP connections opened.',
  istio_tcp_connections_closed_total: 'TCP connections closed.',
};

/** `# HELP` of mast's own counters; one not listed gets a generic line (every family has one). */
const MAST_HELP: Readonly<Record<string, string>> = {
  mast_access_log_dropped_total: 'Access log lines dropped because the sink could not take them in time.',
  mast_access_log_otlp_exported_total: 'Access log records an OpenTelemetry collector accepted (envoyOtelAls providers).',
  mast_access_log_otlp_dropped_total: 'Access log records for OpenTelemetry collectors dropped: queue full, or the export failed.',
  mast_peer_input_errors_total: "Errors a peer's input caused, each contained to its connection.",
  mast_worker_requests_total: 'Requests handled by each process of a gateway.',
  mast_certificates_installed_total: 'Workload certificates installed.',
  mast_certificates_reloaded_total: 'Gateway certificates reloaded from disk.',
  mast_listener_drains_total: 'Listeners drained after a config push removed them.',
  mast_downstream_cx_overflow_total: 'Client connections closed at accept because the listener was full.',
  mast_mirror_dropped_total: 'Mirrored requests dropped.',
  mast_app_scrape_failures_total: "Scrapes of the app's own metrics (merged on the status port) that failed or timed out.",
  mast_tcp_connections_refused_total: 'TCP connections refused: no route, or no healthy upstream.',
};

/** Envoy's RBAC shadow stats as Istio's scrape names them, one family per listener (dry-run-report.ts). */
const DRY_RUN_FAMILY = /^envoy_(http|tcp)_(inbound_)?0_0_0_0_\d+_rbac$/;

export const helpOf = (family: string): string =>
  MAST_HELP[family] ??
  (DRY_RUN_FAMILY.test(family)
    ? 'Requests (or connections) judged by dry-run AuthorizationPolicies, by engine and what it would have done.'
    : `mast-proxy counter ${family}.`);
