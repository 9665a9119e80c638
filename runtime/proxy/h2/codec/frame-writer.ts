/**
 * Frames out of one connection, gathered and written once per turn: every frame made while a
 * read (or any callback) runs is placed in a shared slab, and a microtask queued by the first of
 * them writes the lot with one `write` (several, corked into one writev, when a large DATA payload
 * went out by reference instead of copied). A slab is never rewritten: what was handed to the
 * socket stays as it was until the socket is done with it.
 */
import { FRAME_HEADER_SIZE, writeFrameHeader } from './frames';

const SLAB = 64 * 1024;
/** DATA payloads up to this size are copied into the slab (a copy is cheaper than a writev entry). */
const COPY_LIMIT = 8 * 1024;

export interface ByteSink {
  write(chunk: Buffer): boolean;
  cork(): void;
  uncork(): void;
}

export class FrameWriter {
  private slab = Buffer.allocUnsafe(SLAB);
  /** Start of the bytes not yet handed out, and the end of those written. */
  private from = 0;
  private at = 0;
  private readonly out: Buffer[] = [];
  private scheduled = false;
  /** Frames placed since the last flush (for tests and the control-frame count). */
  framesQueued = 0;
  private readonly flushBound = () => this.flush();

  constructor(
    private readonly sink: ByteSink,
    /** Called after each flush (the connection re-checks what waits on the socket). */
    private readonly afterFlush?: () => void,
  ) {}

  /** Room for `n` more bytes at `this.at`; what the slab held so far becomes a segment. */
  private reserve(n: number): void {
    if (this.at + n <= this.slab.length) return;
    this.cut();
    this.slab = Buffer.allocUnsafe(Math.max(SLAB, n));
    this.from = this.at = 0;
  }

  private cut(): void {
    if (this.at > this.from) this.out.push(this.slab.subarray(this.from, this.at));
    this.from = this.at;
  }

  private schedule(): void {
    this.framesQueued++;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushBound);
    }
  }

  /** A frame whose payload is `payload[start, end)` (copied). */
  frame(type: number, flags: number, streamId: number, payload?: Buffer, start = 0, end = payload?.length ?? 0): void {
    const length = end - start;
    this.reserve(FRAME_HEADER_SIZE + length);
    writeFrameHeader(this.slab, this.at, length, type, flags, streamId);
    if (payload && length) payload.copy(this.slab, this.at + FRAME_HEADER_SIZE, start, end);
    this.at += FRAME_HEADER_SIZE + length;
    this.schedule();
  }

  /** A frame with a 4-byte payload (WINDOW_UPDATE, RST_STREAM). */
  frame32(type: number, flags: number, streamId: number, value: number): void {
    this.reserve(FRAME_HEADER_SIZE + 4);
    writeFrameHeader(this.slab, this.at, 4, type, flags, streamId);
    this.slab.writeUInt32BE(value >>> 0, this.at + FRAME_HEADER_SIZE);
    this.at += FRAME_HEADER_SIZE + 4;
    this.schedule();
  }

  /** A DATA frame carrying `payload` whole: small ones copied, large ones written by reference. */
  data(flags: number, streamId: number, payload: Buffer): void {
    if (payload.length <= COPY_LIMIT) return this.frame(0, flags, streamId, payload);
    this.reserve(FRAME_HEADER_SIZE);
    writeFrameHeader(this.slab, this.at, payload.length, 0, flags, streamId);
    this.at += FRAME_HEADER_SIZE;
    this.cut();
    this.out.push(payload);
    this.schedule();
  }

  /** Writes what was gathered, in one write (or one corked writev). */
  flush(): void {
    this.scheduled = false;
    this.cut();
    const out = this.out;
    if (out.length === 1) this.sink.write(out[0]);
    else if (out.length > 1) {
      this.sink.cork();
      for (const b of out) this.sink.write(b);
      this.sink.uncork();
    }
    out.length = 0;
    this.framesQueued = 0;
    this.afterFlush?.();
  }
}
