/**
 * The proxy process's state: the current config's listeners (bound ports), route tables and
 * clusters, swapped whole on `apply` (requests in flight keep the objects they started with),
 * the workload certificate, and the graceful drain. What a request needs of it is the narrow
 * `ExchangeContext`; connections see it as an `AcceptContext`.
 */
import { performance } from 'node:perf_hooks';
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { Writable } from 'node:stream';
import { compileRouteTable, type RouteTable } from './routing';
import {
  PASSTHROUGH_CLUSTER,
  type ClusterConfig,
  type PathNormalization,
  type ProxyConfig,
  type ServerTlsConfig,
} from '../contract/proxy-config';
import { acceptConnection, type AcceptContext } from './accept';
import { existingHttp2Front } from './h2/server';
import { checkConfig } from './config-check';
import type { DownstreamConn } from './downstream';
import { DEFAULT_CREDENTIALS_DIR, reloadTls, tlsFiles } from './gateway-tls';
import { buildChains } from './tls-chains';
import { DEFAULT_LIMITS, type Limits } from './http/head';
import { drainListener } from './listener-drain';
import { DEFAULT_MAX_CONNECTIONS, listen, ListenerRuntime, type ConnectionLimit, type ListenerSetup } from './listeners';
import { Metrics, type MetricsSnapshot } from './metrics';
import { mirror } from './mirror';
import type { ExchangeContext, MirrorBody } from './request/context';
import { Telemetry, type CompiledLogs, type ProxyIdentityInfo } from './telemetry';
import { LogLevels } from './log-levels';
import { type Tracer, tracerFor } from './tracing/tracer';
import { Cluster } from './upstream/cluster';
import { workloadContext } from './peer-tls';
import { certificateRows, type CertificateRow } from './certs-report';

export interface WorkloadCertificate {
  readonly key: string;
  readonly certificate: string;
  readonly root: string;
  readonly expiresAt: string;
}

/** How long a listener a push removed serves its open connections (Istio's `drainDuration`, Envoy's `--drain-time-s`). */
export const DEFAULT_LISTENER_DRAIN_MS = 45_000;

export type ApplyResult =
  | { readonly ok: true; readonly version: string }
  | { readonly ok: false; readonly version: string; readonly error: string };

/** Where a sidecar sends requests for hosts outside the mesh: each to its original destination. */
const PASSTHROUGH: ClusterConfig = {
  name: PASSTHROUGH_CLUSTER,
  host: '',
  port: 0,
  endpoints: [],
  lb: { kind: 'passthrough' },
  connectTimeoutMs: 10_000,
};

export class MeshProxy implements AcceptContext, ExchangeContext {
  readonly metrics = new Metrics();
  /** Its loggers' levels, set on the admin port's `/logging`. */
  readonly logLevels = new LogLevels();
  private readonly telemetry: Telemetry;
  /** Spans of this proxy's requests, while the config has `tracing`. */
  tracer?: Tracer;
  draining = false;
  config?: ProxyConfig;
  pathNormalization: PathNormalization = 'BASE';
  private meshTlsMinVersion: tls.SecureVersion = 'TLSv1.2';
  private certificate?: WorkloadCertificate;
  private clusters = new Map<string, Cluster>();
  private readonly listeners = new Map<number, ListenerRuntime>();
  private readonly conns = new Set<DownstreamConn>();
  lastError?: string;
  /** Listeners and TLS servers of the current config that are not served, and why. */
  skipped: string[] = [];
  /** The TLS settings of the servers left out for want of their certificate (served once it appears). */
  private unserved: ServerTlsConfig[] = [];
  /** The TLS context of the workload certificate mastd issued (mTLS both ways). */
  private tlsContext?: tls.SecureContext;
  /** Where `credentialName` Secrets are mounted (`--credentials-dir`). */
  credentialsDir = DEFAULT_CREDENTIALS_DIR;
  private readonly sweeper: NodeJS.Timeout;
  private reloader: NodeJS.Timeout;

  /** Told of every config applied (a gateway's first process hands it on to its workers). */
  onApplied?: (config: ProxyConfig) => void;
  /** Told of every workload certificate installed. */
  onCertificate?: (c: WorkloadCertificate) => void;
  /** Bind with SO_REUSEPORT (several worker processes on one port; Node ≥ 22.12). */
  reusePort = false;
  /** Open client connections per listener, at most (`--max-connections`; 0: no limit). */
  maxConnections = DEFAULT_MAX_CONNECTIONS;
  /** How long a removed listener's connections may finish what they have in flight (`--listener-drain-seconds`). */
  listenerDrainMs = DEFAULT_LISTENER_DRAIN_MS;
  /** Listeners removed by a push and still draining. */
  private readonly drainingListeners = new Set<ListenerRuntime>();
  /** How long access log lines may wait to be written together (`--access-log-flush-ms`); 0: once per turn of the loop. */
  set accessLogFlushMs(ms: number) {
    this.telemetry.flushMs = ms;
  }
  /** Metrics of other processes serving the same ports, rendered with this one's. */
  peerMetrics?: () => Array<{ worker: number; metrics: MetricsSnapshot }>;

  constructor(
    readonly identity: ProxyIdentityInfo,
    accessLog?: Writable,
    readonly limits: Limits = DEFAULT_LIMITS,
  ) {
    this.telemetry = new Telemetry(this, identity, this.metrics, accessLog, this.logLevels);
    // One timer for every idle deadline, instead of one re-armed per request.
    const every = Math.max(20, Math.min(500, Math.floor(limits.headerTimeoutMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
    this.reloader = setInterval(() => void this.reloadCredentials(), 30_000);
    this.reloader.unref();
  }

  /**
   * Renewed certificates (see gateway-tls.ts) are taken up; a server left out for want of its
   * Secret is served once the Secret appears, and one whose Secret is gone is left out. Called
   * every `credentialsReloadMs`; answers whether anything changed.
   */
  async reloadCredentials(): Promise<boolean> {
    const { changed, gone } = reloadTls(
      [...this.listeners.values()].flatMap((l) => l.terminatedChains()),
      this.credentialsDir,
    );
    if (changed) this.metrics.inc('mast_certificates_reloaded_total', changed);
    const mounted = this.unserved.some((t) => !('skip' in tlsFiles(t, this.credentialsDir)));
    if (!this.config || !(mounted || gone)) return changed > 0;
    // The config current when its turn comes: a push applied meanwhile is not undone by an older one.
    const again = await this.serialized(() => (this.config ? this.applyNow(this.config) : undefined));
    return again?.ok === true || changed > 0;
  }

  /** Applies run one at a time: two binding the same new port at once would fail one of them. */
  private applying: Promise<unknown> = Promise.resolve();
  private serialized<T>(run: () => Promise<T> | T): Promise<T> {
    const next = this.applying.then(run);
    this.applying = next.catch(() => undefined);
    return next;
  }

  /** How often certificates are looked at on disk (`--credentials-reload-seconds`; kubelet updates a mounted Secret within a minute or so). */
  set credentialsReloadMs(ms: number) {
    clearInterval(this.reloader);
    this.reloader = setInterval(() => void this.reloadCredentials(), ms);
    this.reloader.unref();
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
    this.certificate = c;
    this.rebuildWorkloadTls();
    this.onCertificate?.(c);
    this.metrics.inc('mast_certificates_installed_total');
  }

  /** The workload mTLS context, of the current certificate and the mesh's minimum TLS version. */
  private rebuildWorkloadTls(): void {
    const c = this.certificate;
    if (c) this.tlsContext = workloadContext(c.key, c.certificate, c.root, this.meshTlsMinVersion);
  }

  /** The workload certificate's TLS context (mTLS), once mastd has issued one. */
  get workloadTls(): tls.SecureContext | undefined {
    return this.tlsContext;
  }

  /** Validates and swaps in a config; a rejected one leaves the last good config running. */
  apply(config: ProxyConfig): Promise<ApplyResult> {
    return this.serialized(() => this.applyNow(config));
  }

  private async applyNow(config: ProxyConfig): Promise<ApplyResult> {
    const rejected = (error: string): ApplyResult => {
      this.lastError = error;
      this.metrics.inc('mast_config_rejected_total');
      return { ok: false, version: config.version, error };
    };
    const problem = checkConfig(config);
    if (problem) return rejected(problem);
    let tables: RouteTable[];
    let logs: CompiledLogs | undefined;
    try {
      tables = config.listeners.map(compileRouteTable);
      // Formats and filters compiled once per config, before anything of it is applied.
      logs = this.telemetry.compileLogs(config.accessLogs);
    } catch (err) {
      return rejected((err as Error).message);
    }
    const byPort = new Map<number, ListenerSetup[]>();
    const skipped: string[] = [];
    const unserved: ServerTlsConfig[] = [];
    for (const [i, lc] of config.listeners.entries()) {
      // Never serve a TLS server in plaintext or with another's certificate: without its own it is left out.
      const built = buildChains(lc, this.credentialsDir);
      if ('error' in built) return rejected(built.error);
      for (const s of built.skipped) skipped.push(s.why), unserved.push(s.tls);
      // Nothing left to serve on it (every server waits for its certificate): the port is not listened on, as Envoy has no listener without chains.
      // A sidecar's ingress listener keeps its (empty) chains: on a pod's inbound port, its connections are closed, never served plain.
      if (built.chains?.length === 0 && built.skipped.length && lc.trafficDirection !== 'INBOUND') continue;
      byPort.set(lc.port, [...(byPort.get(lc.port) ?? []), { config: lc, table: tables[i], chains: built.chains }]);
    }
    this.skipped = skipped;
    this.unserved = unserved;
    if (skipped.length) this.metrics.inc('mast_listeners_skipped_total', skipped.length);
    // Bind new ports first: if one fails, nothing of the new config has been applied.
    const fresh = [...byPort.entries()]
      .filter(([port]) => !this.listeners.has(port))
      .map(([port, entries]) => {
        const l = new ListenerRuntime(port);
        l.set(entries);
        return { l, entries };
      });
    const accept = (socket: net.Socket, l: ListenerRuntime) => acceptConnection(this, socket, l);
    const limit: ConnectionLimit = { max: this.maxConnections, refused: () => this.metrics.inc('mast_downstream_cx_overflow_total') };
    const bound = await Promise.allSettled(
      fresh.map(({ l, entries }) => listen(l, entries[0].config.address ?? '0.0.0.0', this.reusePort, accept, limit)),
    );
    const failed = bound.find((b): b is PromiseRejectedResult => b.status === 'rejected');
    if (failed) {
      for (const { l } of fresh) l.server?.close();
      return rejected(`cannot listen: ${(failed.reason as Error).message}`);
    }
    // Requests for hosts the mesh does not know go to their original destination (ALLOW_ANY).
    const builtIn =
      config.listeners.some((l) => l.passthrough) && !config.clusters.some((c) => c.name === PASSTHROUGH_CLUSTER) ? [PASSTHROUGH] : [];
    const clusters = new Map(
      [...config.clusters, ...builtIn].map((c) => {
        const old = this.clusters.get(c.name);
        // A delta push shares the unchanged cluster objects: those keep running as they are.
        return [c.name, old?.config === c ? old : new Cluster(c, old, () => this.tlsContext, this.credentialsDir)];
      }),
    );
    for (const [name, old] of this.clusters) if (!clusters.has(name)) old.close();
    this.clusters = clusters;
    for (const { l } of fresh) this.listeners.set(l.port, l);
    for (const [port, l] of this.listeners) {
      const entries = byPort.get(port);
      if (entries) l.set(entries);
      else {
        // Removed: no new connections; the open ones finish what is in flight (listener-drain.ts).
        this.listeners.delete(port);
        this.drainingListeners.add(l);
        this.metrics.inc('mast_listener_drains_total');
        const h2 = () => existingHttp2Front(this);
        void drainListener(l, () => this.conns, this.listenerDrainMs, h2).then(() => this.drainingListeners.delete(l));
      }
    }
    this.config = config;
    this.pathNormalization = config.pathNormalization ?? 'BASE';
    // The mesh's minimum mTLS version: new connections (both ends) take it; open ones keep theirs.
    const minVersion = config.meshTlsMinVersion ?? 'TLSv1.2';
    if (minVersion !== this.meshTlsMinVersion) {
      this.meshTlsMinVersion = minVersion;
      this.rebuildWorkloadTls();
    }
    this.tracer = tracerFor(this, config, this.tracer, (name, by) => this.metrics.inc(name, by), this.identity);
    this.telemetry.useLogs(logs);
    this.lastError = undefined;
    this.metrics.inc('mast_config_applied_total');
    this.onApplied?.(config);
    return { ok: true, version: config.version };
  }

  /** Prometheus text for this proxy and its workers, if any. */
  renderMetrics(): string {
    return this.telemetry.render(this.peerMetrics?.());
  }

  /** Ports actually bound (for port 0 in tests). */
  boundPort(listenerName: string): number | undefined {
    for (const l of this.listeners.values())
      if (l.configs.some((c) => c.name === listenerName)) return (l.server?.address() as net.AddressInfo | null)?.port;
    return undefined;
  }

  track(conn: DownstreamConn): void {
    this.conns.add(conn);
    conn.socket.once('close', () => this.conns.delete(conn));
  }

  mirror(cluster: string, method: string, head: string, withBody = false): MirrorBody | undefined {
    return mirror(this.clusters.get(cluster), method, head, this.limits.maxHeadBytes, this.metrics, withBody);
  }

  /**
   * Drain as Envoy does on SIGTERM: readiness turns false at once (a load balancer stops sending),
   * yet the listeners keep accepting for the drain period and every response says
   * `Connection: close`, so clients move to other replicas without an error. Idle keep-alive
   * connections are not cut while clients may still be sending on them (that race is a reset);
   * they are ended (FIN) when the period is over and the listeners close. Requests still in flight
   * then get up to half the period again to finish before what is left is closed.
   * HTTP/2 sessions are told GOAWAY at once (h2/goaway.ts; Istio runs Envoy with `--drain-strategy
   * immediate`), and so is every session that comes during the period; their clients open new
   * streams on new connections, and those left at the end are closed with the rest.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    existingHttp2Front(this)?.goAway(undefined, timeoutMs);
    await new Promise((r) => setTimeout(r, timeoutMs));
    for (const l of this.listeners.values()) l.server?.close();
    // Listeners a push removed end with the rest: their connections are in `conns`, their sockets below.
    const leftovers = [...this.drainingListeners].flatMap((l) => [...l.sockets]);
    const finishing = performance.now() + timeoutMs / 2;
    const h2 = existingHttp2Front(this);
    for (;;) {
      for (const c of this.conns) if (c.idle) c.end();
      if ((this.conns.size === 0 && !h2?.sessions.size) || performance.now() >= finishing) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    h2?.destroy();
    for (const c of this.conns) c.close();
    for (const s of leftovers) s.destroy();
    for (const c of this.clusters.values()) c.close();
    clearInterval(this.sweeper);
    clearInterval(this.reloader);
    this.telemetry.close();
    this.tracer?.close();
  }

  /** The certificates served with (the admin port's `/certs`, as `istioctl proxy-config secret`). */
  certificatesReport(): CertificateRow[] {
    const files = [...this.listeners.values()].flatMap((l) => l.terminatedChains()).map((c) => c.tlsFiles);
    return certificateRows(this.certificate, files);
  }

  clustersReport(): object[] {
    const now = performance.now();
    return [...this.clusters.values()].map((c) => ({
      name: c.config.name,
      lb: c.config.lb.kind,
      overflows: c.overflows,
      endpoints: c.endpoints.map((e) => {
        const { active, connections, requests, ejections } = e;
        return { address: e.key, healthy: e.ejectedUntil <= now, active, connections, idle: e.idle.length, requests, ejections };
      }),
    }));
  }
}
