/**
 * Multiplexed HTTP/2 connections to one endpoint: `http2.connect` over the cluster's own connect
 * (plain, mTLS with ALPN `h2` and its SAN checks, or TLS origination), streams spread over as few
 * sessions as their stream limit allows (the cluster's `maxConcurrentStreams`, else the server's
 * SETTINGS), a session retired after `maxRequestsPerConnection` streams or a GOAWAY (its
 * in-flight streams finish; new ones open a new session), closed when idle too long.
 */
import type * as http2 from 'node:http2';
import { http2Module } from './lazy-http2';
import type { Cluster, Endpoint } from '../upstream/cluster';

/** Streams a session is assumed to take before the server's SETTINGS say (RFC 9113 recommends at least 100). */
const ASSUMED_STREAMS = 100;

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

  constructor(
    private readonly first: Cluster,
    private readonly endpoint: Endpoint,
  ) {}

  /** The cluster that holds the endpoint now (a config change hands it on): its limits apply. */
  private get cluster(): Cluster {
    return this.endpoint.owner ?? this.first;
  }

  /** A session with room for one more stream: an open one, or a new one. */
  session(): PooledSession {
    const max = this.cluster.config.maxConcurrentStreams;
    for (const s of this.sessions) if (!s.retired && !s.session.destroyed && s.active < s.capacity(max)) return s;
    return this.open();
  }

  /** A stream on `s` began: past `maxRequestsPerConnection` streams it takes no more. */
  began(s: PooledSession): void {
    s.active++;
    s.total++;
    const limit = this.cluster.config.maxRequestsPerConnection;
    if (limit && s.total >= limit) s.retired = true;
  }

  /** A stream on `s` ended: a retired session with none left is closed. */
  ended(s: PooledSession): void {
    s.active--;
    if (s.retired && s.active === 0) s.session.close();
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
    // In-flight streams finish; new ones go to a new session.
    session.on('goaway', () => (pooled.retired = true));
    // Its streams hear of the failure themselves (their 'close'): nothing to do for the session but forget it.
    session.on('error', () => undefined);
    session.setTimeout(cluster.config.idleTimeoutMs ?? 60_000, () => {
      if (pooled.active === 0) session.close();
    });
    const connectTimer = setTimeout(() => {
      if (!pooled.connected) session.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
    }, cluster.config.connectTimeoutMs);
    session.once('close', () => {
      clearTimeout(connectTimer);
      pooled.retired = true;
      endpoint.connections--;
      const i = this.sessions.indexOf(pooled);
      if (i >= 0) this.sessions.splice(i, 1);
    });
    return pooled;
  }

  close(): void {
    for (const s of this.sessions.splice(0)) s.session.close();
  }
}

/** One pool per endpoint, kept on it: an endpoint kept across a config change keeps its sessions, one dropped closes them. */
export function h2Pool(cluster: Cluster, endpoint: Endpoint): H2Pool {
  let pool = endpoint.h2 as H2Pool | undefined;
  if (!pool) endpoint.h2 = pool = new H2Pool(cluster, endpoint);
  return pool;
}
