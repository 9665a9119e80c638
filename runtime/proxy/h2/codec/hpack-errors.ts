/**
 * The two ways a header block can fail to decode. A COMPRESSION_ERROR leaves the decoder's table
 * in an unknown state: the connection must end (RFC 9113 §4.3, GOAWAY with COMPRESSION_ERROR).
 * A list that is merely too large was decoded to its end, so the table is still in sync and only
 * the stream fails (431, or RST_STREAM), exactly as RFC 9113 §10.5.1 allows.
 */

/** A malformed block (RFC 7541 §§ 5–6): a connection error of type COMPRESSION_ERROR. */
export class HpackError extends Error {
  readonly code = 'COMPRESSION_ERROR' as const;
  constructor(readonly reason: string) {
    super(`HPACK: ${reason}`);
    this.name = 'HpackError';
  }
}

/**
 * The block decoded, but its header list exceeds maxHeaderListSize (RFC 9113 §6.5.2's size:
 * Σ name + value + 32). The decoder's table is still in sync: a stream error (431), not a connection one.
 */
export class HeaderListTooLarge extends Error {
  readonly code = 'HEADER_LIST_TOO_LARGE' as const;
  constructor(
    /** The size counted when the limit was passed (the rest of the block was decoded, not counted further). */
    readonly size: number,
    readonly limit: number,
  ) {
    super(`HPACK: header list larger than ${limit} bytes`);
    this.name = 'HeaderListTooLarge';
  }
}
