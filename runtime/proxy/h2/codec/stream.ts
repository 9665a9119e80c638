/**
 * One HTTP/2 stream of a codec connection: its state (RFC 9113 §5.1, kept as the two halves'
 * ends), its windows both ways, and the body bytes it holds beyond its send window. What a
 * stream does on the wire its connection does; the methods here are the application's handle.
 */
/** What a stream asks of its connection (session-core.ts), said here so neither file imports the other. */
export interface StreamOwner {
  sendHeaders(s: H2Stream, flat: readonly string[], endStream: boolean): void;
  sendData(s: H2Stream, chunk: Buffer | undefined, endStream: boolean): boolean;
  sendTrailers(s: H2Stream, flat: readonly string[]): void;
  resetStream(s: H2Stream, code: number, local: boolean): void;
  consumed(s: H2Stream, n: number): void;
}

export interface StreamHandlers {
  /**
   * A header block of the peer: the request head (server), a response head or an informational
   * (1xx) head (client), or trailers (`trailers`, which always end the stream).
   */
  onHeaders?(s: H2Stream, flat: string[], endStream: boolean, trailers: boolean): void;
  /**
   * Body bytes (maybe none, with `endStream`). Their window is given back only once the
   * application calls `consumed` (after forwarding them): a slow reader slows the writer.
   */
  onData?(s: H2Stream, chunk: Buffer, endStream: boolean): void;
  /**
   * The stream ended abnormally: the peer's RST_STREAM, a stream error this codec found
   * (`local`), or the connection closing. `retryable`: the peer never processed it (GOAWAY with
   * a lower last-stream-id, REFUSED_STREAM), so it may be sent again elsewhere (§8.7).
   */
  onReset?(s: H2Stream, code: number, retryable: boolean, local: boolean): void;
  /** `n` bytes of body given with sendData went out as DATA frames (their memory is released). */
  onSent?(s: H2Stream, n: number): void;
  /** What sendData held fell below the high-water mark again (after sendData returned false). */
  onDrain?(s: H2Stream): void;
  /** The stream is closed (both halves ended, or reset). */
  onClose?(s: H2Stream): void;
}

export class H2Stream {
  handlers: StreamHandlers = {};
  /** The application's own slot (what this stream is relayed to, say). */
  data: unknown;
  localEnded = false;
  remoteEnded = false;
  closed = false;
  headSent = false;
  headReceived = false;
  /** The request was HEAD (client): a response's content-length says nothing of its body. */
  noBody = false;
  /** What the peer may still send, and what was consumed but not yet given back by WINDOW_UPDATE. */
  recvWindow: number;
  unacked = 0;
  /** Body bytes delivered by onData and not yet consumed (the connection's window gets them back if the stream closes first). */
  unconsumed = 0;
  sendWindow: number;
  /** Body bytes waiting for window, the END_STREAM after them, and trailers to send then. */
  readonly queue: Buffer[] = [];
  queued = 0;
  endQueued = false;
  trailersQueued: string[] | undefined;
  /** The body length the peer declared (-1: none; 0 too when no body may follow), and the body bytes received. */
  expected = -1;
  received = 0;

  constructor(
    readonly session: StreamOwner,
    readonly id: number,
    recvWindow: number,
    sendWindow: number,
  ) {
    this.recvWindow = recvWindow;
    this.sendWindow = sendWindow;
  }

  /** Sends a head (request, response or 1xx) or, after the body, nothing else: see sendTrailers. */
  sendHeaders(flat: readonly string[], endStream = false): void {
    this.session.sendHeaders(this, flat, endStream);
  }

  /** Queues body bytes; false when more than the high-water mark waits for window (wait for onSent). */
  sendData(chunk: Buffer, endStream = false): boolean {
    return this.session.sendData(this, chunk, endStream);
  }

  /** Ends the body with trailers (after every queued byte). */
  sendTrailers(flat: readonly string[]): void {
    this.session.sendTrailers(this, flat);
  }

  /** Ends the body (after every queued byte). */
  end(): void {
    this.session.sendData(this, undefined, true);
  }

  /** RST_STREAM with `code`; the stream is closed at once and nothing more of it is delivered. */
  reset(code: number): void {
    this.session.resetStream(this, code, false);
  }

  /** `n` bytes delivered by onData were forwarded: their window goes back to the peer. */
  consumed(n: number): void {
    this.session.consumed(this, n);
  }
}
