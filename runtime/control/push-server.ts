/**
 * The push server: proxies hold one HTTP/2 stream each; each is sent the config `configFor`
 * gives for its identity (mastd compiles one per equivalent identity), and ACKs or NACKs each
 * version. A slow proxy only ever has the newest config queued, so it never blocks the others.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import {
  MAX_PROXY_MESSAGE_BYTES,
  PUSH_PATH,
  LineReader,
  ProtocolError,
  encode,
  parseHello,
  parseProxyMessage,
  type HelloMessage,
  type ProxyIdentity,
  type ProxyMessage,
} from '../contract/push-protocol';
import type { ProxyConfig } from '../contract/proxy-config';
import { diffConfig } from '../contract/config-delta';
import { pushHistograms } from './pilot-metrics';

/** A push server made without any way to authenticate proxies. */
export class PushAuthError extends Error {
  readonly code = 'MAST_PUSH_UNAUTHENTICATED';
}

export interface ProxyStatus {
  readonly id: string;
  readonly identity: ProxyIdentity;
  readonly connectedAt: string;
  sent?: string;
  acked?: string;
  nacked?: { version: string; error: string };
  /** When the workload certificate last issued to it expires. */
  certificateExpires?: string;
}

/** As `istioctl proxy-status` says it: the proxy ACKed what mastd serves now, is behind, or rejected it. */
export function syncState(p: Pick<ProxyStatus, 'sent' | 'acked' | 'nacked'>, current: string | null): 'SYNCED' | 'STALE' | 'NACK' {
  if (p.nacked && p.nacked.version === p.sent) return 'NACK';
  return p.acked !== undefined && p.acked === p.sent && p.acked === current ? 'SYNCED' : 'STALE';
}

export interface PushServerOptions {
  /** Bearer token proxies must present (a local secret in `mast local`). */
  readonly token?: string;
  /** The current config for a proxy (undefined: none yet); the same object while the snapshot is the same. */
  readonly configFor: (identity: ProxyIdentity) => ProxyConfig | undefined;
  readonly log?: (line: string) => void;
  /**
   * Checks that the proxy owns the identity of its hello (in a cluster: its service-account token,
   * by TokenReview); answers why not, or undefined. Absent: only `token` is checked.
   */
  readonly verify?: (bearer: string | undefined, identity: ProxyIdentity) => Promise<string | undefined>;
  /**
   * Serve TLS (HTTP/2 with ALPN h2): no handshake completes until `setCredentials` gives the
   * certificate. @default false (plain-text HTTP/2)
   */
  readonly tls?: boolean;
  /**
   * Push streams one identity (namespace and service account, what `verify` checks and certificates
   * name) may hold at once; the next is refused with an `error` message naming MAST_PUSH_OVER_CAP
   * and closed, and that proxy keeps its last good config and retries with its back-off. Bounds what
   * one stolen or misused credential can make mastd hold. @default 512
   */
  readonly maxStreamsPerIdentity?: number;
  /** Signs a proxy's certificate request for its identity; absent: no certificates are issued. */
  readonly sign?: (identity: ProxyIdentity, csr: string) => Promise<{ certificate: string; root: string; expiresAt: string }>;
}

interface Peer {
  readonly status: ProxyStatus;
  readonly stream: http2.ServerHttp2Stream;
  /** Newest config not yet written because the stream was backed up. */
  queued?: ProxyConfig;
  /** The proxy applies deltas (said so in its hello). */
  readonly delta: boolean;
  /** The last config sent and not NACKed: the next one goes as a delta against it. */
  basis?: ProxyConfig;
  /** Version last sent as a delta (a NACK of it means: send the whole config). */
  deltaVersion?: string;
}

export const DEFAULT_MAX_STREAMS_PER_IDENTITY = 512;
/** The stable code in the `error` message a stream over the per-identity cap gets. */
export const OVER_CAP = 'MAST_PUSH_OVER_CAP';

/** Who a stream counts against: the identity mastd verifies and signs for. */
const capKey = (identity: ProxyIdentity): string => `${identity.namespace}/${identity.serviceAccount ?? 'default'}`;

export class PushServer {
  private readonly server: http2.Http2Server | http2.Http2SecureServer;
  private readonly peers = new Set<Peer>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** Serialised once per config, however many proxies share it. */
  private readonly encoded = new WeakMap<ProxyConfig, string>();
  /** Serialised deltas, once per (base, next) pair. */
  private readonly deltas = new WeakMap<ProxyConfig, { next: ProxyConfig; line: string | undefined }>();
  readonly counters = { pushes: 0, pushErrors: 0, acks: 0, nacks: 0, rejectedPeers: 0, certificates: 0, overCap: 0 };
  /** Open streams per identity (capKey), counted from admission (after verification) until the stream closes. */
  private readonly perIdentity = new Map<string, number>();
  /** When the current snapshot was published, and how long until every proxy ACKed it. */
  private publishedAt = 0;
  /**
   * Seconds (and ms) from a publish until every proxy ACKed it; seconds from picking a proxy's config
   * (compiled on first use) to its push written; bytes of each push written. mastd's registry reads them.
   */
  readonly histograms = pushHistograms();

  constructor(private readonly options: PushServerOptions) {
    // Every stream can ask for a workload certificate: a push port that checks nobody would sign
    // any identity for anyone who can reach it.
    if (!options.token && !options.verify)
      throw new PushAuthError('the push server needs a token or an identity check (verify): it signs workload certificates');
    this.server = options.tls ? http2.createSecureServer({ allowHTTP1: false }) : http2.createServer();
    this.server.on('stream', (stream, headers) => this.accept(stream, headers));
    this.server.on('sessionError', () => undefined);
    this.server.on('session', (session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
    });
  }

  /** The push port's certificate (TLS only); connections already open keep theirs. */
  setCredentials(cert: string, key: string): void {
    if (!('setSecureContext' in this.server)) throw new Error('the push server is not serving TLS');
    this.server.setSecureContext({ cert, key });
  }

  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  private accept(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const log = this.options.log ?? (() => undefined);
    const reject = (status: number, why: string) => {
      this.counters.rejectedPeers++;
      log(`push: rejected a proxy: ${why}`);
      if (!stream.headersSent) stream.respond({ ':status': status, 'content-type': 'text/plain' });
      stream.end(`${why}\n`);
    };
    if (headers[':path'] !== PUSH_PATH || headers[':method'] !== 'POST')
      return reject(404, `no such stream ${headers[':method']} ${headers[':path']}`);
    if (this.options.token && headers.authorization !== `Bearer ${this.options.token}`) return reject(401, 'missing or wrong token');
    stream.respond({ ':status': 200, 'content-type': 'application/x-ndjson' });
    const reader = new LineReader(MAX_PROXY_MESSAGE_BYTES);
    let peer: Peer | undefined;
    /** Messages that came while the hello's identity was being verified. */
    let waiting: ProxyMessage[] | undefined;
    /** The identity this stream counts against, once admitted. */
    let counted: string | undefined;
    /** Over the identity's cap: told so, and read no further. */
    let overCap = false;
    const garbage = (err: Error) => {
      const code = err instanceof ProtocolError ? ` (${err.code})` : '';
      log(`push: ${peer?.status.id ?? 'a proxy'} sent garbage: ${err.message}${code}; closing its stream`);
      this.counters.pushErrors++;
      stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
    };
    const admit = (hello: HelloMessage) => {
      // Counted once the identity is verified: a hello claiming someone else's cannot use up theirs.
      const key = capKey(hello.identity);
      const cap = this.options.maxStreamsPerIdentity ?? DEFAULT_MAX_STREAMS_PER_IDENTITY;
      const open = this.perIdentity.get(key) ?? 0;
      if (open >= cap) {
        this.counters.rejectedPeers++;
        this.counters.overCap++;
        log(`push: refused ${hello.id}: ${key} already holds ${open} push streams (at most ${cap})`);
        overCap = true; // nothing more is read from it
        return void stream.end(
          encode({ type: 'error', error: `${OVER_CAP}: ${key} already holds ${open} push streams, at most ${cap}; retry later` }),
          () => stream.close(),
        );
      }
      this.perIdentity.set(key, open + 1);
      counted = key;
      peer = {
        stream,
        delta: hello.features?.includes('delta') ?? false,
        status: { id: hello.id, identity: hello.identity, connectedAt: new Date().toISOString() },
      };
      this.peers.add(peer);
      log(`push: ${hello.id} connected (${hello.identity.mode} ${hello.identity.namespace})`);
      this.send(peer);
      const queued = waiting ?? [];
      waiting = undefined;
      try {
        for (const m of queued) this.onReply(peer, m);
      } catch (err) {
        garbage(err as Error);
      }
    };
    stream.on('data', (chunk: Buffer) => {
      if (overCap) return;
      try {
        reader.push(chunk, (line) => {
          if (overCap) return;
          if (peer || waiting) {
            const read = parseProxyMessage(line);
            if (!read.ok) throw read.error;
            if (peer) return this.onReply(peer, read.message);
            return void waiting?.push(read.message);
          }
          const read = parseHello(line);
          if (!read.ok) throw read.error;
          const hello = read.message;
          if (!this.options.verify) return admit(hello);
          waiting = [];
          const bearer = /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1];
          this.options.verify(bearer, hello.identity).then(
            (refused) => {
              if (stream.destroyed) return;
              if (!refused) return admit(hello);
              this.counters.rejectedPeers++;
              log(`push: refused ${hello.id}: ${refused}`);
              stream.end(`${JSON.stringify({ type: 'error', error: `identity refused: ${refused}` })}\n`);
            },
            (err: Error) => {
              log(`push: could not verify ${hello.id}: ${err.message}`);
              stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
            },
          );
        });
      } catch (err) {
        garbage(err as Error);
      }
    });
    const gone = () => {
      if (peer && this.peers.delete(peer)) log(`push: ${peer.status.id} disconnected`);
      if (counted === undefined) return;
      const left = (this.perIdentity.get(counted) ?? 1) - 1;
      if (left > 0) this.perIdentity.set(counted, left);
      else this.perIdentity.delete(counted);
      counted = undefined;
    };
    stream.on('close', gone);
    stream.on('error', gone);
    stream.on('drain', () => peer?.queued && this.send(peer));
  }

  private onReply(peer: Peer, msg: ProxyMessage): void {
    switch (msg.type) {
      case 'csr':
        return this.issue(peer, msg.csr);
      case 'ack':
        this.counters.acks++;
        peer.status.acked = msg.version;
        peer.status.nacked = undefined;
        return this.checkConverged();
      case 'nack':
        if (peer.basis?.version === msg.version) peer.basis = undefined;
        if (peer.deltaVersion === msg.version && peer.status.sent === msg.version) {
          // The proxy could not apply the delta (it runs another version): send the whole config.
          this.options.log?.(`push: ${peer.status.id} could not apply delta ${msg.version} (${msg.error}); sending the whole config`);
          peer.deltaVersion = undefined;
          peer.status.sent = undefined;
          return this.send(peer);
        }
        this.counters.nacks++;
        peer.status.nacked = { version: msg.version, error: msg.error };
        this.options.log?.(`push: ${peer.status.id} NACKed ${msg.version}: ${msg.error}`);
        return;
      case 'hello':
        // The identity a stream is served for is fixed by its first hello; another cannot change it.
        throw new ProtocolError('MAST_PUSH_BAD_HELLO', 'a second hello on one stream');
    }
  }

  /** A certificate for the identity the proxy said hello with (in a cluster, to be checked against its token: not done yet). */
  private issue(peer: Peer, csr: string): void {
    const sign = this.options.sign;
    const reply = (msg: object) => !peer.stream.destroyed && peer.stream.write(`${JSON.stringify(msg)}\n`);
    if (!sign) return void reply({ type: 'error', error: 'this mastd issues no certificates' });
    sign(peer.status.identity, csr).then(
      (cert) => {
        this.counters.certificates++;
        peer.status.certificateExpires = cert.expiresAt;
        reply({ type: 'certificate', ...cert });
      },
      (err: Error) => {
        this.counters.pushErrors++;
        this.options.log?.(`push: no certificate for ${peer.status.id}: ${err.message}`);
        reply({ type: 'error', error: `certificate refused: ${err.message}` });
      },
    );
  }

  private send(peer: Peer): void {
    const started = performance.now();
    const config = peer.queued ?? this.options.configFor(peer.status.identity);
    peer.queued = undefined;
    if (!config || peer.status.sent === config.version) return;
    if (peer.stream.writableNeedDrain) {
      peer.queued = config;
      return;
    }
    const delta = peer.delta && peer.basis ? this.deltaLine(peer.basis, config) : undefined;
    let line = delta ?? this.encoded.get(config);
    if (!line) this.encoded.set(config, (line = encode({ type: 'config', version: config.version, config })));
    peer.stream.write(line);
    this.histograms.pushTime.observe((performance.now() - started) / 1000);
    this.histograms.configSize.observe(Buffer.byteLength(line));
    peer.status.sent = config.version;
    peer.deltaVersion = delta ? config.version : undefined;
    peer.basis = config;
    this.counters.pushes++;
  }

  private deltaLine(base: ProxyConfig, next: ProxyConfig): string | undefined {
    const hit = this.deltas.get(base);
    if (hit?.next === next) return hit.line;
    const delta = diffConfig(base, next);
    const line = delta && encode({ type: 'delta', version: next.version, delta });
    this.deltas.set(base, { next, line });
    return line;
  }

  /** A new snapshot: push its configs to everyone. */
  publish(): void {
    this.publishedAt = Date.now();
    for (const peer of this.peers) this.send(peer);
    // With no proxy connected (or none sent anything) there is nothing to wait for.
    if (![...this.peers].some((p) => p.status.sent && p.status.acked !== p.status.sent)) this.publishedAt = 0;
  }

  /** True from a publish until every proxy ACKed it. */
  get converging(): boolean {
    return this.publishedAt !== 0;
  }

  private checkConverged(): void {
    if (!this.publishedAt) return;
    const all = [...this.peers].every((p) => !p.status.sent || p.status.acked === p.status.sent);
    if (all) {
      const ms = Date.now() - this.publishedAt;
      this.histograms.convergenceMs.observe(ms);
      this.histograms.convergence.observe(ms / 1000);
      this.publishedAt = 0;
    }
  }

  statuses(): ProxyStatus[] {
    return [...this.peers].map((p) => ({ ...p.status }));
  }

  /** Stops accepting and drops every proxy's session (they reconnect to the next mastd). */
  async close(): Promise<void> {
    // The listening socket closes at once; sessions are destroyed rather than waited for.
    this.server.close();
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
    this.peers.clear();
    await new Promise((r) => setImmediate(r));
  }
}
