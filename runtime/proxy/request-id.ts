/**
 * `x-request-id` values for requests that come without one, in UUID version 4 form (as Envoy's):
 * 74 random bits drawn once per process, then a counter that starts at a random value. Unique
 * within a process by the counter and across processes by the random part; not secrets (a
 * request id never is), and one short string per request instead of a random draw and a format.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** Three hex digits for every 12-bit value: four lookups format the counter (Number#toString(16) is slow). */
const HEX3 = Array.from({ length: 4096 }, (_, i) => i.toString(16).padStart(3, '0'));
const SPAN24 = 2 ** 24;

/**
 * 16 bytes from the kernel's random source, read directly: `node:crypto` would bring OpenSSL's
 * start-up into every proxy (≈ 2 MB resident) for one draw; `crypto` where there is no /dev/urandom.
 */
export function kernelRandom(): Buffer {
  const bytes = Buffer.alloc(16);
  let fd: number | undefined;
  try {
    fd = openSync('/dev/urandom', 'r');
    if (readSync(fd, bytes, 0, 16, null) === 16) return bytes;
  } catch {
    // not Linux: below
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return (require('node:crypto') as typeof import('node:crypto')).randomBytes(16);
}

export class RequestIds {
  private readonly prefix: string;
  /** The counter's high and low 24 bits. */
  private high: number;
  private low: number;
  /** The id without its last three digits, made again only when they wrap (every 4,096 ids): one concatenation an id. */
  private stem: string;

  constructor(random: Buffer = kernelRandom()) {
    const hex = random.toString('hex');
    // Version nibble 4; variant bits 10 (the first hex digit of the fourth group is 8, 9, a or b).
    const variant = ((parseInt(hex[15], 16) & 0x3) | 0x8).toString(16);
    this.prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(12, 15)}-${variant}${hex.slice(16, 19)}-`;
    this.high = random.readUIntBE(10, 3);
    this.low = random.readUIntBE(13, 3);
    this.stem = this.stemOf(this.high, this.low);
  }

  private stemOf(high: number, low: number): string {
    return this.prefix + HEX3[high >>> 12] + HEX3[high & 0xfff] + HEX3[low >>> 12];
  }

  next(): string {
    const low = this.low;
    const id = this.stem + HEX3[low & 0xfff];
    if (low + 1 < SPAN24) this.low = low + 1;
    else {
      this.low = 0;
      this.high = (this.high + 1) % SPAN24;
    }
    if ((this.low & 0xfff) === 0) this.stem = this.stemOf(this.high, this.low);
    return id;
  }
}
