/**
 * The proxy process state: listeners bound to ports, the current config's route tables
 * and clusters (swapped atomically: requests in flight keep the objects they started
 * with), telemetry, mirroring and graceful drain.
 */
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { tlsModule } from '../shared/lazy-tls';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { acceptConnection } from './accept';
import type { Writable } from 'node:stream';
import { compileRouteTable, type RouteTable } from '../shared/routing';
import { PASSTHROUGH_CLUSTER, type ClusterConfig, type ListenerConfig, type PathNormalization, type ProxyConfig } from '../shared/proxy-config';
import { Cluster } from './upstream/cluster';
import { Metrics, totalRequests, type MetricsSnapshot } from './metrics';
import { DEFAULT_LIMITS, headEnd, parseResponseHead, type Limits } from './http/head';
import { BodyFraming } from './http/body';
import { DownstreamConn } from './downstream';
import { checkConfig } from './config-check';
import { peerInputChannel, type ContainedPeerError } from './contain';

/** Where a gateway finds the Secrets its Gateways name as `credentialName`, one directory each (`tls.crt`, `tls.key`, `ca.crt`): the IngressGateway construct mounts them there. */
export const DEFAULT_CREDENTIALS_DIR = '/etc/mast/credentials';

type ListenerEntry = { config: ListenerConfig; table: RouteTable; secureContext?: tls.SecureContext; tlsFiles?: LoadedTls };
type TlsFiles = { readonly cert: string; readonly key: string; readonly ca?: string };
type LoadedTls = TlsFiles & { readonly context: tls.SecureContext; readonly contents: string };

/** The files a TLS listener serves from: the Gateway's own paths, or its credentialName's mounted Secret. */
function tlsFiles(lc: ListenerConfig, credentialsDir: string): TlsFiles | { skip: string } {
  const t = lc.tls!;
  const mutual = t.mode === 'MUTUAL';
  if (t.certificateFile && t.keyFile) {
    if (mutual && !t.caFile) return { skip: 'TLS MUTUAL without caCertificates cannot verify clients' };
    return { cert: t.certificateFile, key: t.keyFile, ...(mutual ? { ca: t.caFile } : {}) };
  }
  if (!t.credentialName) return { skip: 'TLS without serverCertificate/privateKey or credentialName' };
  const dir = join(credentialsDir, t.credentialName);
  const files = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), ...(mutual ? { ca: t.caFile ?? join(dir, 'ca.crt') } : {}) };
  const missing = [files.cert, files.key, ...(files.ca ? [files.ca] : [])].filter((f) => !existsSync(f));
  if (missing.length) return { skip: `TLS credentialName ${JSON.stringify(t.credentialName)}: the Secret is not mounted (${missing.join(', ')} missing; the IngressGateway construct mounts the Secrets its Gateways name)` };
  return files;
}

function loadTls(f: TlsFiles): LoadedTls {
  const cert = readFileSync(f.cert);
  const key = readFileSync(f.key);
  const ca = f.ca ? readFileSync(f.ca) : undefined;
  return { ...f, context: tlsModule().createSecureContext({ cert, key, ...(ca ? { ca } : {}) }), contents: `${cert}${key}${ca ?? ''}` };
}

/**
 * A bound port. Usually one listener config; a sidecar's outbound port carries one per
 * service port, told apart by the destination port of each request.
 */
export class ListenerRuntime {
  private byMatchPort = new Map<number, { config: ListenerConfig; table: RouteTable }>();
  server?: net.Server;
  constructor(readonly port: number) {}

  /** HTTPS termination (a gateway's TLS server), loaded when the config was applied. */
  secureContext?: tls.SecureContext;

  /** The certificate files behind `secureContext` and what they held when loaded (re-read for rotation). */
  tlsFiles?: LoadedTls;

  set(entries: ListenerEntry[]): void {
    this.byMatchPort = new Map(entries.map((e) => [e.config.matchPort, e]));
    // Read on every request: worked out once per config.
    this.configs = [...this.byMatchPort.values()].map((e) => e.config);
    this.only = this.byMatchPort.size === 1 ? this.byMatchPort.values().next().value : undefined;
    this.defaultPort = this.only ? this.only.config.matchPort : 80;
    this.secureContext = entries[0]?.secureContext;
    this.tlsFiles = entries[0]?.tlsFiles;
    this.mutualTls = entries[0]?.config.tls?.mode === 'MUTUAL';
    this.sniRoutes = entries.find((e) => e.config.sniRoutes)?.config.sniRoutes;
    this.hasTcp = entries.some((e) => e.config.protocol === 'tcp');
    this.passthrough = entries.some((e) => e.config.passthrough);
    this.inbound = entries.some((e) => e.config.name === 'virtualInbound');
  }

  /** Clients must present a certificate the listener's CAs signed (Gateway `tls.mode: MUTUAL`). */
  mutualTls = false;
  /** TLS PASSTHROUGH: connections routed by the server name of their ClientHello. */
  sniRoutes?: ListenerConfig['sniRoutes'];
  /** Some destination port here is proxied as TCP. */
  hasTcp = false;
  /** A sidecar's inbound listener. */
  inbound = false;
  /** Connections to destination ports nothing here knows go on to their original destination. */
  passthrough = false;

  knows(port: number): boolean {
    return this.byMatchPort.has(port);
  }

  configs: ListenerConfig[] = [];
  /** The one entry, when there is one (it serves every destination port). */
  private only?: { config: ListenerConfig; table: RouteTable };
  /** The port requests are matched against when a request names none. */
  defaultPort = 80;

  /** The listener config requests to `port` are served by. */
  configFor(port: number): ListenerConfig | undefined {
    return (this.byMatchPort.get(port) ?? this.only)?.config;
  }

  tableFor(port: number): RouteTable | undefined {
    return (this.byMatchPort.get(port) ?? this.only)?.table;
  }
}

/** Where a sidecar sends requests for hosts outside the mesh: each to its original destination. */
const PASSTHROUGH: ClusterConfig = { name: PASSTHROUGH_CLUSTER, host: '', port: 0, endpoints: [], lb: { kind: 'passthrough' }, connectTimeoutMs: 10_000 };

/** The metrics group of requests answered without a cluster (no route, denied, direct responses). */
const NO_CLUSTER = {};

export interface RequestRecord {
  readonly cluster?: ClusterConfig;
  readonly status: number;
  readonly flags: string;
  readonly ms: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly route?: string;
  readonly upstream?: string;
  readonly requestId: string;
  readonly authority: string;
  /** Why the proxy answered itself, e.g. `rbac_access_denied_matched_policy[ns/name[0]]`. */
  readonly details?: string;
}

export interface ProxyIdentityInfo {
  readonly mode: 'gateway' | 'sidecar';
  readonly workload: string;
  readonly namespace: string;
}

export interface WorkloadCertificate {
  readonly key: string;
  readonly certificate: string;
  readonly root: string;
  readonly expiresAt: string;
}

export interface ProxyRuntime {
  readonly identity: ProxyIdentityInfo;
  readonly limits: Limits;
  /** The current config's `pathNormalization` (BASE when it names none). */
  readonly pathNormalization: PathNormalization;
  readonly metrics: Metrics;
  readonly draining: boolean;
  cluster(name: string): Cluster | undefined;
  recordRequest(down: DownstreamConn, r: RequestRecord): void;
  mirror(cluster: string, down: DownstreamConn, head: string): void;
  track(conn: DownstreamConn): void;
}

export type ApplyResult = { readonly ok: true; readonly version: string } | { readonly ok: false; readonly version: string; readonly error: string };

export class Proxy implements ProxyRuntime {
  readonly metrics = new Metrics();
  draining = false;
  config?: ProxyConfig;
  pathNormalization: PathNormalization = 'BASE';
  private clusters = new Map<string, Cluster>();
  private readonly listeners = new Map<number, ListenerRuntime>();
  private readonly conns = new Set<DownstreamConn>();
  private logBuffer: string[] = [];
  lastError?: string;
  /** Listeners of the current config that are not served, and why. */
  skipped: string[] = [];
  /** The TLS context of the workload certificate mastd issued (mTLS both ways). */
  private tlsContext?: tls.SecureContext;
  /** Where `credentialName` Secrets are mounted (`--credentials-dir`). */
  credentialsDir = DEFAULT_CREDENTIALS_DIR;

  private readonly sweeper: NodeJS.Timeout;
  private readonly reloader: NodeJS.Timeout;
  /** Errors a peer's input caused, each contained to its connection (contain.ts), counted here. */
  private readonly onPeerInputError = (m: unknown): void => this.metrics.inc(`mast_peer_input_errors_total{side="${(m as ContainedPeerError).side}"}`);

  constructor(
    readonly identity: ProxyIdentityInfo,
    private readonly accessLog?: Writable,
    readonly limits: Limits = DEFAULT_LIMITS,
  ) {
    // One timer for every idle deadline, instead of one re-armed per request.
    const every = Math.max(20, Math.min(500, Math.floor(limits.headerTimeoutMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
    this.reloader = setInterval(() => void this.reloadCredentials(), 30_000);
    this.reloader.unref();
    peerInputChannel.subscribe(this.onPeerInputError);
  }

  /**
   * Certificates are renewed on disk (kubelet updates a mounted Secret; cert-manager renews it):
   * new connections get the new certificate. A listener skipped for want of its Secret is bound
   * once the Secret appears. Called every 30 s; answers whether anything changed.
   */
  async reloadCredentials(): Promise<boolean> {
    let changed = false;
    for (const l of this.listeners.values()) {
      const f = l.tlsFiles;
      if (!f) continue;
      try {
        const next = loadTls(f);
        if (next.contents === f.contents) continue;
        l.secureContext = next.context;
        l.tlsFiles = next;
        changed = true;
        this.metrics.inc('mast_certificates_reloaded_total');
      } catch {
        // Half-written (a Secret update in progress): keep serving the last good one, try again later.
      }
    }
    const config = this.config;
    if (config && this.skipped.length && config.listeners.some((lc) => lc.tls && !('skip' in tlsFiles(lc, this.credentialsDir)) && this.skipped.some((s) => s.startsWith(`${lc.name}:`)))) {
      changed = (await this.apply(config)).ok || changed;
    }
    return changed;
  }

  private sweep(): void {
    // Idle and ejection times are on the monotonic clock: a wall-clock step changes none of them.
    const now = performance.now();
    for (const c of this.conns) c.expire(now);
    for (const c of this.clusters.values()) c.sweep(now);
  }

  cluster(name: string): Cluster | undefined {
    return this.clusters.get(name);
  }

  /** New connections use it at once; existing ones keep theirs until they close. */
  setCertificate(c: WorkloadCertificate): void {
    this.tlsContext = tlsModule().createSecureContext({ key: c.key, cert: c.certificate, ca: c.root });
    this.onCertificate?.(c);
    this.metrics.inc('mast_certificates_installed_total');
  }

  /** The workload certificate's TLS context (mTLS), once mastd has issued one. */
  get workloadTls(): tls.SecureContext | undefined {
    return this.tlsContext;
  }

  /** Validates and swaps in a config; a rejected one leaves the last good config running. */
  async apply(config: ProxyConfig): Promise<ApplyResult> {
    const problem = checkConfig(config);
    if (problem) {
      this.lastError = problem;
      this.metrics.inc('mast_config_rejected_total');
      return { ok: false, version: config.version, error: problem };
    }
    let tables: RouteTable[];
    try {
      tables = config.listeners.map(compileRouteTable);
    } catch (err) {
      this.lastError = (err as Error).message;
      this.metrics.inc('mast_config_rejected_total');
      return { ok: false, version: config.version, error: this.lastError };
    }
    const byPort = new Map<number, ListenerEntry[]>();
    const skipped: string[] = [];
    for (const [i, lc] of config.listeners.entries()) {
      let secure: LoadedTls | undefined;
      if (lc.tls) {
        // Never serve a TLS port in plaintext: without its certificate the listener is left out.
        const files = tlsFiles(lc, this.credentialsDir);
        if ('skip' in files) {
          skipped.push(`${lc.name}: ${files.skip}; not listening`);
          continue;
        }
        try {
          secure = loadTls(files);
        } catch (err) {
          this.lastError = `listener ${lc.name}: cannot load its certificate: ${(err as Error).message}`;
          this.metrics.inc('mast_config_rejected_total');
          return { ok: false, version: config.version, error: this.lastError };
        }
      }
      byPort.set(lc.port, [...(byPort.get(lc.port) ?? []), { config: lc, table: tables[i], secureContext: secure?.context, tlsFiles: secure }]);
    }
    this.skipped = skipped;
    if (skipped.length) this.metrics.inc('mast_listeners_skipped_total', skipped.length);
    // Bind new ports first: if one fails, nothing of the new config has been applied.
    const fresh = [...byPort.entries()].filter(([port]) => !this.listeners.has(port)).map(([port, entries]) => {
      const l = new ListenerRuntime(port);
      l.set(entries);
      return { l, entries };
    });
    const bound = await Promise.allSettled(fresh.map(({ l, entries }) => this.bind(l, entries[0].config.address)));
    const failed = bound.find((b): b is PromiseRejectedResult => b.status === 'rejected');
    if (failed) {
      for (const { l } of fresh) l.server?.close();
      this.lastError = `cannot listen: ${(failed.reason as Error).message}`;
      this.metrics.inc('mast_config_rejected_total');
      return { ok: false, version: config.version, error: this.lastError };
    }
    // Requests for hosts the mesh does not know go to their original destination (ALLOW_ANY).
    const builtIn = config.listeners.some((l) => l.passthrough) && !config.clusters.some((c) => c.name === PASSTHROUGH_CLUSTER) ? [PASSTHROUGH] : [];
    const clusters = new Map(
      [...config.clusters, ...builtIn].map((c) => {
        const old = this.clusters.get(c.name);
        // A delta push shares the unchanged cluster objects: those keep running as they are.
        return [c.name, old?.config === c ? old : new Cluster(c, old, () => this.tlsContext)];
      }),
    );
    for (const [name, old] of this.clusters) if (!clusters.has(name)) old.close();
    this.clusters = clusters;
    for (const { l } of fresh) this.listeners.set(l.port, l);
    for (const [port, l] of this.listeners) {
      const entries = byPort.get(port);
      if (entries) l.set(entries);
      else {
        l.server?.close();
        this.listeners.delete(port);
      }
    }
    this.config = config;
    this.pathNormalization = config.pathNormalization ?? 'BASE';
    this.lastError = undefined;
    this.metrics.inc('mast_config_applied_total');
    this.onApplied?.(config);
    return { ok: true, version: config.version };
  }

  /** Told of every config applied (a gateway's first process hands it on to its workers). */
  onApplied?: (config: ProxyConfig) => void;
  /** Told of every workload certificate installed. */
  onCertificate?: (c: WorkloadCertificate) => void;
  /** Bind with SO_REUSEPORT (several worker processes on one port; Node ≥ 22.12). */
  reusePort = false;
  /** Metrics of other processes serving the same ports, rendered with this one's. */
  peerMetrics?: () => Array<{ worker: number; metrics: MetricsSnapshot }>;

  /** Prometheus text for this proxy and its workers, if any. */
  renderMetrics(): string {
    const peers = this.peerMetrics?.() ?? [];
    if (!peers.length) return this.metrics.render();
    const lines = [[0, this.metrics.requestCount()], ...peers.map((p) => [p.worker, totalRequests(p.metrics)])].map(([worker, n]) => `mast_worker_requests_total{worker="${worker}"} ${n}`);
    return `${this.metrics.render(peers.map((p) => p.metrics))}# TYPE mast_worker_requests_total counter\n${lines.join('\n')}\n`;
  }

  private bind(l: ListenerRuntime, address = '0.0.0.0'): Promise<void> {
    const server = net.createServer({ noDelay: true }, (socket) => acceptConnection(this, socket, l));
    l.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      // reusePort is an option of Node >= 22.12 (older versions ignore it; main.ts never asks them to).
      server.listen({ port: l.port, host: address, ...(this.reusePort ? { reusePort: true } : {}) }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  /** Ports actually bound (for port 0 in tests). */
  boundPort(listenerName: string): number | undefined {
    for (const l of this.listeners.values()) if (l.configs.some((c) => c.name === listenerName)) return (l.server?.address() as net.AddressInfo | null)?.port;
    return undefined;
  }

  track(conn: DownstreamConn): void {
    this.conns.add(conn);
    conn.socket.once('close', () => this.conns.delete(conn));
  }

  recordRequest(down: DownstreamConn, r: RequestRecord): void {
    const c = r.cluster;
    const reporter = this.identity.mode === 'sidecar' && down.listener.inbound ? 'destination' : 'source';
    const labels = () => ({
      reporter,
      sourceWorkload: this.identity.workload,
      sourceNamespace: this.identity.namespace,
      destinationService: c ? c.host || c.name : 'unknown',
      destinationServiceName: c ? (c.host || c.name).split('.')[0] : 'unknown',
      destinationVersion: c?.subset ?? 'unknown',
      responseCode: r.status,
      responseFlags: r.flags,
    } as const);
    this.metrics.recordIn(c ?? NO_CLUSTER, reporter, r.status, r.flags, labels, r.ms, r.bytesIn, r.bytesOut);
    if (!this.accessLog) return;
    this.logBuffer.push(
      JSON.stringify({
        start_time: new Date(Date.now() - r.ms).toISOString(),
        method: down.method,
        path: down.target,
        protocol: down.head.http10 ? 'HTTP/1.0' : 'HTTP/1.1',
        response_code: r.status,
        response_flags: r.flags,
        bytes_received: r.bytesIn,
        bytes_sent: r.bytesOut,
        duration: Math.round(r.ms),
        upstream_host: r.upstream ?? null,
        upstream_cluster: c?.name ?? null,
        route_name: r.route ?? null,
        response_code_details: r.details ?? null,
        x_request_id: r.requestId || null,
        authority: r.authority,
        downstream_remote_address: down.remoteAddress,
        client_address: down.clientAddress(),
        traceparent: down.header('traceparent') ?? null,
      }),
    );
    if (this.logBuffer.length === 1) setImmediate(() => this.flushLog());
  }

  private flushLog(): void {
    const lines = this.logBuffer;
    this.logBuffer = [];
    this.accessLog?.write(`${lines.join('\n')}\n`);
  }

  /** Fire-and-forget copy of a bodiless request; its response is read and dropped. */
  mirror(clusterName: string, down: DownstreamConn, head: string): void {
    const cluster = this.clusters.get(clusterName);
    const endpoint = cluster?.pick();
    if (!cluster || !endpoint) return;
    this.metrics.inc('mast_mirror_requests_total');
    cluster.acquire(endpoint, (r) => {
      if (!('conn' in r)) return;
      let buf: Buffer | null = null;
      let framing: BodyFraming | undefined;
      const release = (ok: boolean) => {
        r.conn.handler = undefined;
        cluster.release(endpoint, r.conn, ok);
      };
      r.conn.take({
        onData: (chunk) => {
          // The shadow's answer is the mirror target's to get wrong: a bad or endless head, bad
          // chunked framing, all end this connection only (it was consumed outside any try once).
          try {
            if (!framing) {
              buf = buf ? Buffer.concat([buf, chunk]) : chunk;
              const end = headEnd(buf);
              if (end < 0) {
                if (buf.length > this.limits.maxHeadBytes) release(false);
                return;
              }
              framing = BodyFraming.forResponse(parseResponseHead(buf, 0, end), down.method);
              chunk = buf.subarray(end);
            }
            framing.consume(chunk, 0, chunk.length);
          } catch {
            this.metrics.inc('mast_mirror_bad_responses_total');
            return release(false);
          }
          if (framing.done) release(!framing.untilClose);
        },
        onEnd: () => release(false),
        onError: () => undefined,
      });
      r.conn.socket.write(head, 'latin1');
    });
  }

  /**
   * Drain as Envoy does on SIGTERM: readiness turns false at once (a load balancer stops sending),
   * yet the listeners keep accepting for the drain period and every response says
   * `Connection: close`, so clients move to other replicas without an error. Idle keep-alive
   * connections are not cut while clients may still be sending on them (that race is a reset);
   * they are ended (FIN) when the period is over and the listeners close. Requests still in flight
   * then get up to half the period again to finish before what is left is closed.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    await new Promise((r) => setTimeout(r, timeoutMs));
    for (const l of this.listeners.values()) l.server?.close();
    const finishing = performance.now() + timeoutMs / 2;
    for (;;) {
      for (const c of this.conns) if (c.idle) c.end();
      if (this.conns.size === 0 || performance.now() >= finishing) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const c of this.conns) c.close();
    for (const c of this.clusters.values()) c.close();
    clearInterval(this.sweeper);
    clearInterval(this.reloader);
    peerInputChannel.unsubscribe(this.onPeerInputError);
    if (this.logBuffer.length) this.flushLog();
  }

  clustersReport(): object[] {
    const now = performance.now();
    return [...this.clusters.values()].map((c) => ({
      name: c.config.name,
      lb: c.config.lb.kind,
      overflows: c.overflows,
      endpoints: c.endpoints.map((e) => ({ address: e.key, healthy: e.ejectedUntil <= now, active: e.active, connections: e.connections, idle: e.idle.length, requests: e.requests, ejections: e.ejections })),
    }));
  }
}
