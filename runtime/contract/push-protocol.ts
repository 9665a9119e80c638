/**
 * The push protocol between mast-proxy and mastd (see docs/push-protocol.md): one HTTP/2
 * stream per proxy, newline-delimited JSON both ways. The proxy says hello with its
 * identity, mastd sends every config version, the proxy answers ACK or NACK for each.
 */
import type { ConfigDelta } from './config-delta';
import type { ForwardClientCertDetails, ProxyConfig } from './proxy-config';

export const PUSH_PATH = '/mast.v1.Push/Stream';
/** The longest line mastd sends (a whole config of a large mesh). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/**
 * The longest line a proxy sends: a hello, an ACK, a NACK's reason, a certificate request are a
 * few kilobytes. mastd reads every proxy's stream, so it holds at most this much of each.
 */
export const MAX_PROXY_MESSAGE_BYTES = 256 * 1024;
/** A NACK's reason is cut to this many characters, well inside MAX_PROXY_MESSAGE_BYTES. */
export const MAX_NACK_REASON = 4096;

/** Who a proxy is: what its config is compiled for. */
export interface ProxyIdentity {
  readonly mode: 'gateway' | 'sidecar';
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly serviceAccount?: string;
  /** Gateway: Service port → the port the proxy listens on (e.g. 80 → 8080). */
  readonly portMap?: Record<number, number>;
  /** Sidecar: the port outbound traffic reaches the proxy on. */
  readonly outboundPort?: number;
  /**
   * Sidecar: inbound listener port, and the app's port on localhost (`mast local`). Without
   * `appPort` (in a pod) each connection goes to 127.0.0.1 on the port it was sent to.
   */
  readonly inbound?: { readonly port: number; readonly appPort?: number };
  /** Gateway: expect PROXY protocol v2. */
  readonly proxyProtocol?: boolean;
  /** Gateway: Istio's ProxyConfig `gatewayTopology` (what mast applies of it). */
  readonly gatewayTopology?: { readonly forwardClientCertDetails?: ForwardClientCertDetails };
}

export type ProxyMessage =
  /** `features: ['delta']`: the proxy applies `delta` messages. */
  | { readonly type: 'hello'; readonly id: string; readonly identity: ProxyIdentity; readonly features?: string[] }
  | { readonly type: 'ack'; readonly version: string }
  | { readonly type: 'nack'; readonly version: string; readonly error: string }
  /** A PKCS#10 request (PEM) for this proxy's workload certificate. */
  | { readonly type: 'csr'; readonly csr: string };

export type ServerMessage =
  | { readonly type: 'config'; readonly version: string; readonly config: ProxyConfig }
  /** The version as changes to the config the proxy runs (`delta.base`); a proxy that runs another NACKs it and gets the whole config. */
  | { readonly type: 'delta'; readonly version: string; readonly delta: ConfigDelta }
  /** The signed certificate (PEM) for the proxy's identity, the root to trust, and when it expires (ISO). */
  | { readonly type: 'certificate'; readonly certificate: string; readonly root: string; readonly expiresAt: string }
  | { readonly type: 'error'; readonly error: string };

export class ProtocolError extends Error {
  readonly code = 'MAST_PUSH_PROTOCOL';
}

/**
 * Splits a byte stream into JSON lines; a line over the limit is a protocol error, not a memory
 * leak. Bytes are kept as received and searched only once for the newline (a config line is
 * megabytes that arrive in 16 KB chunks), and decoded whole (a chunk may split a UTF-8 character).
 */
export class LineReader {
  private parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly max = MAX_MESSAGE_BYTES) {}

  push(chunk: Buffer | string, onMessage: (msg: unknown) => void): void {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let nl: number;
    while ((nl = buf.indexOf(10)) >= 0) {
      const line = (this.size ? Buffer.concat([...this.parts, buf.subarray(0, nl)]) : buf.subarray(0, nl)).toString('utf8');
      this.parts = [];
      this.size = 0;
      buf = buf.subarray(nl + 1);
      if (line.trim() === '') continue;
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        throw new ProtocolError(`not JSON: ${JSON.stringify(line.slice(0, 80))}`);
      }
      onMessage(msg);
    }
    if (buf.length) {
      this.parts.push(buf);
      this.size += buf.length;
    }
    if (this.size > this.max) throw new ProtocolError(`message longer than ${this.max} bytes`);
  }
}

export const encode = (msg: ProxyMessage | ServerMessage): string => `${JSON.stringify(msg)}\n`;

/** Checks a hello from an untrusted peer; returns the reason it is not acceptable. */
export function checkHello(msg: unknown): string | undefined {
  const m = msg as { type?: unknown; id?: unknown; identity?: Partial<ProxyIdentity>; features?: unknown };
  if (m?.type !== 'hello') return 'the first message must be a hello';
  if (typeof m.id !== 'string' || !/^[\w.:@/-]{1,253}$/.test(m.id)) return 'hello.id must be a name';
  const id = m.identity;
  if (!id || (id.mode !== 'gateway' && id.mode !== 'sidecar')) return 'hello.identity.mode must be gateway or sidecar';
  if (typeof id.namespace !== 'string' || !id.namespace) return 'hello.identity.namespace is required';
  if (typeof id.labels !== 'object' || id.labels === null || Object.values(id.labels).some((v) => typeof v !== 'string'))
    return 'hello.identity.labels must map strings to strings';
  if (m.features !== undefined && !(Array.isArray(m.features) && m.features.every((f) => typeof f === 'string')))
    return 'hello.features must be a list of strings';
  return undefined;
}
