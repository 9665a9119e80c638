/**
 * A cluster at run time: its endpoints with their keep-alive connection pools, load
 * balancing (least request by power of two choices, round robin, random, consistent
 * hash), connection limits with a bounded pending queue, and outlier ejection.
 */
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { tlsModule } from '../lazy-tls';
import { TLS_MODE_LABEL, type ClusterConfig, type EndpointConfig } from '../../contract/proxy-config';
import { DEFAULT_CREDENTIALS_DIR } from '../gateway-tls';
import { Origination } from './origination';
import { peerIdentity } from '../../contract/spiffe';
import { UpstreamConn } from './conn';
import { readInto } from '../read-buffer';
import { HashRing } from './hash-ring';
import { PriorityPicker, priorityLevels } from './locality';

export class Endpoint {
  readonly key: string;
  active = 0;
  connections = 0;
  readonly idle: UpstreamConn[] = [];
  ejectedUntil = 0;
  ejections = 0;
  consecutive5xx = 0;
  consecutiveGatewayErrors = 0;
  requests = 0;
  /** The cluster that now holds this endpoint (a config change hands it, with its pool, to a new one). */
  owner?: Cluster;
  /** Its multiplexed HTTP/2 sessions (h2/upstream-pool.ts), when requests to it went over HTTP/2. */
  h2?: { close(): void };
  /** Its server failed a handshake that offered a TLS session (it cannot resume): new connections make full ones. */
  refusesResumption = false;
  constructor(readonly config: EndpointConfig) {
    this.key = `${config.address}:${config.port}`;
  }
}

export type AcquireResult = { conn: UpstreamConn; endpoint: Endpoint } | { error: 'overflow' | 'no-healthy-upstream' };
type Waiter = (r: AcquireResult) => void;

export interface PickHints {
  /** For consistent hashing: the request's hash key, if the policy has one. */
  readonly hashKey?: string;
  /** For passthrough clusters: the port the connection was originally sent to. */
  readonly originalPort?: number;
  /** And its address, for a passthrough cluster without a host of its own (outside the mesh). */
  readonly originalAddress?: string;
}

const NO_HINTS: PickHints = {};

export class Cluster {
  readonly endpoints: Endpoint[];
  private rr = 0;
  /** consistentHash: the ring of the healthy endpoints it was built for. */
  private ring?: HashRing<Endpoint>;
  private readonly pending: Waiter[] = [];
  overflows = 0;

  constructor(
    readonly config: ClusterConfig,
    previous?: Cluster,
    /** The proxy's workload certificate, for mTLS to sidecars (absent until mastd issued one). */
    private readonly workloadTls: () => tls.SecureContext | undefined = () => undefined,
    /** Where the Secrets a DestinationRule names as `credentialName` are mounted (`--credentials-dir`). */
    credentialsDir: string = DEFAULT_CREDENTIALS_DIR,
  ) {
    if (config.originate) this.origination = new Origination(config.originate, credentialsDir);
    // Keep pools of endpoints that survive a config change: no reconnect storm on every push.
    const old = new Map(previous?.endpoints.map((e) => [e.key, e]));
    this.endpoints = config.endpoints.map((e) => old.get(`${e.address}:${e.port}`) ?? new Endpoint(e));
    for (const e of this.endpoints) {
      e.owner = this;
      this.ejectionsEnd = Math.max(this.ejectionsEnd, e.ejectedUntil);
    }
    // By this config's priorities and localities (a kept endpoint still carries the config it was made with).
    if (config.localityWeights || config.endpoints.some((e) => e.priority)) {
      const priorities = config.endpoints.map((e) => e.priority ?? 0);
      const localities = config.endpoints.map((e) => e.locality ?? '');
      const levels = priorityLevels(this.endpoints, priorities, localities, config.localityWeights);
      this.locality = new PriorityPicker(levels, !!config.localityWeights, config.outlier?.minHealthPercent ?? 0);
    }
    if (previous) {
      for (const e of previous.endpoints)
        if (!this.endpoints.includes(e)) {
          for (const c of e.idle.splice(0)) c.socket.destroy();
          e.h2?.close();
        }
      // A lower connection limit applies at once: idle connections over it are closed.
      const max = config.maxConnections ?? Infinity;
      let excess = this.connections - max;
      for (const e of this.endpoints) while (excess > 0 && e.idle.length) e.idle.pop()!.socket.destroy(), excess--;
    }
  }

  /** Open connections to every endpoint (a handful: counted, not tracked twice). */
  private get connections(): number {
    let n = 0;
    for (const e of this.endpoints) n += e.connections;
    return n;
  }

  /**
   * Endpoints not ejected. Panic mode (all of them, ejections ignored) only below the outlier
   * policy's minHealthPercent, which Istio leaves at 0: with every endpoint ejected, none is picked.
   */
  private healthy(now: number): Endpoint[] {
    // The common case (nothing ejected now): the endpoints themselves, no list made per request.
    if (now >= this.ejectionsEnd) return this.endpoints;
    const ok = this.endpoints.filter((e) => e.ejectedUntil <= now);
    const panicBelow = this.config.outlier?.minHealthPercent ?? 0;
    return ok.length * 100 < panicBelow * this.endpoints.length ? this.endpoints : ok;
  }

  /** When the last ejection of these endpoints ends (0: none was ever ejected). */
  private ejectionsEnd = 0;

  /** Locality load balancing: the endpoints by priority (and locality, with weights); absent: one set. */
  private readonly locality?: PriorityPicker<Endpoint>;

  /**
   * A passthrough cluster's endpoints appear as connections name their original destination: the
   * port on the cluster's host (an inbound's 127.0.0.1), or address and port when it has none.
   */
  private passthrough(port: number | undefined, originalAddress: string | undefined): Endpoint | undefined {
    const address = this.config.originalDestination ? originalAddress : this.config.host || originalAddress;
    if (!port || !address) return undefined;
    let e = this.endpoints.find((x) => x.config.port === port && x.config.address === address);
    if (!e) {
      e = new Endpoint({ address, port });
      e.owner = this;
      this.endpoints.push(e);
    }
    return e;
  }

  /**
   * An endpoint for a request. `avoid` (the endpoints a request already tried): the pick is made
   * again, up to 5 times, while it lands on one of them (Envoy's previous_hosts retry predicate).
   */
  /**
   * How a request goes to the endpoints: `h2`, the client's version (`client`), or HTTP/1.1 (undefined). A
   * passthrough inbound cluster (one for every port of a pod's app) says it per original destination port.
   */
  protocolFor(originalPort: number | undefined): 'h2' | 'client' | undefined {
    const byPort = this.config.upstreamProtocolByPort;
    return (byPort && originalPort !== undefined ? byPort[originalPort] : undefined) ?? this.config.upstreamProtocol;
  }

  pick(hints: PickHints = NO_HINTS, avoid?: readonly Endpoint[]): Endpoint | undefined {
    let e = this.pickOnce(hints);
    if (avoid?.length) for (let i = 1; i < 5 && e && avoid.includes(e); i++) e = this.pickOnce(hints);
    return e;
  }

  private pickOnce(hints: PickHints): Endpoint | undefined {
    if (this.config.lb.kind === 'passthrough') return this.passthrough(hints.originalPort, hints.originalAddress);
    const list = this.locality
      ? this.locality.candidates(this.endpoints, this.ejectionsEnd)
      : this.ejectionsEnd === 0
        ? this.endpoints
        : this.healthy(performance.now());
    if (list.length <= 1) return list[0];
    const lb = this.config.lb;
    switch (lb.kind) {
      case 'round_robin':
        return list[this.rr++ % list.length];
      case 'random':
        return list[(Math.random() * list.length) | 0];
      case 'hash':
        if (hints.hashKey === undefined) return list[(Math.random() * list.length) | 0];
        if (!this.ring?.sameMembers(list)) this.ring = new HashRing(list);
        return this.ring.pick(hints.hashKey);
      default: {
        // Power of two choices on in-flight requests.
        const a = list[(Math.random() * list.length) | 0];
        const b = list[(Math.random() * list.length) | 0];
        return a.active <= b.active ? a : b;
      }
    }
  }

  /** An idle pooled connection to `endpoint`, if there is one (the common case: no callback needed). */
  takeIdle(endpoint: Endpoint): UpstreamConn | undefined {
    return endpoint.idle.pop();
  }

  /** A connection to `endpoint`: an idle one, a new one under the limit, or a place in the bounded queue. */
  acquire(endpoint: Endpoint, done: Waiter): void {
    const idle = this.takeIdle(endpoint);
    if (idle) return done({ conn: idle, endpoint });
    const max = this.config.maxConnections ?? Infinity;
    if (this.connections < max) return done({ conn: this.open(endpoint), endpoint });
    const maxPending = this.config.maxPendingRequests ?? 1024;
    if (this.pending.length >= maxPending) {
      this.overflows++;
      return done({ error: 'overflow' });
    }
    this.pending.push(done);
  }

  /** A new connection to an endpoint (mTLS when it gets one): for the pool, for a TCP proxy, or (`alpn` ['h2']) an HTTP/2 session. */
  connect(endpoint: Endpoint, alpn?: string[]): net.Socket {
    return (
      this.originated(endpoint, alpn) ??
      this.mutualTls(endpoint, alpn) ??
      net.connect({ host: endpoint.config.address, port: endpoint.config.port })
    );
  }

  /** Requests in flight over HTTP/2 to the whole cluster (Istio's `http2MaxRequests` bounds them). */
  requestsInFlight = 0;

  private open(endpoint: Endpoint): UpstreamConn {
    endpoint.connections++;
    let conn: UpstreamConn | undefined;
    // TLS or not, reads go through the shared buffer straight to the connection: no stream machinery per chunk.
    const onread = readInto((chunk) => conn?.data(chunk));
    const socket =
      this.originated(endpoint, undefined, onread) ??
      this.mutualTls(endpoint, undefined, onread) ??
      net.connect({ host: endpoint.config.address, port: endpoint.config.port, onread });
    conn = new UpstreamConn(socket, this.config.connectTimeoutMs, this.config.idleTimeoutMs);
    conn.onClose = () => {
      endpoint.connections--;
      const i = endpoint.idle.indexOf(conn);
      if (i >= 0) endpoint.idle.splice(i, 1);
      (endpoint.owner ?? this).drainPending(endpoint);
    };
    return conn;
  }

  /** TLS origination (DestinationRule `tls.mode` SIMPLE/MUTUAL): one per config, its context kept across connections. */
  private readonly origination?: Origination;

  /** TLS to the endpoint with the DestinationRule's own settings, when the cluster originates TLS. */
  private originated(endpoint: Endpoint, alpn?: string[], onread?: net.OnReadOpts): net.Socket | undefined {
    return this.origination?.connect(endpoint.config.address, endpoint.config.port, alpn, onread);
  }

  /**
   * The last TLS session each endpoint's server gave this cluster, with the client context it was
   * made under: a new connection resumes it (no certificate signed or verified on either side).
   * Per cluster, because Node does not call checkServerIdentity on a resumed session: every
   * session here passed this config's identity check in a full handshake, and a push (a new
   * Cluster) starts again from one. Weak: an endpoint a passthrough cluster forgets takes its own.
   */
  private readonly sessions = new WeakMap<Endpoint, { readonly context: tls.SecureContext; readonly session: Buffer }>();

  /**
   * An mTLS connection when this endpoint gets one (and a certificate is here): the server's chain
   * must verify against the mesh root, and its SPIFFE identity be one the cluster names (if any).
   */
  private mutualTls(endpoint: Endpoint, alpn?: string[], onread?: net.OnReadOpts): net.Socket | undefined {
    const mode = this.config.tls;
    if (mode === 'DISABLE' || (mode !== 'ISTIO_MUTUAL' && endpoint.config.labels?.[TLS_MODE_LABEL] !== 'istio')) return undefined;
    const secureContext = this.workloadTls();
    if (!secureContext) return undefined;
    const kept = this.sessions.get(endpoint);
    const session = !endpoint.refusesResumption && kept?.context === secureContext ? kept.session : undefined;
    const socket = tlsModule().connect({
      host: endpoint.config.address,
      port: endpoint.config.port,
      secureContext,
      ...(alpn ? { ALPNProtocols: alpn } : {}),
      ...(onread ? { onread } : {}),
      ...(session ? { session } : {}),
      ...(this.config.mtlsSni ? { servername: this.config.mtlsSni } : {}),
      rejectUnauthorized: true,
      checkServerIdentity: (_host, cert) => serverIdentityError(cert.subjectaltname, this.config.identities),
    });
    socket.on('session', (s: Buffer) => {
      // Only from a server whose identity this cluster checked (a refused one never gets this far).
      if (socket.authorized) this.sessions.set(endpoint, { context: secureContext, session: s });
    });
    if (session)
      socket.once('error', (err: NodeJS.ErrnoException) => {
        // A server that cannot resume answers an offered session with a TLS alert instead of a full
        // handshake (a mast before resumption: OpenSSL's "session id context uninitialized"): this
        // try fails, retried as a connect failure, and the endpoint is never offered one again.
        if (err.code?.startsWith('ERR_SSL_')) {
          endpoint.refusesResumption = true;
          this.sessions.delete(endpoint);
        }
      });
    return socket;
  }

  /** Back to the pool (or closed when it cannot be reused). */
  release(endpoint: Endpoint, conn: UpstreamConn, reusable: boolean): void {
    const limit = this.config.maxRequestsPerConnection;
    if (!reusable || conn.destroyed || (limit !== undefined && limit > 0 && conn.requests >= limit)) {
      conn.socket.destroy();
      return;
    }
    // An exchange may have paused it (its client was slow, or gone) and finished before a 'drain':
    // handed out paused, it would never read the next response.
    if (conn.socket.isPaused()) conn.socket.resume();
    const waiter = this.pending.shift();
    if (waiter) return waiter({ conn, endpoint });
    conn.park();
    endpoint.idle.push(conn);
  }

  drainPending(endpoint: Endpoint): void {
    const waiter = this.pending.shift();
    if (waiter) waiter({ conn: this.open(endpoint), endpoint });
  }

  /**
   * Outlier detection: consecutive 5xx / gateway errors eject an endpoint for baseEjection × times
   * ejected. A connect failure or reset counts as a 503 and a timeout as a 504 (Envoy, with local
   * and external errors not split: Istio's default), so a dead endpoint is ejected like a failing one.
   */
  recordResult(endpoint: Endpoint, status: number): void {
    const o = this.config.outlier;
    if (!o) return;
    if (status >= 500) {
      endpoint.consecutive5xx++;
      if (status >= 502 && status <= 504) endpoint.consecutiveGatewayErrors++;
    } else {
      endpoint.consecutive5xx = 0;
      endpoint.consecutiveGatewayErrors = 0;
      return;
    }
    const tripped =
      (o.consecutive5xx && endpoint.consecutive5xx >= o.consecutive5xx) ||
      (o.consecutiveGatewayErrors && endpoint.consecutiveGatewayErrors >= o.consecutiveGatewayErrors);
    if (!tripped) return;
    const now = performance.now();
    const ejected = this.endpoints.filter((e) => e.ejectedUntil > now).length;
    if ((ejected + 1) * 100 > o.maxEjectionPercent * this.endpoints.length && ejected > 0) return;
    endpoint.ejections++;
    this.locality?.ejected();
    endpoint.ejectedUntil = now + o.baseEjectionMs * endpoint.ejections;
    this.ejectionsEnd = Math.max(this.ejectionsEnd, endpoint.ejectedUntil);
    endpoint.consecutive5xx = 0;
    endpoint.consecutiveGatewayErrors = 0;
  }

  /** Closes pooled connections idle for longer than the idle timeout; a passthrough cluster forgets destinations with none left. */
  sweep(now: number): void {
    for (const e of this.endpoints)
      for (let i = e.idle.length - 1; i >= 0; i--) if (e.idle[i].idleTooLong(now)) e.idle.splice(i, 1)[0].socket.destroy();
    if (this.config.lb.kind === 'passthrough')
      for (let i = this.endpoints.length - 1; i >= 0; i--)
        if (this.endpoints[i].connections === 0 && this.endpoints[i].active === 0) this.endpoints.splice(i, 1);
  }

  close(): void {
    for (const e of this.endpoints) {
      for (const c of e.idle.splice(0)) c.socket.destroy();
      e.h2?.close();
    }
    for (const w of this.pending.splice(0)) w({ error: 'no-healthy-upstream' });
  }
}

export class ServerIdentityError extends Error {
  readonly code = 'MAST_SERVER_IDENTITY';
}

/** Why a mesh server's certificate (its chain already verified) is not the destination's, or undefined when it is. */
export function serverIdentityError(subjectAltName: string | undefined, expected: readonly string[] | undefined): Error | undefined {
  const principal = peerIdentity(subjectAltName)?.principal;
  if (!principal) return new ServerIdentityError('the server certificate has no SPIFFE identity');
  if (!expected) return undefined;
  const path = principal.slice(principal.indexOf('/') + 1);
  return expected.includes(path)
    ? undefined
    : new ServerIdentityError(`the server is spiffe://${principal}, not one of ${expected.join(', ')}`);
}
