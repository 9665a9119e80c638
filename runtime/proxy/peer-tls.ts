/**
 * The server side of TLS on a connection the proxy accepted (a gateway's HTTPS port, a sidecar's
 * inbound mTLS), with the client's certificate verified before any byte of the connection is read.
 *
 * Node checks `requestCert`/`rejectUnauthorized` only inside `tls.Server`'s own connection handler:
 * on a `TLSSocket` built by hand the handshake completes with any certificate (only "no
 * certificate" fails) and `authorized` stays false. A `tls.Server` fed with
 * `emit('connection', socket)` would check, but its 'secureConnection' socket cannot be tied back to
 * the accepted connection (whose raw socket gives the original destination) without Node
 * internals, and one server per connection costs a secure context (≈ 3 ms measured here, Node 20).
 * So the socket is built here and asked for the same
 * verdict that `tls.Server` asks for: OpenSSL's result of verifying the chain against the context's
 * CAs (the mesh root, or a Gateway's `caCertificates`), which covers signature, validity dates and
 * CA constraints. Where that verdict cannot be read (a Node without it), every peer is refused.
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import { tlsModule } from './lazy-tls';

/**
 * What a context needs for its servers to resume sessions. A session id context names the sessions
 * they issue (any fixed string: tickets are sealed with keys of the context itself, so a session
 * never outlives the certificate or root it was made under, nor crosses to another context).
 * Without one, OpenSSL refuses to resume a session on a server that asks for a client certificate
 * and fails the handshake ("session id context uninitialized"): `tls.Server` sets one of its own, a
 * hand-built server socket (serveTls) has none. A resumed session is not verified again: it lives
 * 300 s (`tls.Server`'s default; OpenSSL's own is two hours), so a client certificate is trusted for
 * at most that long past its expiry.
 */
export const resumableSessions = (idContext: string) => ({ sessionIdContext: idContext, sessionTimeout: 300 });

/**
 * The workload certificate's context, for both ends of the mesh's mTLS: servers of it can resume a
 * client's session. `minVersion`: the mesh's `meshMTLS.minProtocolVersion` (TLS 1.2 unless 1.3).
 */
export function workloadContext(key: string, cert: string, root: string, minVersion: tls.SecureVersion = 'TLSv1.2'): tls.SecureContext {
  return tlsModule().createSecureContext({
    key,
    cert,
    ca: root,
    minVersion,
    ...resumableSessions('mast-workload-mtls'),
  });
}

export class PeerVerificationError extends Error {
  readonly code = 'MAST_PEER_UNVERIFIED';
  constructor(readonly reason: string) {
    super(`the peer certificate is not trusted: ${reason}`);
  }
}

/** What `tls.Server` reads after the handshake (`TLSSocket.ssl`, the TLSWrap handle). */
type VerifyHandle = { verifyError?: () => (Error & { code?: string }) | null };

/** The verified certificate of the peer, or why it is refused. */
export function verifiedPeerCertificate(secure: tls.TLSSocket): X509Certificate | PeerVerificationError {
  const handle = (secure as unknown as { ssl?: VerifyHandle | null }).ssl;
  if (typeof handle?.verifyError !== 'function') return new PeerVerificationError('this Node cannot report the verification result');
  const error = handle.verifyError();
  if (error) return new PeerVerificationError(error.code ?? error.message);
  return secure.getPeerX509Certificate() ?? new PeerVerificationError('no certificate');
}

export interface ServerTlsOptions {
  readonly context: tls.SecureContext;
  /**
   * Ask for a client certificate and refuse a peer without one that chains to the context's CAs;
   * `optional` (OPTIONAL_MUTUAL): a peer may send none, but one it sends must chain to them.
   */
  readonly verifyClient: boolean | 'optional';
  /** Closes a peer that has not finished the handshake in time. */
  readonly handshakeTimeoutMs: number;
  /** A peer refused (metrics); the connection is already being closed. */
  readonly onRefused?: (err: PeerVerificationError) => void;
  /** Protocols offered by ALPN, preferred first (`h2`, `http/1.1`); `secure.alpnProtocol` says which the client took. */
  readonly alpn?: string[];
}

/**
 * TLS over the accepted socket; `onSecure` runs once the handshake is done and, with
 * `verifyClient`, the client's chain verified (its certificate passed). A refused peer is closed
 * before its first byte is read.
 *
 * Bytes already read from `raw` (a sidecar reads the first ones to tell TLS from plain text) are
 * handed back with `raw.unshift()` before this call: Node feeds a socket's buffered bytes to the
 * new TLS socket, then reads the socket's handle itself. (A JavaScript stream replaying them instead
 * crashes the process on Node 20, `tls.Server` or not: a peer whose certificate names the mesh root
 * as issuer but is signed by another key makes OpenSSL fail in the middle of a read, and the TLS
 * layer then throws from a native callback, where no `try` can catch it. Node 24 survives it.)
 */
/**
 * The protocol a server takes from a client's ALPN list: the first of ours the client offers.
 * When it offers none of them (the Istio task's `openssl s_client -alpn istio`), Envoy acknowledges
 * no protocol and goes on; Node cannot (a callback that takes none fails the handshake with
 * no_application_protocol, and so does `ALPNProtocols`), so mast acknowledges the client's first
 * and goes on as HTTP/1.1: the handshake completes as Envoy's does, and only `h2` changes the codec.
 */
export function alpnChoice(ours: readonly string[]): (hello: { protocols: string[] }) => string | undefined {
  return ({ protocols }) => ours.find((p) => protocols.includes(p)) ?? protocols[0];
}

export function serveTls(raw: net.Socket, o: ServerTlsOptions, onSecure: (secure: tls.TLSSocket, peer?: X509Certificate) => void): void {
  const verify = o.verifyClient !== false;
  const secure = new (tlsModule().TLSSocket)(raw, {
    isServer: true,
    secureContext: o.context,
    requestCert: verify,
    // OpenSSL then fails a handshake without a client certificate; whether one sent verifies is checked below.
    rejectUnauthorized: o.verifyClient === true,
    ...(o.alpn ? { ALPNCallback: alpnChoice(o.alpn) } : {}),
  });
  secure.on('error', () => secure.destroy());
  raw.setTimeout(o.handshakeTimeoutMs, () => raw.destroy());
  secure.once('secure', () => {
    raw.setTimeout(0);
    if (!verify) return onSecure(secure);
    if (o.verifyClient === 'optional' && !secure.getPeerX509Certificate()) return onSecure(secure);
    const peer = verifiedPeerCertificate(secure);
    if (peer instanceof PeerVerificationError) {
      o.onRefused?.(peer);
      // Nothing reads `secure` (no 'data' listener): closed on the next tick, outside the TLS read that emitted 'secure'.
      process.nextTick(() => (secure.destroy(), raw.destroy()));
      return;
    }
    onSecure(secure, peer);
  });
}
