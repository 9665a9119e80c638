/**
 * What the request layers see of what is around them: the client connection (downstream.ts
 * implements `Client`: the request as parsed and normalized there, and the few things done to the
 * connection) and the proxy (mesh-proxy.ts implements `ExchangeContext`). Nothing in request/
 * knows the connection's class, its parser or its socket, nor the proxy's.
 */
import type { RequestView } from '../routing';
import type { Limits, RequestHead } from '../http/head';
import type { Cluster } from '../upstream/cluster';
import type { XfccSource } from '../xfcc';
import type { HeaderSource, TraceContext } from '../tracing/propagation';

/**
 * One request, read-only and protocol-free: what routing, authorization, hashing, the record and
 * the forwarding headers read, whether it came as HTTP/1.1 (downstream.ts) or as an HTTP/2 stream
 * (h2/stream-request.ts).
 */
export interface RequestInfo extends RequestView, XfccSource {
  readonly scheme: 'http' | 'https';
  /** The client: the peer, or the source a PROXY protocol header names. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The direct peer, whatever a PROXY header says (AuthorizationPolicy `ipBlocks`). */
  readonly peerAddress: string;
  /** A verified client certificate's identity (mTLS), and the certificate. */
  readonly peer?: XfccSource['peer'] & { readonly principal?: string; readonly namespace?: string };
  /** Where the client meant to connect before iptables redirected it here, when known. */
  readonly originalPort?: number;
  readonly originalAddress?: string;
  /** The original client: past the trusted hops of x-forwarded-for, or the peer. */
  clientAddress(): string;
}

/** An HTTP/1.1 request: its head as parsed, and the bytes it came in. */
export interface ClientRequest extends RequestInfo {
  readonly head: RequestHead;
  /** The request head as received: `headBuffer[0, headLength)`, request line to the blank line. */
  readonly headBuffer: Buffer;
  readonly headLength: number;
  /** The target came in absolute form (an app using the sidecar as its HTTP proxy). */
  readonly absoluteForm: boolean;
  /** Bytes of the request's body are still to come. */
  readonly bodyPending: boolean;
  /** A chunked body's trailer fields, once the body is done (a codec that carries them sends them on). */
  readonly requestTrailers?: Array<[string, string]>;
  /** `x-forwarded-for: <client>\r\n`, made once per connection. */
  forwardedForLine(): string;
}

/** The request and its connection: what an exchange may do to it. */
export interface Client extends ClientRequest {
  /** The connection is a raw tunnel (after a 101): its bytes go to the exchange's `tunnelToUpstream`. */
  readonly tunnel: boolean;
  /** False when the socket's buffer is full (backpressure: stop reading the other side). */
  write(data: string | Buffer): boolean;
  cork(): void;
  uncork(): void;
  /** Stop reading the client (its body outruns what may be held) and go on again. */
  pauseReading(): void;
  resumeReading(): void;
  /** From now on a tunnel; `clientEnded` when the client ends its side. */
  openTunnel(clientEnded: () => void): void;
  /** The upstream ended its side of the tunnel: end ours (FIN). */
  endTunnel(): void;
  /** Reset: nothing sensible can follow on this connection. */
  close(): void;
  /** The connection is being drained (its listener was removed): responses say `Connection: close`. */
  readonly draining?: boolean;
  /** The exchange is over (at `now`, performance.now()): the next request on this connection, or close it. */
  finished(keepAlive: boolean, now: number): void;
}

/** What a request needs of the proxy it goes through. */
export interface ExchangeContext {
  readonly identity: { readonly mode: 'gateway' | 'sidecar' };
  readonly limits: Limits;
  /** Responses say `Connection: close` (the proxy is draining). */
  readonly draining: boolean;
  cluster(name: string): Cluster | undefined;
  /** A fire-and-forget copy of a request (mirror.ts); with `withBody`, where its body's chunks go. */
  mirror(cluster: string, method: string, head: string, withBody?: boolean): MirrorBody | undefined;
  /** Present when the config traces: each request's span context, made as it starts (none on a side not traced). */
  readonly tracer?: { start(req: HeaderSource, inbound: boolean): TraceContext | undefined };
}

/** A mirror's copy of a request with a body: each chunk of the body as the main request gets it. */
export interface MirrorBody {
  write(chunk: Buffer, last: boolean): void;
  /** The request is over: a copy still waiting for body bytes is given up. */
  abandon(): void;
}
