/**
 * A request's body on its way upstream: chunks held while no upstream connection is ready, then
 * streamed, and kept for a retry as long as they fit in MAX_BUFFERED_BODY (Envoy buffers a
 * retried request's body the same way). Holding more than that stops reading the client.
 */
import type * as net from 'node:net';
import type { Client } from './context';

/** Request body bytes held while no upstream connection is ready, or kept for a retry. */
const MAX_BUFFERED_BODY = 1024 * 1024;

export class RequestBody {
  /** The last chunk has come. */
  done = false;
  private chunks: Buffer[] | null = null;
  private buffered = 0;
  private sent = false;
  /** More body than a retry may keep went upstream: this request cannot be retried. */
  private streamed = false;

  constructor(private readonly client: Client) {}

  /** A chunk from the client, in order: onto `upstream` when a connection is ready, else held. */
  receive(chunk: Buffer, last: boolean, upstream: net.Socket | undefined): void {
    if (last) this.done = true;
    if (!upstream) {
      this.keep(chunk);
      // Waiting for an upstream connection (or a fault delay): stop reading rather than buffer without bound.
      if (this.buffered > MAX_BUFFERED_BODY) this.client.pauseReading();
      return;
    }
    this.sent = true;
    // Kept for a retry until the body outgrows the buffer.
    if (!this.streamed) {
      if (this.buffered + chunk.length > MAX_BUFFERED_BODY) this.stream();
      else this.keep(chunk);
    }
    if (!upstream.write(chunk)) {
      this.client.pauseReading();
      upstream.once('drain', () => this.client.resumeReading());
    }
  }

  /** What was received so far, onto a new upstream connection (a first try, or a retry). */
  sendOn(upstream: net.Socket): void {
    const chunks = this.chunks;
    if (chunks) {
      for (let i = 0; i < chunks.length; i++) upstream.write(chunks[i]);
      if (chunks.length) this.sent = true;
    }
    if (this.buffered > MAX_BUFFERED_BODY) {
      this.stream();
      this.client.resumeReading();
    }
  }

  /** Some of the body went upstream that could not be sent again whole: no retry. */
  get sentPartially(): boolean {
    return this.sent && (this.streamed || !this.done);
  }

  private keep(chunk: Buffer): void {
    (this.chunks ??= []).push(chunk);
    this.buffered += chunk.length;
  }

  private stream(): void {
    this.streamed = true;
    this.chunks = null;
    this.buffered = 0;
  }
}
