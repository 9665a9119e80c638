/**
 * Strict chunked framing (RFC 9112 §7.1), tracked across packet boundaries: chunk sizes, chunk
 * extensions (token / quoted-string grammar, and no whitespace around `;` and `=`: the BWS the
 * RFC allows there is refused, as Node's llhttp refuses it), data, trailer field lines, CRLF everywhere.
 * Anything else throws: a proxy and the server behind it must never disagree on where a body
 * ends (request smuggling).
 *
 * What is forwarded is a validated pass-through with the parts the recipient could read
 * differently taken out: chunk extensions and the trailer section are dropped (Envoy's HTTP/1
 * codec drops both by default: it re-frames, and keeps trailers only with `enable_trailers`).
 * The scan records those byte ranges (`dropped`); sizes, data and CRLFs go on byte for byte,
 * so a body without extensions or trailers (nearly all) is forwarded with no copy. The trailer
 * fields, validated, are kept (`trailers`) for a codec that carries them as fields of its own
 * (HTTP/2's trailing HEADERS, a re-framed chunked body).
 */
// biome-ignore lint/suspicious/noConstEnum: inlined by the bundler on the per-chunk hot path
const enum S {
  Size,
  /** After `;`: the extension's name. */
  ExtNameStart,
  ExtName,
  /** After `=`: a token or a quoted string. */
  ExtValueStart,
  ExtToken,
  ExtQuoted,
  ExtQuotedPair,
  /** After a quoted value: `;` or CR. */
  ExtAfterValue,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  /** The start of a trailer line, or the CR of the blank line that ends the body. */
  TrailerStart,
  TrailerName,
  TrailerValue,
  TrailerLf,
  FinalLf,
  Done,
}

export class ChunkedError extends Error {
  readonly code = 'bad_chunked';
}

const CR = 13;
const LF = 10;
const SP = 32;
const HT = 9;

/** tchar (RFC 9110 §5.6.2). */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;
/** qdtext: HTAB, SP, 0x21, 0x23-0x5B, 0x5D-0x7E, obs-text. */
const QDTEXT = new Uint8Array(256);
for (let b = 0; b < 256; b++)
  QDTEXT[b] = b === HT || b === SP || b === 0x21 || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b <= 0x7e) || b >= 0x80 ? 1 : 0;
/** A field value's bytes: HTAB, SP, VCHAR, obs-text (no NUL, no other control, no DEL). */
const FIELD_VALUE = new Uint8Array(256);
for (let b = 0; b < 256; b++) FIELD_VALUE[b] = b === HT || (b >= 0x20 && b !== 0x7f) ? 1 : 0;

const isBws = (c: number) => c === SP || c === HT;

/** Longest chunk line (size and extensions) and trailer section accepted: a peer cannot make us read without end. */
const MAX_LINE = 4096;
const MAX_TRAILERS = 60 * 1024;

export class ChunkedScanner {
  private state = S.Size;
  private remaining = 0;
  private sizeDigits = 0;
  /** Bytes of the current chunk line's extensions, or of the trailer section, so far. */
  private skipped = 0;
  /** The trailer section's field lines as received (latin1), when it had any. */
  private trailerText = '';
  /** In the middle of a dropped range when the last scan ended. */
  private dropping = false;
  /**
   * The ranges of the last `scan` not to forward, as [start, end) pairs of indexes into its
   * buffer; empty (the common case) when everything scanned goes on as received.
   */
  readonly dropped: number[] = [];

  get done(): boolean {
    return this.state === S.Done;
  }

  /** The trailer fields (names lowercase, values without surrounding whitespace) once the body is done; none: undefined. */
  get trailers(): Array<[string, string]> | undefined {
    if (this.state !== S.Done || !this.trailerText) return undefined;
    const out: Array<[string, string]> = [];
    for (const line of this.trailerText.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) out.push([line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]);
    }
    return out;
  }

  /** Consumes from `buf[start..end)`; returns the index just past the body's last byte, or `end` if not done yet. */
  scan(buf: Buffer, start: number, end: number): number {
    const dropped = this.dropped;
    dropped.length = 0;
    if (this.dropping) dropped.push(start);
    let i = start;
    while (i < end && this.state !== S.Done) {
      const c = buf[i];
      switch (this.state) {
        case S.Size: {
          const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (d >= 0) {
            // 12 hex digits: 256 TB; more is an overflow attempt, not a body.
            if (++this.sizeDigits > 12) throw new ChunkedError('chunk size too large');
            this.remaining = this.remaining * 16 + d;
          } else if (this.sizeDigits === 0) throw new ChunkedError('missing chunk size');
          else if (c === CR) this.state = S.SizeLf;
          else if (c === 0x3b /* ; */) {
            this.startDrop(i);
            this.state = S.ExtNameStart;
          } else throw new ChunkedError('bad chunk size');
          i++;
          break;
        }
        case S.ExtNameStart:
          if (!TOKEN[c]) throw new ChunkedError('bad chunk extension name');
          this.state = S.ExtName;
          i = this.extByte(i);
          break;
        case S.ExtName:
          i = TOKEN[c] ? this.extByte(i) : this.afterExtension(c, i, S.ExtValueStart);
          break;
        case S.ExtValueStart:
          if (c === 0x22 /* " */) this.state = S.ExtQuoted;
          else if (TOKEN[c]) this.state = S.ExtToken;
          else throw new ChunkedError('bad chunk extension value');
          i = this.extByte(i);
          break;
        case S.ExtToken:
          i = TOKEN[c] ? this.extByte(i) : this.afterExtension(c, i, -1);
          break;
        case S.ExtQuoted:
          if (c === 0x22) this.state = S.ExtAfterValue;
          else if (c === 0x5c /* \ */) this.state = S.ExtQuotedPair;
          else if (!QDTEXT[c]) throw new ChunkedError('bad character in a quoted chunk extension');
          i = this.extByte(i);
          break;
        case S.ExtQuotedPair:
          if (!(c === HT || (c >= 0x20 && c !== 0x7f))) throw new ChunkedError('bad quoted-pair in a chunk extension');
          this.state = S.ExtQuoted;
          i = this.extByte(i);
          break;
        case S.ExtAfterValue:
          i = this.afterExtension(c, i, -1);
          break;
        case S.SizeLf:
          if (c !== LF) throw new ChunkedError('expected LF after chunk size');
          i++;
          this.sizeDigits = 0;
          this.skipped = 0;
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
          if (c !== CR) throw new ChunkedError('expected CRLF after chunk data');
          this.state = S.DataLf;
          i++;
          break;
        case S.DataLf:
          if (c !== LF) throw new ChunkedError('expected CRLF after chunk data');
          this.state = S.Size;
          i++;
          break;
        case S.TrailerStart:
          if (c === CR) {
            this.endDrop(i);
            this.state = S.FinalLf;
          } else if (TOKEN[c]) {
            this.startDrop(i);
            this.state = S.TrailerName;
            this.trailerByte(c);
          } else throw new ChunkedError(isBws(c) ? 'obsolete line folding in trailers' : 'bad trailer field name');
          i++;
          break;
        case S.TrailerName:
          if (c === 0x3a /* : */) this.state = S.TrailerValue;
          else if (!TOKEN[c]) throw new ChunkedError('bad trailer field line');
          this.trailerByte(c);
          i++;
          break;
        case S.TrailerValue:
          if (c === CR) this.state = S.TrailerLf;
          else if (!FIELD_VALUE[c]) throw new ChunkedError('bad character in a trailer field value');
          this.trailerByte(c);
          i++;
          break;
        case S.TrailerLf:
          if (c !== LF) throw new ChunkedError('bare CR in trailers');
          this.state = S.TrailerStart;
          this.trailerByte(c);
          i++;
          break;
        case S.FinalLf:
          if (c !== LF) throw new ChunkedError('bad final CRLF');
          this.state = S.Done;
          i++;
          break;
      }
    }
    if (this.dropping) dropped.push(i);
    return i;
  }

  private startDrop(i: number): void {
    if (this.dropping) return;
    this.dropping = true;
    this.dropped.push(i);
  }

  private endDrop(i: number): void {
    if (!this.dropping) return;
    this.dropping = false;
    this.dropped.push(i);
  }

  /** One more byte of a chunk line's extensions: the index after it. */
  private extByte(i: number): number {
    if (++this.skipped > MAX_LINE) throw new ChunkedError('chunk extensions too long');
    return i + 1;
  }

  /** One more byte of the trailer section (bounded), kept: trailers are rare, a string of them is cheap. */
  private trailerByte(c: number): void {
    if (++this.skipped > MAX_TRAILERS) throw new ChunkedError('trailers too large');
    this.trailerText += String.fromCharCode(c);
  }

  /** After an extension's name (`value`: the state `=` leads to, -1 after a value): `;`, CR, or `=`. */
  private afterExtension(c: number, i: number, value: number): number {
    if (c === 0x3b) this.state = S.ExtNameStart;
    else if (c === CR) {
      this.endDrop(i);
      this.state = S.SizeLf;
      return i + 1;
    } else if (c === 0x3d /* = */ && value >= 0) this.state = value;
    else throw new ChunkedError('bad chunk extension');
    return this.extByte(i);
  }
}
