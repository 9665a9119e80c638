/**
 * A proxy's telemetry: Istio's request metrics and Envoy-style JSON access log lines, both made
 * from the records the request path publishes (record.ts's `requestFinished` channel, subscribed
 * here as undici's observers subscribe to its channels), and the errors contain.ts publishes.
 */
import type { Writable } from 'node:stream';
import { peerInputChannel, type ContainedPeerError } from './contain';
import { type Metrics, totalRequests, type MetricsSnapshot } from './metrics';
import { requestFinished, type RequestRecord } from './request/record';

/** Who this proxy reports as (the metrics' source workload and namespace). */
export interface ProxyIdentityInfo {
  readonly mode: 'gateway' | 'sidecar';
  readonly workload: string;
  readonly namespace: string;
}

/**
 * Access log bytes a sink may have queued (written, not yet taken: a stdout pipe nobody reads, a
 * slow disk) before lines are dropped, each counted in `mast_access_log_dropped_total`: a sink
 * that cannot keep up costs log lines, never the proxy's memory nor its requests' latency.
 */
export const ACCESS_LOG_MAX_PENDING_BYTES = 1024 * 1024;

/** The metrics group of requests answered without a cluster (no route, denied, direct responses). */
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
    private readonly owner: object,
    private readonly identity: ProxyIdentityInfo,
    private readonly metrics: Metrics,
    private readonly accessLog?: Writable,
  ) {
    requestFinished.subscribe(this.onRequest);
    peerInputChannel.subscribe(this.onPeerInputError);
  }

  private record(r: RequestRecord): void {
    const c = r.cluster;
    const reporter = this.identity.mode === 'sidecar' && r.inbound ? 'destination' : 'source';
    const labels = () =>
      ({
        reporter,
        sourceWorkload: this.identity.workload,
        sourceNamespace: this.identity.namespace,
        destinationService: c ? c.host || c.name : 'unknown',
        destinationServiceName: c ? (c.host || c.name).split('.')[0] : 'unknown',
        destinationVersion: c?.subset ?? 'unknown',
        responseCode: r.status,
        responseFlags: r.flags,
        grpcStatus: r.grpcStatus,
      }) as const;
    this.metrics.recordIn(c ?? NO_CLUSTER, reporter, r.status, r.flags, labels, r.ms, r.bytesIn, r.bytesOut, r.grpcStatus);
    if (!this.accessLog) return;
    if (this.accessLog.writableLength + this.logBufferBytes > ACCESS_LOG_MAX_PENDING_BYTES)
      return this.metrics.inc('mast_access_log_dropped_total');
    const req = r.request;
    this.logBuffer.push(
      JSON.stringify({
        start_time: new Date(Date.now() - r.ms).toISOString(),
        method: req.method,
        path: req.target,
        protocol: r.protocol,
        response_code: r.status,
        response_flags: r.flags,
        grpc_status: r.grpcStatus ?? null,
        bytes_received: r.bytesIn,
        bytes_sent: r.bytesOut,
        duration: Math.round(r.ms),
        upstream_host: r.upstream ?? null,
        upstream_cluster: c?.name ?? null,
        route_name: r.route ?? null,
        response_code_details: r.details ?? null,
        x_request_id: r.requestId || null,
        authority: r.authority,
        downstream_remote_address: req.remoteAddress,
        client_address: req.clientAddress(),
        traceparent: req.header('traceparent') ?? null,
      }),
    );
    this.logBufferBytes += this.logBuffer[this.logBuffer.length - 1].length + 1;
    // Lines leave together, once per turn of the loop: one write for a burst of requests.
    if (this.logBuffer.length === 1) setImmediate(() => this.flushLog());
  }

  private flushLog(): void {
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
