/**
 * The payload of an HTTP/1.1 chunked body, for a codec that frames bodies itself (HTTP/2): the
 * bytes it gets were validated by http/chunked.ts (extensions and trailers already dropped), so
 * this only strips the framing: size lines and the CRLF after each chunk.
 */
enum State {
  Size,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Done,
}

export class Dechunker {
  private state = State.Size;
  private size = 0;
  private left = 0;

  /** The payload bytes in `buf` (views into it, no copy). */
  take(buf: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < buf.length && this.state !== State.Done) {
      const c = buf[i];
      switch (this.state) {
        case State.Size:
          if (c === 13) this.state = State.SizeLf;
          else this.size = this.size * 16 + parseInt(String.fromCharCode(c), 16);
          i++;
          break;
        case State.SizeLf:
          i++;
          this.left = this.size;
          this.size = 0;
          // The last chunk (size 0) ends with the blank line: that CRLF is DataCr/DataLf's.
          this.state = this.left === 0 ? State.DataCr : State.Data;
          if (this.left === 0) this.last = true;
          break;
        case State.Data: {
          const n = Math.min(this.left, buf.length - i);
          out.push(buf.subarray(i, i + n));
          this.left -= n;
          i += n;
          if (this.left === 0) this.state = State.DataCr;
          break;
        }
        case State.DataCr:
          i++;
          this.state = State.DataLf;
          break;
        case State.DataLf:
          i++;
          this.state = this.last ? State.Done : State.Size;
          break;
      }
    }
    return out;
  }

  private last = false;
}
