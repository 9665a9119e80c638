/**
 * x-forwarded-client-cert (XFCC): what goes upstream about the client's certificate, as Envoy's
 * `forward_client_cert_details` does it. Only a verified peer certificate (the connection's, see
 * peer-tls.ts) is ever described; on a connection without one the client's own header is dropped
 * (unless ALWAYS_FORWARD_ONLY): a plaintext client cannot pass itself off as someone else.
 */
import type { X509Certificate } from 'node:crypto';
import type * as tls from 'node:tls';
import type { ForwardClientCertDetails, HeaderOpsConfig, ListenerConfig } from '../contract/proxy-config';

/** What the header is made from: the client connection's own certificate, the verified peer's, the header received. */
export interface XfccSource {
  readonly socket: object;
  readonly peer?: { readonly certificate?: X509Certificate };
  header(name: string): string | undefined;
}

export const XFCC = 'x-forwarded-client-cert';

/**
 * What a request carries upstream: `value` (non-empty) replaces the client's header; `drop` alone
 * removes it. The value, not an HTTP/1.1 line: HTTP/2 sends it as it is (xfccLine makes the line).
 */
export interface XfccDecision {
  readonly value: string;
  readonly drop: boolean;
  /** Its HTTP/1.1 line, where made once ahead (a connection's element alone: most requests' decision). */
  readonly line?: string;
}

const NOTHING: XfccDecision = { value: '', drop: false };
const DROP: XfccDecision = { value: '', drop: true };

/** The decision's header as an HTTP/1.1 line with its CRLF, or '' when it sets none. */
export const xfccLine = (d: XfccDecision): string => d.line ?? (d.value ? `${XFCC}: ${d.value}\r\n` : '');
/** The header operation that removes the client's header (slow path). */
export const DROP_XFCC: HeaderOpsConfig = { remove: [XFCC] };

/** Entries of Node's `subjectAltName` of one type; entries Node had to quote (commas, quotes, control bytes) are left out. */
function sans(subjectAltName: string | undefined, type: 'URI' | 'DNS'): string[] {
  if (!subjectAltName) return [];
  const prefix = `${type}:`;
  return subjectAltName
    .split(', ')
    .filter((e) => e.startsWith(prefix) && !/["\\]/.test(e))
    .map((e) => e.slice(prefix.length));
}

/** A value inside the header's double quotes: printable ASCII, quotes escaped (no CR/LF can get in). */
const quoted = (v: string) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[^\x20-\x7e]/g, (c) => encodeURIComponent(c))}"`;

/**
 * The subject as RFC 2253 writes it (most specific RDN first), as Envoy prints it; empty for a
 * certificate without one (Istio's and mastd's workload certificates: Node gives no `subject` then).
 */
const subjectOf = (cert: X509Certificate) => (cert.subject ?? '').split('\n').filter(Boolean).reverse().join(',');

/** Envoy's URL encoding of a PEM certificate (newlines, spaces, `+`, `/`, `=`). */
const urlEncodedPem = (pem: string) => pem.replace(/[\n +/=]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);

/** One XFCC element for this connection: By (our URIs), Hash, Cert (gateways), Subject, URI, DNS — Envoy's order. */
export function xfccElement(own: X509Certificate | undefined, peer: X509Certificate, withCert: boolean): string {
  const parts = sans(own?.subjectAltName, 'URI').map((u) => `By=${u}`);
  parts.push(`Hash=${peer.fingerprint256.replace(/:/g, '').toLowerCase()}`);
  if (withCert) parts.push(`Cert="${urlEncodedPem(peer.toString())}"`);
  parts.push(`Subject=${quoted(subjectOf(peer))}`);
  const uris = sans(peer.subjectAltName, 'URI');
  parts.push(...(uris.length ? uris.map((u) => `URI=${u}`) : ['URI=']));
  parts.push(...sans(peer.subjectAltName, 'DNS').map((d) => `DNS=${d}`));
  return parts.join(';');
}

/**
 * Per connection (its socket: an HTTP/2 request is a new object on each stream, its connection's
 * socket is not): the element is the same for every request on it, made on first use. Reading our
 * own certificate back from the socket parses it each time; under gRPC between sidecars that was
 * a tenth of the proxy's busy time when made per stream.
 */
const elements = new WeakMap<object, PeerElement>();

/** A connection's element, and the decision of a request that came with no XFCC of its own (the usual one: made once, not per request). */
interface PeerElement {
  readonly withCert: boolean;
  readonly element: string;
  readonly alone: XfccDecision;
}

function elementFor(d: XfccSource, peer: X509Certificate, withCert: boolean): PeerElement {
  let e = elements.get(d.socket);
  // Made again when the listener's forwardClientCert.cert changes (a push), not kept for the connection's life.
  if (e === undefined || e.withCert !== withCert) {
    const own = (d.socket as unknown as Partial<tls.TLSSocket>).getX509Certificate?.();
    const element = xfccElement(own, peer, withCert);
    elements.set(d.socket, (e = { withCert, element, alone: { value: element, drop: false, line: `${XFCC}: ${element}\r\n` } }));
  }
  return e;
}

/** What this request sends upstream as XFCC, by its listener's `forwardClientCert` (absent: SANITIZE). */
export function forwardedClientCert(d: XfccSource, config: ListenerConfig | undefined): XfccDecision {
  const mode: ForwardClientCertDetails = config?.forwardClientCert?.mode ?? 'SANITIZE';
  if (mode === 'ALWAYS_FORWARD_ONLY') return NOTHING;
  const received = d.header(XFCC);
  const peer = d.peer?.certificate;
  if (mode === 'SANITIZE' || !peer) return received === undefined ? NOTHING : DROP;
  if (mode === 'FORWARD_ONLY') return NOTHING;
  const e = elementFor(d, peer, config?.forwardClientCert?.cert === true);
  if (received === undefined) return e.alone;
  return { value: mode === 'APPEND_FORWARD' ? `${received},${e.element}` : e.element, drop: true };
}
