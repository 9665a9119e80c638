/**
 * Trace and span ids (W3C Trace Context: 16 and 8 random bytes, in lowercase hex, never all zero),
 * drawn from a pool of kernel randomness refilled 4 KiB at a time: one read per ~170 requests
 * instead of one per id, and no `node:crypto` (OpenSSL's start-up) in a proxy that has no TLS.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const POOL_BYTES = 4096;

/** Fills a buffer with random bytes: /dev/urandom, else `node:crypto` (not Linux). */
export type RandomFill = (into: Buffer) => void;

export const kernelFill: RandomFill = (into) => {
  let fd: number | undefined;
  try {
    fd = openSync('/dev/urandom', 'r');
    if (readSync(fd, into, 0, into.length, null) === into.length) return;
  } catch {
    // not Linux: below
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  (require('node:crypto') as typeof import('node:crypto')).randomFillSync(into);
};

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

export class TraceIds {
  private readonly pool = Buffer.alloc(POOL_BYTES);
  private used = POOL_BYTES;

  constructor(private readonly fill: RandomFill = kernelFill) {}

  private hex(bytes: number): string {
    if (this.used + bytes > POOL_BYTES) {
      this.fill(this.pool);
      this.used = 0;
    }
    const s = this.pool.toString('hex', this.used, this.used + bytes);
    this.used += bytes;
    return s;
  }

  traceId(): string {
    const id = this.hex(16);
    // All zeros is the invalid id (W3C Trace Context §3.2.2.3): drawn once in 2^128, drawn again.
    return id === ZERO_TRACE ? this.traceId() : id;
  }

  spanId(): string {
    const id = this.hex(8);
    return id === ZERO_SPAN ? this.spanId() : id;
  }
}
