/**
 * A proxy's telemetry: Istio's request metrics and Envoy's access logs (lines to files, records to
 * OpenTelemetry collectors: access-log/otlp.ts), both made
 * from the records the request path publishes (record.ts's `requestFinished` channel, subscribed
 * here as undici's observers subscribe to its channels), the access log lines of TCP connections
 * (tcp-record.ts's `connectionClosed`; their metrics are tcp.ts's), and the errors contain.ts publishes.
 */
import type { Writable } from 'node:stream';
import { peerInputChannel, type ContainedPeerError } from './contain';
import { labelContext, type MetricOwner, type ProxyIdentityInfo } from './metric-context';
import { requestLabelPairs } from './metric-labels';
import {
  evaluate,
  groupOf,
  metricPlan,
  peerAttribute,
  requestAttributes,
  shapeRequest,
  type SidePlan,
  upstreamPeer,
} from './metric-overrides';
import { type Metrics, totalRequests, type MetricsSnapshot } from './metrics';
import { requestFinished, type RequestRecord } from './request/record';
import { dryRunCounter, dryRunLogLine } from './dry-run-report';
import type { LogLevels } from './log-levels';
import type { AccessLogConfig, AccessLogsConfig, OtlpAccessLogConfig } from '../contract/proxy-config';
import { compileFormat } from './access-log/format';
import { collectorKey, compileRecords, type OtlpLogExporter, otlpLogExporter } from './access-log/otlp';
import { compileFilters, type Filter } from './access-log/filter';
import { type ConnectionRecord, connectionClosed } from './tcp-record';
import { LogSink, streamOf } from './access-log/sink';
import { LastSeries } from './series-memo';

export type { ProxyIdentityInfo } from './metric-context';

export { ACCESS_LOG_FLUSH_BYTES, ACCESS_LOG_MAX_PENDING_BYTES } from './access-log/sink';
/** mast-proxy's default wait before buffered access log lines are written. */
export const DEFAULT_ACCESS_LOG_FLUSH_MS = 1000;

/** The metrics group of requests answered without a cluster (no route, denied, direct responses) before any config. */
const NO_CLUSTER = {};

export class Telemetry {
  /** Requests of this proxy only: a process may run several (tests do), all publishing on one channel. */
  private readonly onRequest = (m: unknown): void => {
    if ((m as RequestRecord).owner === this.owner) this.record(m as RequestRecord);
  };
  /** Errors a peer's input caused, each contained to its connection (contain.ts), counted here. */
  /** TCP connections of this proxy, closed: their access log lines. */
  private readonly onConnection = (m: unknown): void => {
    if ((m as ConnectionRecord).owner === this.owner) this.logConnection(m as ConnectionRecord);
  };
  private readonly onPeerInputError = (m: unknown): void =>
    this.metrics.inc(`mast_peer_input_errors_total{side="${(m as ContainedPeerError).side}"}`);

  constructor(
    private readonly owner: MetricOwner,
    private readonly identity: ProxyIdentityInfo,
    private readonly metrics: Metrics,
    accessLog?: Writable,
    private readonly logLevels?: LogLevels,
  ) {
    if (accessLog) this.flagSink = new LogSink(accessLog, () => this.flushMs, this.dropped);
    requestFinished.subscribe(this.onRequest);
    connectionClosed.subscribe(this.onConnection);
    peerInputChannel.subscribe(this.onPeerInputError);
  }

  /** A closed TCP connection through the logs of its side, as a request's (Envoy's tcp_proxy shares the listener's access logs). */
  private logConnection(c: ConnectionRecord): void {
    const logs = this.logs && (this.identity.mode === 'sidecar' && c.inbound ? this.logs.server : this.logs.client);
    if (logs) {
      if (!logs.length) return;
      const now = Date.now();
      for (const log of logs) if (!log.connectionFilter || log.connectionFilter(c)) log.connection(c, now);
    } else if (this.flagSink) this.flagSink.push(flagConnectionLine(c));
  }

  private record(r: RequestRecord): void {
    const inbound = this.identity.mode === 'sidecar' && r.inbound;
    const metrics = this.owner.config?.metrics;
    const plan = metrics && (inbound ? metricPlan(metrics).server : metricPlan(metrics).client);
    this.recordRequest(r, inbound, plan);
    if (r.dryRun) this.reportDryRun(r);
    // The pushed config's logs, when it has any (even none: logging disabled); else the --access-log flag's.
    const logs = this.logs && (inbound ? this.logs.server : this.logs.client);
    if (logs) {
      if (logs.length) writeLogs(r, logs);
    } else if (this.flagSink) this.flagSink.push(flagLine(r));
  }

  /** A request's series key within its group: its response, and (a sidecar's inbound) its client and service. */
  private static head(r: RequestRecord): string {
    const grpc = r.grpcStatus === undefined ? '' : `|${r.grpcStatus}`;
    return r.flags === '-' ? `${r.status}${grpc}` : `${r.status}${r.flags}${grpc}`;
  }

  /**
   * A request in Istio's metrics: its series keyed by its response and, on a sidecar's inbound, its
   * client and service (else the endpoint), labelled the first time. With a Telemetry's overrides
   * (metric-overrides.ts): nothing on a side turned off; else the expressions' values join the key, and
   * each family's labels are shaped once per series, in a group of the plan's own.
   */
  private recordRequest(r: RequestRecord, inbound: boolean, plan: SidePlan | undefined): void {
    if (plan?.off) return;
    const c = r.cluster;
    const ctx = labelContext(this.owner);
    // Istio's reporter="destination": the client by its verified identity, the service it asked for.
    const principal = inbound ? r.request.peer?.principal : undefined;
    const service = inbound ? ctx.serviceIndex(r.authority) : -1;
    // A passthrough cluster's upstreams are wherever apps connect: they never key a series.
    const upstream = !inbound && c && c.lb.kind !== 'passthrough' ? r.upstream : undefined;
    const group = c ?? this.owner.config ?? NO_CLUSTER;
    const last = this.lastSeries;
    if (!plan && last?.matches(group, inbound, r.status, r.flags, r.grpcStatus, principal, service, upstream))
      return this.metrics.observe(last.series, r.ms, r.bytesIn, r.bytesOut, r.grpcMessages);
    const head = Telemetry.head(r);
    const key = inbound ? `${head}|${principal ?? ''}|${service}` : upstream ? `${head}|${upstream}` : head;
    const labels = () => ({
      ...(inbound ? ctx.destination(principal, service) : ctx.source(c, upstream)),
      responseCode: r.status,
      responseFlags: r.flags,
      grpcStatus: r.grpcStatus,
    });
    if (!plan) {
      const series = this.metrics.seriesIn(group, key, labels);
      this.lastSeries = new LastSeries(group, inbound, r.status, r.flags, r.grpcStatus, principal, service, upstream, series);
      return this.metrics.observe(series, r.ms, r.bytesIn, r.bytesOut, r.grpcMessages);
    }
    let values: string[] = [];
    if (plan.expressions.length) {
      const peers = inbound
        ? { downstream: plan.roots.includes('downstream_peer') ? peerAttribute(ctx.peerOf(principal)) : undefined }
        : { upstream: plan.roots.includes('upstream_peer') && c && upstream ? upstreamPeer(c, upstream) : undefined };
      values = evaluate(plan, requestAttributes(plan, r, peers));
    }
    this.metrics.recordIn(
      groupOf(plan, group),
      values.length ? `${key}\0${values.join('\0')}` : key,
      () => shapeRequest(plan, requestLabelPairs(labels()), values),
      r.ms,
      r.bytesIn,
      r.bytesOut,
      r.grpcMessages,
    );
  }

  /** The series the last request without a Telemetry's overrides went to (series-memo.ts). */
  private lastSeries?: LastSeries;

  /** How long access log lines may wait to be written together (`--access-log-flush-ms`); 0: once per turn of the loop. */
  flushMs = 0;
  /** The --access-log flag's sink: Istio's default JSON, every request, while no config says otherwise. */
  private readonly flagSink?: LogSink;
  /** The config's access logs by side (compileLogs), once a config has any. */
  private logs?: CompiledLogs;
  /** One sink per path, kept across pushes (a file is opened once). */
  private readonly sinks = new Map<string, LogSink>();

  /**
   * A config's access logs, compiled (formats into functions, filters planned) before the config is
   * applied; throws naming the log and its problem. Undefined: the config has none (the flag applies).
   */
  compileLogs(config: AccessLogsConfig | undefined): CompiledLogs | undefined {
    if (!config) return undefined;
    const side = (logs: readonly AccessLogConfig[]) =>
      logs.map((l): CompiledLog => {
        try {
          const filters = l.filter ? compileFilters(l.filter) : undefined;
          const filtered = filters ? { filter: filters.request, connectionFilter: filters.connection } : {};
          if (l.otlp) {
            const collector = l.otlp;
            const records = compileRecords(l);
            let exporter: OtlpLogExporter | undefined;
            // Found on the first record, then kept: a log that sends nothing connects nowhere.
            const out = () => (exporter ??= this.exporterOf(collector));
            return {
              ...filtered,
              request: (r, now) => out().add(records.request(r, now)),
              connection: (c, now) => out().add(records.connection(c, now)),
            };
          }
          let sink: LogSink | undefined;
          const line = compileFormat(l.format);
          // Found on the first line, then kept: a log that writes nothing opens no file.
          const out = () => (sink ??= this.sinkOf(l.path));
          return {
            ...filtered,
            request: (r, now) => out().push(line.request(r, now)),
            connection: (c, now) => out().push(line.connection(c, now)),
          };
        } catch (e) {
          throw new Error(`access log of provider ${l.provider}: ${(e as Error).message}`);
        }
      });
    return { server: side(config.server), client: side(config.client) };
  }

  /** One exporter per OpenTelemetry collector, kept across pushes (one connection, one queue). */
  private readonly exporters = new Map<string, OtlpLogExporter>();
  private exporterOf(collector: OtlpAccessLogConfig): OtlpLogExporter {
    const key = collectorKey(collector);
    let exporter = this.exporters.get(key);
    if (!exporter) this.exporters.set(key, (exporter = otlpLogExporter(collector, (name, by) => this.metrics.inc(name, by))));
    return exporter;
  }

  /** From now on requests are logged as these say (undefined: as the --access-log flag says). */
  useLogs(logs: CompiledLogs | undefined): void {
    this.logs = logs;
  }

  private sinkOf(path: string): LogSink {
    let sink = this.sinks.get(path);
    if (!sink) this.sinks.set(path, (sink = new LogSink(streamOf(path), () => this.flushMs, this.dropped)));
    return sink;
  }

  private readonly dropped = () => this.metrics.inc('mast_access_log_dropped_total');

  /** What the dry-run policies would have done: a counter per engine and result, and the `rbac` logger's debug line. */
  private reportDryRun(r: RequestRecord): void {
    const { port, results } = r.dryRun!;
    for (const result of results) {
      this.metrics.inc(dryRunCounter('http', r.inbound, port, result));
      this.logLevels?.log('rbac', 'debug', dryRunLogLine(result));
    }
  }

  /** Prometheus text for this proxy and, given their snapshots, its worker processes. */
  render(peers: ReadonlyArray<{ worker: number; metrics: MetricsSnapshot }> = []): string {
    if (!peers.length) return this.metrics.render();
    const counts = [[0, this.metrics.requestCount()], ...peers.map((p) => [p.worker, totalRequests(p.metrics)])];
    const lines = counts.map(([worker, n]) => `mast_worker_requests_total{worker="${worker}"} ${n}`);
    return `${this.metrics.render(peers.map((p) => p.metrics))}# TYPE mast_worker_requests_total counter\n${lines.join('\n')}\n`;
  }

  /** Unsubscribed, the last lines written. */
  close(): void {
    requestFinished.unsubscribe(this.onRequest);
    connectionClosed.unsubscribe(this.onConnection);
    peerInputChannel.unsubscribe(this.onPeerInputError);
    this.flagSink?.flush();
    for (const sink of this.sinks.values()) sink.flush();
    for (const exporter of this.exporters.values()) exporter.close();
    this.exporters.clear();
  }
}

/** One access log of a config: its filters, and what it does with a request or TCP connection that passes them (a line to its sink, a record to its collector). */
interface CompiledLog {
  readonly filter?: Filter;
  readonly connectionFilter?: Filter<ConnectionRecord>;
  readonly request: (r: RequestRecord, now: number) => void;
  readonly connection: (c: ConnectionRecord, now: number) => void;
}
export interface CompiledLogs {
  readonly server: readonly CompiledLog[];
  readonly client: readonly CompiledLog[];
}

function writeLogs(r: RequestRecord, logs: readonly CompiledLog[]): void {
  const now = Date.now();
  for (const log of logs) if (!log.filter || log.filter(r)) log.request(r, now);
}

/**
 * The --access-log flag's line: Istio's default JSON access log (its EnvoyJSONLogFormatIstio), field
 * for field, null where Envoy prints "-", and mast's additions (the gRPC status, the client past
 * trusted hops, the trace context). Kept as it was before the mesh config could say the format.
 */
function flagLine(r: RequestRecord): string {
  const req = r.request;
  const c = r.cluster;
  return JSON.stringify({
    start_time: new Date(Date.now() - r.ms).toISOString(),
    route_name: r.route ?? null,
    method: req.method,
    // A CONNECT has no path: null, as Envoy's "-".
    path: req.target || null,
    protocol: r.protocol,
    response_code: r.status,
    response_flags: r.flags,
    response_code_details: r.details ?? null,
    connection_termination_details: null,
    bytes_received: r.bytesIn,
    bytes_sent: r.bytesOut,
    duration: Math.round(r.ms),
    upstream_service_time: null,
    x_forwarded_for: req.header('x-forwarded-for') ?? null,
    user_agent: req.header('user-agent') ?? null,
    request_id: r.requestId || null,
    authority: r.authority,
    upstream_host: r.upstream ?? null,
    upstream_cluster: c?.name ?? null,
    upstream_local_address: null,
    downstream_local_address: null,
    downstream_remote_address: `${req.remoteAddress}:${req.remotePort}`,
    requested_server_name: null,
    upstream_transport_failure_reason: r.transportFailure ?? null,
    grpc_status: r.grpcStatus ?? null,
    client_address: req.clientAddress(),
    traceparent: req.header('traceparent') ?? null,
  });
}

/**
 * The --access-log flag's line for a TCP connection: the same JSON keys, as Istio's default JSON log
 * writes one for a tcp_proxy connection (null for the request's fields, response_code 0).
 */
function flagConnectionLine(c: ConnectionRecord): string {
  return JSON.stringify({
    start_time: new Date(c.start).toISOString(),
    route_name: null,
    method: null,
    path: null,
    protocol: null,
    response_code: 0,
    response_flags: c.flags,
    response_code_details: null,
    connection_termination_details: null,
    bytes_received: c.bytesIn,
    bytes_sent: c.bytesOut,
    duration: c.ms,
    upstream_service_time: null,
    x_forwarded_for: null,
    user_agent: null,
    request_id: null,
    authority: null,
    upstream_host: c.upstream ?? null,
    upstream_cluster: c.cluster ?? null,
    upstream_local_address: c.upstreamLocal ?? null,
    downstream_local_address: c.local ?? null,
    downstream_remote_address: c.remote,
    requested_server_name: c.serverName ?? null,
    upstream_transport_failure_reason: c.transportFailure ?? null,
    grpc_status: null,
    client_address: c.remote.slice(0, Math.max(0, c.remote.lastIndexOf(':'))) || c.remote,
    traceparent: null,
  });
}
