/** How a message body ends: no body, a Content-Length, chunked, or the connection closing. */
import { ChunkedScanner } from './chunked';
import type { Head } from './head';

export class BodyFraming {
  private remaining: number;
  private readonly scanner?: ChunkedScanner;
  readonly untilClose: boolean;

  constructor(kind: 'none' | 'length' | 'chunked' | 'close', length = 0) {
    this.remaining = kind === 'length' ? length : 0;
    if (kind === 'chunked') this.scanner = new ChunkedScanner();
    this.untilClose = kind === 'close';
  }

  /** No body: one shared instance (nothing in it changes). */
  static readonly NONE = new BodyFraming('none');

  static forRequest(head: Head): BodyFraming {
    if (head.chunked) return new BodyFraming('chunked');
    return head.contentLength > 0 ? new BodyFraming('length', head.contentLength) : BodyFraming.NONE;
  }

  /** Response framing (RFC 9112 §6.3): HEAD, 1xx, 204 and 304 have no body. */
  static forResponse(head: Head & { status: number }, requestMethod: string): BodyFraming {
    if (requestMethod === 'HEAD' || head.status < 200 || head.status === 204 || head.status === 304) return BodyFraming.NONE;
    if (head.chunked) return new BodyFraming('chunked');
    if (head.contentLength >= 0) return head.contentLength > 0 ? new BodyFraming('length', head.contentLength) : BodyFraming.NONE;
    return new BodyFraming('close');
  }

  get done(): boolean {
    if (this.scanner) return this.scanner.done;
    return !this.untilClose && this.remaining === 0;
  }

  /** Index just past this body's bytes within buf[start..end). Throws on bad chunked framing. */
  consume(buf: Buffer, start: number, end: number): number {
    if (this.scanner) return this.scanner.scan(buf, start, end);
    if (this.untilClose) return end;
    const take = Math.min(this.remaining, end - start);
    this.remaining -= take;
    return start + take;
  }

  /** A chunked body's trailer fields, once it is done (chunked.ts keeps them); none: undefined. */
  get trailers(): Array<[string, string]> | undefined {
    return this.scanner?.trailers;
  }

  /** The last `consume` dropped nothing: its bytes go on exactly as received. */
  get asReceived(): boolean {
    return !this.scanner || this.scanner.dropped.length === 0;
  }

  /**
   * What to forward of buf[start..end), the span the last `consume` took: those bytes as they
   * came (no copy), unless chunk extensions or trailers were in it (dropped: see chunked.ts).
   */
  forwarded(buf: Buffer, start: number, end: number): Buffer {
    const dropped = this.scanner?.dropped;
    if (!dropped || dropped.length === 0) return start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    const parts: Buffer[] = [];
    let from = start;
    for (let k = 0; k < dropped.length; k += 2) {
      if (dropped[k] > from) parts.push(buf.subarray(from, dropped[k]));
      from = dropped[k + 1];
    }
    if (end > from) parts.push(buf.subarray(from, end));
    return Buffer.concat(parts);
  }
}
