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
  readonly inbound?: {
    readonly port: number;
    readonly appPort?: number;
    /**
     * `mast local`: each port of its Sidecar's `ingress` listeners (the pod's port, e.g. 9080) → the
     * port this proxy listens on for it, in front of the listener's `defaultEndpoint`.
     */
    readonly ingressPorts?: Readonly<Record<number, number>>;
  };
  /** Gateway: expect PROXY protocol v2. */
  readonly proxyProtocol?: boolean;
  /** Where the proxy runs, `region/zone/subzone` (its node's, or its WorkloadEntry's in `mast local`): locality load balancing prefers endpoints near it. */
  readonly locality?: string;
  /** The Kubernetes node the proxy's pod runs on: without `locality`, mastd takes the node's topology labels (as istiod). */
  readonly node?: string;
  /** Gateway: Istio's ProxyConfig `gatewayTopology` (what mast applies of it). */
  readonly gatewayTopology?: { readonly forwardClientCertDetails?: ForwardClientCertDetails };
}

/** `features: ['delta']`: the proxy applies `delta` messages. */
export interface HelloMessage {
  readonly type: 'hello';
  readonly id: string;
  readonly identity: ProxyIdentity;
  readonly features?: string[];
}

export type ProxyMessage =
  | HelloMessage
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

/**
 * Why a line is not a message, as a stable code (never renumbered, as api/findings.ts): logs and
 * tests read the code, the message says which line or field.
 */
export type PushErrorCode =
  /** A line longer than the reader's limit (MAX_MESSAGE_BYTES from mastd, MAX_PROXY_MESSAGE_BYTES from a proxy). */
  | 'MAST_PUSH_TOO_LONG'
  | 'MAST_PUSH_NOT_JSON'
  /** JSON, but not an object with a `type` this side knows. */
  | 'MAST_PUSH_UNKNOWN_TYPE'
  /** A known type with a field missing or of the wrong kind. */
  | 'MAST_PUSH_BAD_FIELD'
  /** A proxy's first message that is not a valid hello. */
  | 'MAST_PUSH_BAD_HELLO';

export class ProtocolError extends Error {
  constructor(
    readonly code: PushErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A line read: the typed message, or why it is not one. */
export type Parsed<T> = { readonly ok: true; readonly message: T } | { readonly ok: false; readonly error: ProtocolError };

/**
 * Splits a byte stream into lines; a line over the limit is a protocol error, not a memory
 * leak. Bytes are kept as received and searched only once for the newline (a config line is
 * megabytes that arrive in 16 KB chunks), and decoded whole (a chunk may split a UTF-8 character).
 * Blank lines are skipped; what a line means is for parseProxyMessage / parseServerMessage.
 */
export class LineReader {
  private parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly max = MAX_MESSAGE_BYTES) {}

  push(chunk: Buffer | string, onLine: (line: string) => void): void {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let nl: number;
    while ((nl = buf.indexOf(10)) >= 0) {
      const line = (this.size ? Buffer.concat([...this.parts, buf.subarray(0, nl)]) : buf.subarray(0, nl)).toString('utf8');
      this.parts = [];
      this.size = 0;
      buf = buf.subarray(nl + 1);
      if (line.trim() !== '') onLine(line);
    }
    if (buf.length) {
      this.parts.push(buf);
      this.size += buf.length;
    }
    if (this.size > this.max) throw new ProtocolError('MAST_PUSH_TOO_LONG', `message longer than ${this.max} bytes`);
  }
}

export const encode = (msg: ProxyMessage | ServerMessage): string => `${JSON.stringify(msg)}\n`;

type Fields = Record<string, unknown>;
const bad = (code: PushErrorCode, message: string): Parsed<never> => ({ ok: false, error: new ProtocolError(code, message) });
const ok = <T>(message: T): Parsed<T> => ({ ok: true, message });
const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string => typeof v === 'string';

/** JSON.parse of a line into an object with a string `type`, or the error that it is not one. */
function object(line: string): Parsed<Fields & { type: string }> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return bad('MAST_PUSH_NOT_JSON', `not JSON: ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (!isObject(value) || !isText(value.type)) return bad('MAST_PUSH_UNKNOWN_TYPE', `not a message: ${line.slice(0, 80)}`);
  return ok(value as Fields & { type: string });
}

/** Checks a hello from an untrusted peer; returns the reason it is not acceptable. */
function helloProblem(m: Fields): string | undefined {
  if (typeof m.id !== 'string' || !/^[\w.:@/-]{1,253}$/.test(m.id)) return 'hello.id must be a name';
  const id = m.identity as Partial<ProxyIdentity> | undefined;
  if (!isObject(id) || (id.mode !== 'gateway' && id.mode !== 'sidecar')) return 'hello.identity.mode must be gateway or sidecar';
  if (typeof id.namespace !== 'string' || !id.namespace) return 'hello.identity.namespace is required';
  if (!isObject(id.labels) || Object.values(id.labels).some((v) => typeof v !== 'string'))
    return 'hello.identity.labels must map strings to strings';
  if (id.locality !== undefined && typeof id.locality !== 'string') return 'hello.identity.locality must be a string';
  if (id.node !== undefined && (typeof id.node !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(id.node)))
    return 'hello.identity.node must be a node name';
  if (m.features !== undefined && !(Array.isArray(m.features) && m.features.every(isText)))
    return 'hello.features must be a list of strings';
  return undefined;
}

/** A line from a proxy (read by mastd, so from an untrusted peer): every field a handler reads is checked here. */
export function parseProxyMessage(line: string): Parsed<ProxyMessage> {
  const read = object(line);
  if (!read.ok) return read;
  const m = read.message;
  switch (m.type) {
    case 'hello': {
      const problem = helloProblem(m);
      if (problem) return bad('MAST_PUSH_BAD_HELLO', problem);
      const features = m.features as string[] | undefined;
      return ok({ type: 'hello', id: m.id as string, identity: m.identity as ProxyIdentity, ...(features ? { features } : {}) });
    }
    case 'ack':
      return isText(m.version) ? ok({ type: 'ack', version: m.version }) : bad('MAST_PUSH_BAD_FIELD', 'ack.version must be a string');
    case 'nack':
      if (!isText(m.version)) return bad('MAST_PUSH_BAD_FIELD', 'nack.version must be a string');
      // A NACK without its reason still counts as a NACK (mastd has always taken it so).
      if (m.error !== undefined && !isText(m.error)) return bad('MAST_PUSH_BAD_FIELD', 'nack.error must be a string');
      return ok({ type: 'nack', version: m.version, error: m.error ?? '' });
    case 'csr':
      return isText(m.csr) ? ok({ type: 'csr', csr: m.csr }) : bad('MAST_PUSH_BAD_FIELD', 'csr.csr must be a string');
    default:
      return bad('MAST_PUSH_UNKNOWN_TYPE', `unknown message type ${JSON.stringify(m.type.slice(0, 40))}`);
  }
}

/** The first line of a proxy's stream: a valid hello, or MAST_PUSH_BAD_HELLO. */
export function parseHello(line: string): Parsed<HelloMessage> {
  const read = parseProxyMessage(line);
  if (read.ok && read.message.type !== 'hello') return bad('MAST_PUSH_BAD_HELLO', 'the first message must be a hello');
  return read as Parsed<HelloMessage>;
}

/**
 * A line from mastd. The config inside is checked by the proxy when it applies it (config-check.ts);
 * here only the message's own fields. An unknown type is MAST_PUSH_UNKNOWN_TYPE, which the proxy
 * skips, so a newer mastd may add messages.
 */
export function parseServerMessage(line: string): Parsed<ServerMessage> {
  const read = object(line);
  if (!read.ok) return read;
  const m = read.message;
  switch (m.type) {
    case 'config':
      if (!isText(m.version) || !isObject(m.config)) return bad('MAST_PUSH_BAD_FIELD', 'config needs a version and a config object');
      return ok({ type: 'config', version: m.version, config: m.config as unknown as ProxyConfig });
    case 'delta':
      if (!isText(m.version) || !isObject(m.delta)) return bad('MAST_PUSH_BAD_FIELD', 'delta needs a version and a delta object');
      return ok({ type: 'delta', version: m.version, delta: m.delta as unknown as ConfigDelta });
    case 'certificate':
      if (!isText(m.certificate) || !isText(m.root) || !isText(m.expiresAt))
        return bad('MAST_PUSH_BAD_FIELD', 'certificate needs certificate, root and expiresAt strings');
      return ok({ type: 'certificate', certificate: m.certificate, root: m.root, expiresAt: m.expiresAt });
    case 'error':
      return ok({ type: 'error', error: isText(m.error) ? m.error : JSON.stringify(m.error) });
    default:
      return bad('MAST_PUSH_UNKNOWN_TYPE', `unknown message type ${JSON.stringify(m.type.slice(0, 40))}`);
  }
}
