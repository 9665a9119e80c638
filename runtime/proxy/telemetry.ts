/**
 * A proxy's telemetry: Istio's request metrics and Envoy-style JSON access log lines, both made
 * from the records the request path publishes (record.ts's `requestFinished` channel, subscribed
 * here as undici's observers subscribe to its channels), and the errors contain.ts publishes.
 */
import type { Writable } from 'node:stream';
import { peerInputChannel, type ContainedPeerError } from './contain';
import { labelContext, type MetricOwner, type ProxyIdentityInfo } from './metric-context';
import { type Metrics, totalRequests, type MetricsSnapshot } from './metrics';
import { requestFinished, type RequestRecord } from './request/record';
import { dryRunCounter, dryRunLogLine } from './dry-run-report';
import type { LogLevels } from './log-levels';

export type { ProxyIdentityInfo } from './metric-context';

/**
 * Access log bytes a sink may have queued (written, not yet taken: a stdout pipe nobody reads, a
 * slow disk) before lines are dropped, each counted in `mast_access_log_dropped_total`: a sink
 * that cannot keep up costs log lines, never the proxy's memory nor its requests' latency.
 */
export const ACCESS_LOG_MAX_PENDING_BYTES = 1024 * 1024;
/** Buffered access log bytes that are written at once, without waiting for the timer (Envoy's minimum flush size). */
export const ACCESS_LOG_FLUSH_BYTES = 64 * 1024;
/** mast-proxy's default wait before buffered access log lines are written. */
export const DEFAULT_ACCESS_LOG_FLUSH_MS = 1000;

/** The metrics group of requests answered without a cluster (no route, denied, direct responses) before any config. */
const NO_CLUSTER = {};

export class Telemetry {
  private logBuffer: string[] = [];
  /** Bytes (as characters: the lines are ASCII JSON, mostly) in `logBuffer`. */
  private logBufferBytes = 0;
  /** Requests of this proxy only: a process may run several (tests do), all publishing on one channel. */
  private readonly onRequest = (m: unknown): void => {
    if ((m as RequestRecord).owner === this.owner) this.record(m as RequestRecord);
  };
  /** Errors a peer's input caused, each contained to its connection (contain.ts), counted here. */
  private readonly onPeerInputError = (m: unknown): void =>
    this.metrics.inc(`mast_peer_input_errors_total{side="${(m as ContainedPeerError).side}"}`);

  constructor(
    private readonly owner: MetricOwner,
    private readonly identity: ProxyIdentityInfo,
    private readonly metrics: Metrics,
    private readonly accessLog?: Writable,
    private readonly logLevels?: LogLevels,
  ) {
    requestFinished.subscribe(this.onRequest);
    peerInputChannel.subscribe(this.onPeerInputError);
  }

  private record(r: RequestRecord): void {
    const c = r.cluster;
    const ctx = labelContext(this.owner);
    const grpc = r.grpcStatus === undefined ? '' : `|${r.grpcStatus}`;
    const head = r.flags === '-' ? `${r.status}${grpc}` : `${r.status}${r.flags}${grpc}`;
    if (this.identity.mode === 'sidecar' && r.inbound) {
      // Istio's reporter="destination": the client by its verified identity, the service it asked for.
      const principal = r.request.peer?.principal;
      const service = ctx.serviceIndex(r.authority);
      const labels = () => ({
        ...ctx.destination(principal, service),
        responseCode: r.status,
        responseFlags: r.flags,
        grpcStatus: r.grpcStatus,
      });
      this.metrics.recordIn(
        c ?? this.owner.config ?? NO_CLUSTER,
        `${head}|${principal ?? ''}|${service}`,
        labels,
        r.ms,
        r.bytesIn,
        r.bytesOut,
      );
    } else {
      // A passthrough cluster's upstreams are wherever apps connect: they never key a series.
      const upstream = c && c.lb.kind !== 'passthrough' ? r.upstream : undefined;
      const labels = () => ({ ...ctx.source(c, upstream), responseCode: r.status, responseFlags: r.flags, grpcStatus: r.grpcStatus });
      this.metrics.recordIn(
        c ?? this.owner.config ?? NO_CLUSTER,
        upstream ? `${head}|${upstream}` : head,
        labels,
        r.ms,
        r.bytesIn,
        r.bytesOut,
      );
    }
    if (r.dryRun) this.reportDryRun(r);
    if (!this.accessLog) return;
    if (this.accessLog.writableLength + this.logBufferBytes > ACCESS_LOG_MAX_PENDING_BYTES)
      return this.metrics.inc('mast_access_log_dropped_total');
    const req = r.request;
    this.logBuffer.push(
      JSON.stringify({
        // Istio's default JSON access log (its EnvoyJSONLogFormatIstio), field for field; null where Envoy prints "-".
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
        upstream_transport_failure_reason: null,
        // mast's additions: the gRPC status, the client past trusted hops, the trace context.
        grpc_status: r.grpcStatus ?? null,
        client_address: req.clientAddress(),
        traceparent: req.header('traceparent') ?? null,
      }),
    );
    this.logBufferBytes += this.logBuffer[this.logBuffer.length - 1].length + 1;
    // Lines leave together: every flushMs or once 64 KiB are buffered (Istio's ProxyConfig defaults,
    // fileFlushInterval 1000 ms and fileFlushMinSizeKb 64, for Envoy's file access logs), so a busy proxy writes a few times a second, not once per request; with flushMs 0,
    // once per turn of the loop.
    if (this.logBufferBytes >= ACCESS_LOG_FLUSH_BYTES) this.flushLog();
    else if (this.logBuffer.length === 1) {
      if (this.flushMs > 0) (this.flushTimer = setTimeout(() => this.flushLog(), this.flushMs)).unref();
      else setImmediate(() => this.flushLog());
    }
  }

  /** How long access log lines may wait to be written together (`--access-log-flush-ms`); 0: once per turn of the loop. */
  flushMs = 0;
  private flushTimer?: NodeJS.Timeout;

  /** What the dry-run policies would have done: a counter per engine and result, and the `rbac` logger's debug line. */
  private reportDryRun(r: RequestRecord): void {
    const { port, results } = r.dryRun!;
    for (const result of results) {
      this.metrics.inc(dryRunCounter('http', r.inbound, port, result));
      this.logLevels?.log('rbac', 'debug', dryRunLogLine(result));
    }
  }

  private flushLog(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.logBuffer.length === 0) return;
    const lines = this.logBuffer;
    this.logBuffer = [];
    this.logBufferBytes = 0;
    this.accessLog?.write(`${lines.join('\n')}\n`);
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
    peerInputChannel.unsubscribe(this.onPeerInputError);
    if (this.logBuffer.length) this.flushLog();
  }
}
