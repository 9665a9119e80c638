/**
 * Finds where a chunked body ends, without re-encoding it: the bytes pass through
 * untouched, this only tracks chunk sizes, data and trailers across packet boundaries.
 */
const enum S {
  Size,
  SizeExt,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLf,
  FinalLf,
  Done,
}

export class ChunkedError extends Error {}

export class ChunkedScanner {
  private state = S.Size;
  private remaining = 0;
  private sizeDigits = 0;

  get done(): boolean {
    return this.state === S.Done;
  }

  /** Consumes from `buf[start..end)`; returns the index just past the body's last byte, or `end` if not done yet. */
  scan(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end && this.state !== S.Done) {
      const c = buf[i];
      switch (this.state) {
        case S.Size: {
          const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (d >= 0) {
            if (++this.sizeDigits > 12) throw new ChunkedError('chunk size too large');
            this.remaining = this.remaining * 16 + d;
          } else if (this.sizeDigits === 0) throw new ChunkedError('missing chunk size');
          else if (c === 13) this.state = S.SizeLf;
          else if (c === 59 || c === 32 || c === 9) this.state = S.SizeExt;
          else throw new ChunkedError('bad chunk size');
          i++;
          break;
        }
        case S.SizeExt:
          if (c === 13) this.state = S.SizeLf;
          else if (c === 10) throw new ChunkedError('bare LF in chunk extension');
          i++;
          break;
        case S.SizeLf:
          if (c !== 10) throw new ChunkedError('expected LF after chunk size');
          i++;
          this.sizeDigits = 0;
          this.state = this.remaining === 0 ? S.TrailerStart : S.Data;
          break;
        case S.Data: {
          const take = Math.min(this.remaining, end - i);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = S.DataCr;
          break;
        }
        case S.DataCr:
          if (c !== 13) throw new ChunkedError('expected CRLF after chunk data');
          this.state = S.DataLf;
          i++;
          break;
        case S.DataLf:
          if (c !== 10) throw new ChunkedError('expected CRLF after chunk data');
          this.state = S.Size;
          i++;
          break;
        case S.TrailerStart:
          this.state = c === 13 ? S.FinalLf : S.TrailerLine;
          i++;
          break;
        case S.TrailerLine:
          if (c === 13) this.state = S.TrailerLf;
          i++;
          break;
        case S.TrailerLf:
          if (c !== 10) throw new ChunkedError('bad trailer');
          this.state = S.TrailerStart;
          i++;
          break;
        case S.FinalLf:
          if (c !== 10) throw new ChunkedError('bad final CRLF');
          this.state = S.Done;
          i++;
          break;
      }
    }
    return i;
  }
}
