/**
 * A request body as a retry needs it, whichever codecs the request crosses: the chunks held while
 * no try can take them, and kept for another try while they fit in MAX_REPLAY_BYTES (Envoy buffers
 * a retried request's body the same way). Once more went upstream than fits, the body is streamed:
 * nothing is kept, and a retry would send part of it, so none follows. Pure of sockets: the
 * callers write the chunks and pause their client.
 */

/** Request body bytes held while no try is ready, or kept for a retry. */
export const MAX_REPLAY_BYTES = 1024 * 1024;

export class ReplayBuffer {
  /** The last chunk has come. */
  done: boolean;
  /** Kept for another try; null once streamed. */
  private kept: Buffer[] | null = [];
  private keptBytes = 0;
  /** Every body byte received, kept or not. */
  private received = 0;
  /** Some of the body went to a try. */
  private sent = false;

  /** `done`: the request has no body (nothing will come). */
  constructor(done = false) {
    this.done = done;
  }

  /**
   * A chunk from the client, in order; `sending`: a try takes it now (the caller writes it).
   * Returns true when the client should stop reading: chunks held for a try to come are past the bound.
   */
  add(chunk: Buffer, last: boolean, sending: boolean): boolean {
    if (last) this.done = true;
    this.received += chunk.length;
    if (!sending) {
      // No try can take it yet (a connection, a back-off, a fault delay): held whatever its size, reading stops past the bound.
      if (this.kept) this.keep(chunk);
      return this.keptBytes > MAX_REPLAY_BYTES;
    }
    this.sent = true;
    if (this.kept) {
      if (this.keptBytes + chunk.length > MAX_REPLAY_BYTES) this.stream();
      else this.keep(chunk);
    }
    return false;
  }

  /** The body is complete (a codec that signals its end apart from the last chunk: HTTP/2's END_STREAM). */
  end(): void {
    this.done = true;
  }

  /**
   * What a new try (the first, or a retry) is sent before the chunks still to come. Past the bound
   * (held while waiting), it is sent this once and not kept: the client may read again.
   */
  replay(): readonly Buffer[] {
    const chunks = this.kept ?? [];
    if (chunks.length) this.sent = true;
    if (this.keptBytes > MAX_REPLAY_BYTES) this.stream();
    return chunks;
  }

  /** More than the bound is held for a try to come (the client was told to stop reading). */
  get full(): boolean {
    return this.keptBytes > MAX_REPLAY_BYTES;
  }

  /** Some of the body went upstream that could not be sent again whole: no retry. */
  get sentPartially(): boolean {
    return this.sent && (this.kept === null || !this.done);
  }

  /** A body is coming or came (a try announces one): not yet done, or some bytes received. */
  get hasBody(): boolean {
    return !this.done || this.received > 0;
  }

  private keep(chunk: Buffer): void {
    this.kept!.push(chunk);
    this.keptBytes += chunk.length;
  }

  private stream(): void {
    this.kept = null;
    this.keptBytes = 0;
  }
}
