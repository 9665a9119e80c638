/**
 * Strict HTTP/1.1 head parsing in one pass over the bytes: the request or status line here, the
 * header lines in header-lines.ts (names lowercased, values trimmed of spaces and tabs). Anything
 * ambiguous is refused rather than guessed: both Content-Length and Transfer-Encoding, differing
 * Content-Lengths, obs-fold, bad characters (request smuggling defences).
 */
import { CLASS, CR, HttpError, latin1, LF, sameBytes, SP } from './bytes';
import { CLOSE, KEEP_ALIVE, OTHER_TOKEN, scanHeaders, UPGRADE, type Headers } from './header-lines';

export { HttpError, latin1 } from './bytes';
export { SEEN_HOP_BY_HOP, SEEN_X_FORWARDED_FOR, SEEN_X_FORWARDED_PROTO, SEEN_X_REQUEST_ID } from './header-lines';
import type { Http2Limits } from '../h2/limits';

export interface Limits {
  readonly maxHeadBytes: number;
  readonly maxHeaders: number;
  /** A client must send a whole head within this (slow clients get 408). */
  readonly headerTimeoutMs: number;
  /** Idle keep-alive connections are closed after this. */
  readonly idleTimeoutMs: number;
  /**
   * Proxies in front of this one whose x-forwarded-for entries are trusted (Envoy's
   * xff_num_trusted_hops): the client is the Nth entry from the right; with 0, the peer itself.
   */
  readonly trustedHops?: number;
  /** HTTP/2 settings and flood bounds (h2/limits.ts); absent, Envoy's edge best-practice values. */
  readonly http2?: Partial<Http2Limits>;
}

export const DEFAULT_LIMITS: Limits = { maxHeadBytes: 60 * 1024, maxHeaders: 100, headerTimeoutMs: 15_000, idleTimeoutMs: 60_000 };

export interface Head {
  /** Flat [name, value, name, value...], names lowercase (values made into strings on first use). */
  readonly headers: string[];
  /** The lowercase names alone, in order. */
  readonly names: readonly string[];
  /**
   * The first value of a header (lowercase name). Given `likely` (e.g. the value the previous
   * request on the connection had), that same string when the bytes are equal: none is made.
   */
  header(name: string, likely?: string): string | undefined;
  /** Which of the headers a proxy cares about were present (SEEN_* bits). */
  readonly seen: number;
  /**
   * Where the value of the one x-forwarded-for line ends in the received bytes (a proxy appends its
   * client there, the head otherwise sent as received); -1 with no such line, several, or an empty one.
   */
  readonly forwardedForEnd: number;
  /**
   * Where the one hop-by-hop line lies, from its name to past its CRLF, when it is a `connection`
   * line saying only keep-alive or close (the head may go on without it, as received otherwise);
   * -1 when there is none, or any other hop-by-hop header or token.
   */
  readonly connectionLineStart: number;
  readonly connectionLineEnd: number;
  /** -1 when absent. */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** HTTP/1.1 without `connection: close`, or HTTP/1.0 with `keep-alive`. */
  readonly keepAlive: boolean;
  readonly upgrade: boolean;
  readonly http10: boolean;
}

export interface RequestHead extends Head {
  readonly method: string;
  readonly target: string;
  readonly expectContinue: boolean;
}

export interface ResponseHead extends Head {
  readonly status: number;
  readonly reason: string;
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** End of the head (index after CRLFCRLF), -1 if incomplete. */
export function headEnd(buf: Buffer, from = 0): number {
  const n = buf.length;
  // A head is short: a byte loop beats a call into the native search (and its string argument).
  if (n - from > 2048) {
    const i = buf.indexOf(CRLFCRLF, from);
    return i < 0 ? -1 : i + 4;
  }
  // Not every byte is looked at: i is where the blank line's LF could be. A byte that is neither CR
  // nor LF is in no CRLFCRLF, so the next possible end is four on; a CR could only be the pattern's
  // first or third byte (an end one or three on); an LF that does not end it, only its second (two on).
  let i = from + 3;
  while (i < n) {
    const b = buf[i];
    if (b === LF) {
      if (buf[i - 1] === CR && buf[i - 2] === LF && buf[i - 3] === CR) return i + 1;
      i += 2;
    } else if (b === CR) i += 1;
    else i += 4;
  }
  return -1;
}

/** The usual methods as constant strings: no string made per request for them. */
const METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'PATCH', 'OPTIONS'];

/**
 * The other methods a request may have: Node's llhttp knows these and no others (its
 * `http.METHODS`), and Envoy refuses methods outside its standard set unless
 * `allow_custom_methods`; a method only the proxy or only the app understood would be a
 * request the two read differently.
 */
const OTHER_METHODS = new Set([
  ...[
    'ACL',
    'BIND',
    'CHECKOUT',
    'CONNECT',
    'COPY',
    'LINK',
    'LOCK',
    'M-SEARCH',
    'MERGE',
    'MKACTIVITY',
    'MKCALENDAR',
    'MKCOL',
    'MOVE',
    'NOTIFY',
  ],
  ...[
    'PROPFIND',
    'PROPPATCH',
    'PURGE',
    'QUERY',
    'REBIND',
    'REPORT',
    'SEARCH',
    'SOURCE',
    'SUBSCRIBE',
    'TRACE',
    'UNBIND',
    'UNLINK',
    'UNLOCK',
    'UNSUBSCRIBE',
  ],
]);

function method(buf: Buffer, s: number, e: number): string {
  for (let k = 0; k < METHODS.length; k++) if (sameBytes(buf, s, e, METHODS[k])) return METHODS[k];
  const m = latin1(buf, s, e);
  // A CONNECT is parsed as any request (its target in authority form); no route takes it (bytes.ts CONNECT_NO_ROUTE).
  if (!OTHER_METHODS.has(m)) throw new HttpError(400, 'unknown_method', `unknown method "${m}"`);
  return m;
}

/** `HTTP/1.` then `0` or `1` at buf[i..i+8): the minor version, or -1. */
function httpVersion(buf: Buffer, i: number): number {
  // 'HTTP/1.' byte by byte: no string made.
  if (buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 || buf[i + 3] !== 0x50) return -1;
  if (buf[i + 4] !== 0x2f || buf[i + 5] !== 0x31 || buf[i + 6] !== 0x2e) return -1;
  const minor = buf[i + 7];
  return minor === 0x30 ? 0 : minor === 0x31 ? 1 : -1;
}

const badRequestLine = () => new HttpError(400, 'bad_request_line', 'malformed request line');

/** `likelyTarget`: the target string to reuse if this request's is the same (a client repeating a request on a connection). */
export function parseRequestHead(
  buf: Buffer,
  start: number,
  end: number,
  limits: Limits = DEFAULT_LIMITS,
  likelyTarget?: string,
): RequestHead {
  if (end - start > limits.maxHeadBytes) throw new HttpError(431, 'head_too_large', 'request head too large');
  // Request line: method SP target SP version CRLF.
  let i = start;
  while (CLASS[buf[i]] & 1) i++;
  if (i === start || buf[i] !== SP) throw badRequestLine();
  const ts = i + 1;
  i = ts;
  while (CLASS[buf[i]] & 4) i++;
  if (i === ts || buf[i] !== SP)
    throw buf[i] === 0x23 ? new HttpError(400, 'fragment_in_target', 'a fragment (#) in the request target') : badRequestLine();
  const te = i;
  const vs = i + 1;
  let eol = vs;
  while (eol < end && buf[eol] !== CR) eol++;
  if (buf[eol + 1] !== LF) throw badRequestLine();
  const minor = eol - vs === 8 ? httpVersion(buf, vs) : -1;
  if (minor < 0) {
    const version = latin1(buf, vs, eol);
    if (version.includes(' ')) throw badRequestLine();
    throw new HttpError(version.startsWith('HTTP/') ? 505 : 400, 'bad_version', `unsupported version "${version}"`);
  }
  const h = scanHeaders(buf, eol + 2, end, limits.maxHeaders);
  if (h.hosts > 1) throw new HttpError(400, 'duplicate_host', 'more than one Host header');
  const http10 = minor === 0;
  const keepAlive = http10 ? (h.connection & KEEP_ALIVE) !== 0 : (h.connection & CLOSE) === 0;
  const target = likelyTarget !== undefined && sameBytes(buf, ts, te, likelyTarget) ? likelyTarget : latin1(buf, ts, te);
  return new ParsedHead(h, http10, keepAlive, method(buf, start, ts - 1), target, 0, 0, 0);
}

/**
 * A parsed request or response head: one class for both (one hidden class where code reads
 * either, e.g. body framing), the fields of the other kind left empty.
 */
class ParsedHead implements RequestHead, ResponseHead {
  readonly contentLength: number;
  readonly chunked: boolean;
  readonly upgrade: boolean;
  readonly seen: number;
  readonly forwardedForEnd: number;
  readonly connectionLineStart: number;
  readonly connectionLineEnd: number;
  readonly expectContinue: boolean;
  constructor(
    private readonly h: Headers,
    readonly http10: boolean,
    readonly keepAlive: boolean,
    /** Request: the method and target ('' for a response). */
    readonly method: string,
    readonly target: string,
    /** Response: the status (0 for a request), and where its reason phrase lies in `buf`. */
    readonly status: number,
    private readonly reasonStart: number,
    private readonly reasonEnd: number,
  ) {
    this.contentLength = h.contentLength;
    this.chunked = h.chunked;
    this.upgrade = h.upgrade;
    this.seen = h.seen;
    this.forwardedForEnd = h.forwardedForLines === 1 ? h.forwardedForValueEnd : -1;
    const onlyConnection = h.hopByHopLines === 1 && h.connectionLineStart >= 0 && (h.connection & (UPGRADE | OTHER_TOKEN)) === 0;
    this.connectionLineStart = onlyConnection ? h.connectionLineStart : -1;
    this.connectionLineEnd = onlyConnection ? h.connectionLineEnd : -1;
    this.expectContinue = h.expectContinue;
  }
  get headers(): string[] {
    return this.h.headers;
  }
  get names(): readonly string[] {
    return this.h.names;
  }
  header(name: string, likely?: string): string | undefined {
    return this.h.header(name, likely);
  }
  get reason(): string {
    return this.reasonEnd > this.reasonStart ? this.h.text(this.reasonStart, this.reasonEnd) : '';
  }
}

const badStatusLine = () => new HttpError(502, 'bad_upstream_status', 'malformed upstream status line');
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;

export function parseResponseHead(buf: Buffer, start: number, end: number, limits: Limits = DEFAULT_LIMITS): ResponseHead {
  if (end - start > limits.maxHeadBytes) throw new HttpError(502, 'upstream_head_too_large', 'upstream response head too large');
  // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF.
  const minor = httpVersion(buf, start);
  const d = start + 9;
  if (minor < 0 || buf[start + 8] !== SP || !isDigit(buf[d]) || !isDigit(buf[d + 1]) || !isDigit(buf[d + 2])) throw badStatusLine();
  let eol = d + 3;
  const hasReason = buf[eol] === SP;
  if (hasReason) while (eol < end && buf[eol] !== CR && buf[eol] !== LF) eol++;
  if (buf[eol] !== CR || buf[eol + 1] !== LF) throw badStatusLine();
  // Upstream responses may carry more headers than clients may send.
  const h = scanHeaders(buf, eol + 2, end, limits.maxHeaders * 2);
  const status = (buf[d] - 0x30) * 100 + (buf[d + 1] - 0x30) * 10 + (buf[d + 2] - 0x30);
  // 000-099 is no status (RFC 9110 §15); read as a final response without a body, it would leave the real one behind as the next.
  if (status < 100) throw badStatusLine();
  const http10 = minor === 0;
  return new ParsedHead(h, http10, !http10 && (h.connection & CLOSE) === 0, '', '', status, d + 4, hasReason ? eol : d + 4);
}
