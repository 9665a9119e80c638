/**
 * Splits a connection's bytes into frames (RFC 9113 §4.1) without copying a frame that arrived
 * whole: the sink gets the read buffer and the payload's offsets. Only a frame cut across reads is
 * gathered, and never one longer than the local SETTINGS_MAX_FRAME_SIZE (a FRAME_SIZE_ERROR before
 * its payload is held), so what one connection buffers here is bounded by that size. Its pieces are
 * joined once, when the last one comes: a frame sent a byte per read costs its length in copies, not
 * its length squared.
 */
import { H2ConnectionError } from './errors';
import { ErrorCode, FRAME_HEADER_SIZE, frameLength, frameStreamId } from './frames';

export interface FrameSink {
  /** One frame: its payload is `buf[start, end)`, valid only during the call unless copied or sliced. */
  frame(type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number): void;
}

export class FrameReader {
  /** The pieces of a frame cut across reads (copies), their bytes, and the whole frame's bytes once its header is in (else 0). */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private heldNeed = 0;

  constructor(
    private readonly sink: FrameSink,
    /** The largest payload accepted (the local SETTINGS_MAX_FRAME_SIZE). */
    public maxFrameSize: number,
  ) {}

  /** Every whole frame in `chunk` (after what was held) goes to the sink; throws H2ConnectionError. */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.heldBytes) {
      if (this.heldNeed && this.heldBytes + chunk.length < this.heldNeed) {
        // Still short of the frame: keep the piece (copied: a slice would pin the whole read buffer).
        this.held.push(Buffer.from(chunk));
        this.heldBytes += chunk.length;
        return;
      }
      this.held.push(chunk);
      buf = Buffer.concat(this.held);
      this.held = [];
      this.heldBytes = this.heldNeed = 0;
    }
    let at = 0;
    const n = buf.length;
    while (n - at >= FRAME_HEADER_SIZE) {
      const length = frameLength(buf, at);
      if (length > this.maxFrameSize) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes`);
      const end = at + FRAME_HEADER_SIZE + length;
      if (end > n) break;
      this.sink.frame(buf[at + 3], buf[at + 4], frameStreamId(buf, at), buf, at + FRAME_HEADER_SIZE, end);
      at = end;
    }
    if (at < n) {
      const rest = Buffer.from(buf.subarray(at));
      this.held = [rest];
      this.heldBytes = rest.length;
      this.heldNeed = rest.length >= FRAME_HEADER_SIZE ? FRAME_HEADER_SIZE + frameLength(rest, 0) : 0;
    }
  }
}
