/**
 * Multiplexed HTTP/2 connections to one endpoint: `http2.connect` over the cluster's own connect
 * (plain, mTLS with ALPN `h2` and its SAN checks, or TLS origination), streams spread over as few
 * sessions as their stream limit allows (the cluster's `maxConcurrentStreams`, else the server's
 * SETTINGS), a session retired after `maxRequestsPerConnection` streams or a GOAWAY (its
 * in-flight streams finish; new ones open a new session), closed when idle too long.
 *
 * Connections are bounded as Envoy's HTTP/2 pool bounds them (Istio's `tcp.maxConnections` is the
 * cluster's max_connections circuit breaker, counted over the cluster's endpoints and both HTTP
 * versions): with every session full and the cluster at its limit, a request waits for a stream
 * as a pending request (`http1MaxPendingRequests` of them per cluster at most, else 503 `UO`); an
 * endpoint with no connection at all still gets one, so its waiting requests are never stranded
 * (Envoy's ConnPoolImplBase::tryCreateNewConnection). Each refused connection is counted.
 */
import type * as http2 from 'node:http2';
import { http2Module } from './lazy-http2';
import type { Cluster, Endpoint } from '../upstream/cluster';

/** Streams a session is assumed to take before the server's SETTINGS say (RFC 9113 recommends at least 100). */
const ASSUMED_STREAMS = 100;

/** Pending requests per cluster when its rule sets none (the HTTP/1.1 pool's bound, upstream/cluster.ts). */
const DEFAULT_MAX_PENDING = 1024;

/** What a request waiting for a stream gets: a session with room, `overflow` (503 UO), or `closed` (the pool went away: retryable). */
export type SessionGrant = PooledSession | 'overflow' | 'closed';

const NOTHING_TO_CANCEL = (): void => undefined;

export class PooledSession {
  /** Streams open on it now, and ever. */
  active = 0;
  total = 0;
  /** Takes no new streams (GOAWAY received, request limit reached, or closed). */
  retired = false;
  /** The connection (and TLS) came up: a stream failing before that is a connect failure. */
  connected = false;

  constructor(readonly session: http2.ClientHttp2Session) {}

  capacity(configured: number | undefined): number {
    return configured ?? this.session.remoteSettings?.maxConcurrentStreams ?? ASSUMED_STREAMS;
  }
}

export class H2Pool {
  private readonly sessions: PooledSession[] = [];
  /** Requests waiting for a stream (the cluster at its connection limit, every session full). */
  private readonly waiting: Array<(grant: SessionGrant) => void> = [];
  /** New connections the cluster's `maxConnections` refused (Envoy's upstream_cx_overflow). */
  connectionOverflows = 0;

  constructor(
    private readonly first: Cluster,
    private readonly endpoint: Endpoint,
  ) {}

  /** The cluster that holds the endpoint now (a config change hands it on): its limits apply. */
  private get cluster(): Cluster {
    return this.endpoint.owner ?? this.first;
  }

  get pending(): number {
    return this.waiting.length;
  }

  /** A session with room for one more stream now, if there is one. */
  private withRoom(): PooledSession | undefined {
    const max = this.cluster.config.maxConcurrentStreams;
    for (const s of this.sessions) if (!s.retired && !s.session.closed && !s.session.destroyed && s.active < s.capacity(max)) return s;
    return undefined;
  }

  /** A session for one more stream now, one with room or a new one if the cluster allows (the usual case: no wait). */
  available(): PooledSession | undefined {
    return this.withRoom() ?? (this.mayOpen() ? this.open() : undefined);
  }

  /**
   * A session for one more stream, given to `granted` at once when one has room or may be opened,
   * else when a stream ends (a pending request); `overflow` at once past the cluster's pending
   * bound. Answers how to give up the wait (the request timed out, or its client went away).
   */
  acquire(granted: (grant: SessionGrant) => void): () => void {
    const now = this.available();
    if (now) {
      granted(now);
      return NOTHING_TO_CANCEL;
    }
    this.connectionOverflows++;
    const cluster = this.cluster;
    if (pendingIn(cluster) >= (cluster.config.maxPendingRequests ?? DEFAULT_MAX_PENDING)) {
      cluster.overflows++;
      granted('overflow');
      return NOTHING_TO_CANCEL;
    }
    this.waiting.push(granted);
    return () => {
      const i = this.waiting.indexOf(granted);
      if (i >= 0) this.waiting.splice(i, 1);
    };
  }

  /** Under the cluster's connection limit, or this endpoint has no connection at all (Envoy opens one anyway). */
  private mayOpen(): boolean {
    const max = this.cluster.config.maxConnections;
    return max === undefined || this.sessions.length === 0 || connectionsOf(this.cluster) < max;
  }

  /** Streams freed (one ended, a session closed, the server's SETTINGS came): waiting requests get them, in order. */
  private placeWaiting(): void {
    while (this.waiting.length) {
      const s = this.withRoom() ?? (this.mayOpen() ? this.open() : undefined);
      if (!s) return;
      this.waiting.shift()!(s);
    }
  }

  /** A stream on `s` began: past `maxRequestsPerConnection` streams it takes no more. */
  began(s: PooledSession): void {
    s.active++;
    s.total++;
    const limit = this.cluster.config.maxRequestsPerConnection;
    if (limit && s.total >= limit) s.retired = true;
  }

  /** A stream on `s` ended: a retired session with none left is closed; a waiting request may take the stream. */
  ended(s: PooledSession): void {
    s.active--;
    if (s.retired && s.active === 0) {
      s.session.close();
      // Done with: no longer one of the cluster's connections, whenever the peer answers the FIN.
      this.forget(s);
    }
    this.placeWaiting();
  }

  /** `s` is out of the pool (closed, or closing with nothing left on it); once per session. */
  private forget(s: PooledSession): void {
    const i = this.sessions.indexOf(s);
    if (i < 0) return;
    this.sessions.splice(i, 1);
    s.retired = true;
    this.endpoint.connections--;
  }

  private open(): PooledSession {
    const { cluster, endpoint } = this;
    const c = endpoint.config;
    const tls = cluster.config.originate !== undefined;
    const session = http2Module().connect(`${tls ? 'https' : 'http'}://${c.address}:${c.port}`, {
      createConnection: () => cluster.connect(endpoint, ['h2']),
      settings: { enablePush: false },
    });
    const pooled = new PooledSession(session);
    this.sessions.push(pooled);
    endpoint.connections++;
    session.once('connect', () => (pooled.connected = true));
    // The server's SETTINGS may allow more streams than assumed.
    session.on('remoteSettings', () => this.placeWaiting());
    // In-flight streams finish; new ones go to a new session.
    session.on('goaway', () => (pooled.retired = true));
    // Its streams hear of the failure themselves (their 'close'): nothing to do for the session but forget it.
    session.on('error', () => undefined);
    // Idle: closed, and out of the pool at once (Node may keep a closing session a while for a stream it has not let go of yet).
    session.setTimeout(cluster.config.idleTimeoutMs ?? 60_000, () => {
      if (pooled.active > 0) return;
      session.close();
      this.forget(pooled);
    });
    const connectTimer = setTimeout(() => {
      if (!pooled.connected) session.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
    }, cluster.config.connectTimeoutMs);
    session.once('close', () => {
      clearTimeout(connectTimer);
      this.forget(pooled);
      // A connection fewer: a waiting request may open one (after this stack, not inside the session's close).
      if (this.waiting.length) setImmediate(() => this.placeWaiting());
    });
    return pooled;
  }

  close(): void {
    for (const s of [...this.sessions]) {
      s.session.close();
      this.forget(s);
    }
    for (const w of this.waiting.splice(0)) w('closed');
  }
}

/** Open connections to the cluster's endpoints, HTTP/1.1 and HTTP/2 (both count them on the endpoint). */
function connectionsOf(cluster: Cluster): number {
  let n = 0;
  for (const e of cluster.endpoints) n += e.connections;
  return n;
}

/** Requests waiting for an HTTP/2 stream anywhere in the cluster (the pending bound is the cluster's, as Envoy's). */
function pendingIn(cluster: Cluster): number {
  let n = 0;
  for (const e of cluster.endpoints) if (e.h2 instanceof H2Pool) n += e.h2.pending;
  return n;
}

/** One pool per endpoint, kept on it: an endpoint kept across a config change keeps its sessions, one dropped closes them. */
export function h2Pool(cluster: Cluster, endpoint: Endpoint): H2Pool {
  let pool = endpoint.h2 as H2Pool | undefined;
  if (!pool) endpoint.h2 = pool = new H2Pool(cluster, endpoint);
  return pool;
}
