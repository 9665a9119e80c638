/**
 * The proxy's side of the push protocol: connect to mastd, say hello, apply each config and
 * ACK or NACK it; on any disconnect keep serving the last good config and reconnect with
 * exponential backoff (100 ms doubling to 5 s, with jitter).
 */
import type * as http2 from 'node:http2';
import {
  MAX_NACK_REASON,
  PUSH_PATH,
  LineReader,
  encode,
  parseServerMessage,
  type ProxyIdentity,
  type ServerMessage,
} from '../contract/push-protocol';
import { applyDelta } from '../contract/config-delta';
import type { ProxyConfig } from '../contract/proxy-config';
import type { MeshProxy } from './mesh-proxy';
import { renewalDelayMs } from '../contract/renewal';
import { failureReason } from './failure-reason';

const WINDOW = 16 * 1024 * 1024;

export interface PushClientOptions {
  /** host:port of mastd's push server. */
  readonly address: string;
  readonly id: string;
  readonly identity: ProxyIdentity;
  /** Bearer token, or where to read it on each connection (a projected service-account token rotates). */
  readonly token?: string | (() => string | undefined);
  /** Makes a fresh key and its certificate request. @default - in this process (the X.509 library loads then) */
  readonly makeCsr?: () => Promise<KeyAndCsr>;
  readonly log?: (line: string) => void;
  /**
   * Reach mastd over TLS, verifying its certificate against this root (read on each connection:
   * the mounted root may be replaced) and for this name. @default - plain-text HTTP/2
   */
  readonly tls?: { readonly root: () => string; readonly servername?: string };
}

export interface KeyAndCsr {
  /** PKCS#8 PEM; it never leaves the proxy. */
  readonly key: string;
  readonly csr: string;
}

/** In this process: the X.509 library (~13 MB resident) loads with the first request, not at start. */
export async function makeCsrHere(): Promise<KeyAndCsr> {
  const { certificateRequest, generateKeys, privateKeyPem } = await import('../contract/x509');
  const keys = await generateKeys();
  return { key: await privateKeyPem(keys), csr: await certificateRequest(keys) };
}

export class PushClient {
  private session?: http2.ClientHttp2Session;
  private backoff = 100;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private renewTimer?: NodeJS.Timeout;
  connected = false;

  constructor(
    private readonly proxy: MeshProxy,
    private readonly options: PushClientOptions,
  ) {}

  start(): void {
    this.connect();
  }

  private bearer(): string | undefined {
    const t = this.options.token;
    return typeof t === 'function' ? t() : t;
  }

  private pendingKey?: string;

  /** A fresh key and a request for it; the certificate comes back on the same stream. */
  private async requestCertificate(stream: http2.ClientHttp2Stream): Promise<void> {
    let made: KeyAndCsr;
    try {
      made = await (this.options.makeCsr ?? makeCsrHere)();
    } catch (err) {
      this.options.log?.(`could not make a certificate request: ${(err as Error).message}`);
      return;
    }
    this.pendingKey = made.key;
    if (!stream.destroyed) stream.write(encode({ type: 'csr', csr: made.csr }));
  }

  /** Installs it, and asks for the next one halfway through its life (as Istio rotates). */
  private onCertificate(m: Extract<ServerMessage, { type: 'certificate' }>, stream: http2.ClientHttp2Stream): void {
    if (!this.pendingKey) return;
    this.proxy.setCertificate({ key: this.pendingKey, certificate: m.certificate, root: m.root, expiresAt: m.expiresAt });
    this.pendingKey = undefined;
    clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.requestCertificate(stream), renewalDelayMs(m.expiresAt));
  }

  private connect(): void {
    if (this.stopped) return;
    const log = this.options.log ?? (() => undefined);
    // A config is megabytes on a large mesh: a 64 KB flow-control window would make it dozens of round trips.
    // Loaded here, not at start: a proxy serving a file config never needs HTTP/2 (≈ 0.6 MB of resident memory, measured).
    const { connect } = require('node:http2') as typeof http2;
    const tls = this.options.tls;
    let ca: string | undefined;
    try {
      ca = tls?.root();
    } catch (err) {
      return this.retry(`cannot read the control plane's root certificate: ${(err as Error).message}`);
    }
    const secure = tls ? { ca, ...(tls.servername ? { servername: tls.servername } : {}) } : {};
    const session = (this.session = connect(`${tls ? 'https' : 'http'}://${this.options.address}`, {
      settings: { initialWindowSize: WINDOW },
      ...secure,
    }));
    session.once('connect', () => session.setLocalWindowSize(WINDOW));
    // Why the connection failed (refused, a certificate not verified), for the reconnect line.
    let failure: string | undefined;
    const failed = (err: Error) => (failure ??= failureReason(err));
    session.on('error', failed);
    const stream = session.request(
      {
        ':method': 'POST',
        ':path': PUSH_PATH,
        'content-type': 'application/x-ndjson',
        ...(this.bearer() ? { authorization: `Bearer ${this.bearer()}` } : {}),
      },
      { endStream: false },
    );
    stream.on('error', failed);
    let answered = false;
    stream.on('response', (headers) => {
      answered = true;
      if (headers[':status'] !== 200) log(`control plane refused the stream: HTTP ${headers[':status']}`);
      else {
        this.connected = true;
        log(`connected to the control plane at ${this.options.address}`);
        void this.requestCertificate(stream);
      }
    });
    stream.write(encode({ type: 'hello', id: this.options.id, identity: this.options.identity, features: ['delta'] }));
    const reader = new LineReader();
    // Configs are applied one at a time, in order.
    let chain = Promise.resolve();
    stream.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, (line) => {
          const read = parseServerMessage(line);
          // A type this proxy does not know is skipped: a newer mastd may send more kinds of message.
          if (!read.ok && read.error.code === 'MAST_PUSH_UNKNOWN_TYPE') return;
          if (!read.ok) throw read.error;
          const m = read.message;
          if (m.type === 'certificate') return void this.onCertificate(m, stream);
          if (m.type === 'error') return log(`control plane: ${m.error}`);
          if (m.type !== 'config' && m.type !== 'delta') return;
          // The back-off starts again once mastd serves this proxy, not when it answers: a stream
          // refused after its hello (MAST_PUSH_OVER_CAP) must not bring the proxy back every 100 ms.
          this.backoff = 100;
          chain = chain.then(async () => {
            let config: ProxyConfig;
            try {
              // A delta is read against the config running when its turn comes (the previous one applied or rejected).
              config = m.type === 'config' ? m.config : applyDelta(this.proxy.config, m.version, m.delta);
            } catch (err) {
              if (!stream.destroyed)
                stream.write(encode({ type: 'nack', version: m.version, error: (err as Error).message.slice(0, MAX_NACK_REASON) }));
              return;
            }
            const result = await this.proxy.apply(config);
            if (!stream.destroyed)
              stream.write(
                encode(
                  result.ok
                    ? { type: 'ack', version: result.version }
                    : { type: 'nack', version: result.version, error: result.error.slice(0, MAX_NACK_REASON) },
                ),
              );
            if (!result.ok) log(`config ${result.version} rejected, keeping ${this.proxy.config?.version ?? 'none'}: ${result.error}`);
            else for (const line of this.proxy.skipped ?? []) log(`config ${result.version}: listener skipped: ${line}`);
          });
        });
      } catch (err) {
        log(`bad message from the control plane: ${(err as Error).message}`);
        stream.close();
      }
    });
    stream.on('close', () => {
      this.connected = false;
      clearTimeout(this.renewTimer);
      session.close();
      if (!answered) failure ??= tls ? 'no answer' : 'no answer: is mastd serving TLS? then give --control-plane-ca';
      this.retry(`control plane stream closed${failure ? ` (${failure})` : ''}`);
    });
  }

  private retry(why: string): void {
    if (this.stopped) return;
    const delay = Math.round(this.backoff * (0.8 + Math.random() * 0.4));
    this.backoff = Math.min(this.backoff * 2, 5000);
    this.options.log?.(`${why}; keeping config ${this.proxy.config?.version ?? 'none'}, reconnecting in ${delay} ms`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.renewTimer);
    this.session?.destroy();
  }
}
