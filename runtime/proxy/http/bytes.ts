/**
 * What the parts of the HTTP/1 head parser share: the error a refused head is, the byte classes
 * and the few byte comparisons that keep strings from being made per request.
 */
/**
 * A CONNECT request: Istio's listeners configure no CONNECT upgrade, and a CONNECT has no path for
 * their path routes to match, so Envoy answers 404 (route_not_found, flag NR) and logs it. mast
 * too, over both HTTP versions, after authorization and before routing (request/connect.ts), with
 * an access log line (path null, as Envoy's "-"); an HTTP/1.1 connection is closed after it (its
 * bytes would be a tunnel's).
 */
export const CONNECT_NO_ROUTE = 'connect_no_route';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Byte classes: 1 = a token character (method, header name); 2 = allowed in a field value (HTAB,
 * SP, VCHAR, obs-text); 4 = allowed in a request target (visible ASCII: a URI has no other bytes, and no
 * `#`: a fragment is never sent, RFC 9112 §3.2).
 */
export const CLASS = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  const token =
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b));
  const value = b === 9 || (b >= 0x20 && b !== 0x7f);
  const target = b > 0x20 && b < 0x7f && b !== 0x23;
  CLASS[b] = (token ? 1 : 0) | (value ? 2 : 0) | (target ? 4 : 0);
}
export const CR = 13;
export const LF = 10;
export const SP = 32;
export const HT = 9;
export const COLON = 58;

/**
 * buf[s..e) as a one-byte string. Buffer#toString checks its arguments and picks the encoding on
 * every call; the latin1 slice it ends in is called directly where Node has it (every version so far).
 */
type Latin1Slicing = Buffer & { latin1Slice?: (start: number, end: number) => string };
export const latin1: (buf: Buffer, s: number, e: number) => string =
  typeof (Buffer.prototype as Latin1Slicing).latin1Slice === 'function'
    ? (buf, s, e) => (buf as Latin1Slicing).latin1Slice!(s, e)
    : (buf, s, e) => buf.toString('latin1', s, e);

/** Whether buf[s..e) is `lower` in any case. */
export function sameToken(buf: Buffer, s: number, e: number, lower: string): boolean {
  if (e - s !== lower.length) return false;
  for (let j = 0; j < lower.length; j++) {
    let b = buf[s + j];
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b !== lower.charCodeAt(j)) return false;
  }
  return true;
}

/** Whether buf[s..e) is exactly `str` (a one-byte string). */
export function sameBytes(buf: Buffer, s: number, e: number, str: string): boolean {
  if (e - s !== str.length) return false;
  for (let j = 0; j < str.length; j++) if (buf[s + j] !== str.charCodeAt(j)) return false;
  return true;
}
