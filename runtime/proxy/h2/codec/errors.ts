/**
 * The two kinds of HTTP/2 error (RFC 9113 §5.4): a connection error ends the connection with
 * GOAWAY, a stream error resets one stream with RST_STREAM. Each carries the wire error code.
 */
import { ErrorCode } from './frames';

const NAMES = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [v, k])) as Record<number, string>;

/** The name of an HTTP/2 error code (`PROTOCOL_ERROR`), or `0x…` for one this codec does not know. */
export const errorName = (code: number): string => NAMES[code] ?? `0x${code.toString(16)}`;

export class H2ConnectionError extends Error {
  readonly code: string;
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(`${errorName(errorCode)}: ${message}`);
    this.code = `H2_${errorName(errorCode)}`;
  }
}

export class H2StreamError extends Error {
  readonly code: string;
  constructor(
    readonly streamId: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(`stream ${streamId} ${errorName(errorCode)}: ${message}`);
    this.code = `H2_${errorName(errorCode)}`;
  }
}
