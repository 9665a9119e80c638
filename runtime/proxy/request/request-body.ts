/**
 * An HTTP/1.1 request's body on its way to an HTTP/1.1 upstream: chunks held while no upstream
 * connection is ready, then streamed onto it with backpressure to the client; what a retry needs
 * again is the replay buffer's (replay-buffer.ts).
 */
import type * as net from 'node:net';
import type { Client } from './context';
import { ReplayBuffer } from './replay-buffer';

export class RequestBody {
  private readonly replay = new ReplayBuffer();

  constructor(private readonly client: Client) {}

  /** The last chunk has come. */
  get done(): boolean {
    return this.replay.done;
  }

  /** A chunk from the client, in order: onto `upstream` when a connection is ready, else held. */
  receive(chunk: Buffer, last: boolean, upstream: net.Socket | undefined): void {
    if (this.replay.add(chunk, last, upstream !== undefined)) this.client.pauseReading();
    if (upstream && !upstream.write(chunk)) {
      this.client.pauseReading();
      upstream.once('drain', () => this.client.resumeReading());
    }
  }

  /** What was received so far, onto a new upstream connection (a first try, or a retry). */
  sendOn(upstream: net.Socket): void {
    // Reading stopped while more than the bound was held: it goes on now that a connection takes the body.
    const paused = this.replay.full;
    const chunks = this.replay.replay();
    for (let i = 0; i < chunks.length; i++) upstream.write(chunks[i]);
    if (paused) this.client.resumeReading();
  }

  /** Some of the body went upstream that could not be sent again whole: no retry. */
  get sentPartially(): boolean {
    return this.replay.sentPartially;
  }
}
