/**
 * `node:http2`, loaded the first time a connection speaks HTTP/2 rather than at start (it brings
 * `http`, `tls` and `crypto` with it: several MB resident that an HTTP/1.1-only proxy never needs; see
 * lazy-tls.ts), and the protocol's numbers this proxy uses, fixed by RFC 9113, so naming them loads nothing.
 */
import type * as Http2 from 'node:http2';

export const http2Module = (): typeof Http2 => require('node:http2') as typeof Http2;

/** DATA/HEADERS flag END_STREAM (RFC 9113 §6.1). */
export const FLAG_END_STREAM = 0x1;
/** Error codes of RST_STREAM and GOAWAY (RFC 9113 §7). */
export const NO_ERROR = 0x0;
export const INTERNAL_ERROR = 0x2;
export const REFUSED_STREAM = 0x7;
export const CANCEL = 0x8;
