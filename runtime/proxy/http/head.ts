/**
 * Strict HTTP/1.1 head parsing in one pass over the bytes; header names are lowercased,
 * values trimmed of spaces and tabs. Anything ambiguous is refused rather
 * than guessed: both Content-Length and Transfer-Encoding, differing Content-Lengths,
 * obs-fold, bad characters (request smuggling defences).
 */

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

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

/**
 * Byte classes: 1 = a token character (method, header name); 2 = allowed in a field value (HTAB,
 * SP, VCHAR, obs-text); 4 = allowed in a request target (visible ASCII: a URI has no other bytes, and no
 * `#`: a fragment is never sent, RFC 9112 §3.2).
 */
const CLASS = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  const token = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b));
  const value = b === 9 || (b >= 0x20 && b !== 0x7f);
  const target = b > 0x20 && b < 0x7f && b !== 0x23;
  CLASS[b] = (token ? 1 : 0) | (value ? 2 : 0) | (target ? 4 : 0);
}
const CR = 13;
const LF = 10;
const SP = 32;
const HT = 9;
const COLON = 58;
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
/**
 * buf[s..e) as a one-byte string. Buffer#toString checks its arguments and picks the encoding on
 * every call; the latin1 slice it ends in is called directly where Node has it (every version so far).
 */
type Latin1Slicing = Buffer & { latin1Slice?: (start: number, end: number) => string };
export const latin1: (buf: Buffer, s: number, e: number) => string =
  typeof (Buffer.prototype as Latin1Slicing).latin1Slice === 'function' ? (buf, s, e) => (buf as Latin1Slicing).latin1Slice!(s, e) : (buf, s, e) => buf.toString('latin1', s, e);

/** The usual methods as constant strings: no string made per request for them. */
const METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'PATCH', 'OPTIONS'];

/**
 * The other methods a request may have: Node's llhttp knows these and no others (its
 * `http.METHODS`), and Envoy refuses methods outside its standard set unless
 * `allow_custom_methods`; a method only the proxy or only the app understood would be a
 * request the two read differently.
 */
const OTHER_METHODS = new Set(['ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'LINK', 'LOCK', 'M-SEARCH', 'MERGE', 'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE', 'NOTIFY', 'PROPFIND', 'PROPPATCH', 'PURGE', 'QUERY', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE', 'TRACE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE']);

function method(buf: Buffer, s: number, e: number): string {
  for (let k = 0; k < METHODS.length; k++) if (sameBytes(buf, s, e, METHODS[k])) return METHODS[k];
  const m = latin1(buf, s, e);
  // mast tunnels no CONNECT (Istio configures Envoy for none by default).
  if (m === 'CONNECT') throw new HttpError(501, 'connect_unsupported', 'CONNECT is not supported');
  if (!OTHER_METHODS.has(m)) throw new HttpError(400, 'unknown_method', `unknown method "${m}"`);
  return m;
}

/** Header names as a client or server usually sends them, recognised from their bytes without a string made for each line. */
const COMMON_NAMES = [
  'host', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'content-length', 'content-type', 'connection', 'transfer-encoding',
  'keep-alive', 'upgrade', 'expect', 'te', 'trailer', 'date', 'server', 'cookie', 'set-cookie', 'authorization', 'cache-control', 'origin',
  'referer', 'location', 'etag', 'last-modified', 'vary', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
  'traceparent', 'tracestate', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'b3', 'end-user', 'proxy-connection',
];
const NAMES_BY_LENGTH: string[][] = [];
for (const name of COMMON_NAMES) (NAMES_BY_LENGTH[name.length] ??= []).push(name);

/** Other names seen before, lowercased (a client sends the same few names on every request). */
const knownNames = new Map<string, string>();

/** The lowercase name of the (already validated) token buf[s..e). */
function headerName(buf: Buffer, s: number, e: number): string {
  const candidates = NAMES_BY_LENGTH[e - s];
  if (candidates !== undefined) {
    for (let k = 0; k < candidates.length; k++) if (sameToken(buf, s, e, candidates[k])) return candidates[k];
  }
  const raw = latin1(buf, s, e);
  const known = knownNames.get(raw);
  if (known !== undefined) return known;
  const name = raw.toLowerCase();
  if (knownNames.size < 512) knownNames.set(raw, name);
  return name;
}

/** Headers a head is checked for while it is scanned (`Head.seen`): hop-by-hop ones and the forwarding ones a proxy adds to. */
export const SEEN_HOP_BY_HOP = 1;
export const SEEN_X_FORWARDED_FOR = 2;
export const SEEN_X_REQUEST_ID = 4;
export const SEEN_X_FORWARDED_PROTO = 8;

/** Names that mark a SEEN_* bit, by length (a line's name is compared only with those of its length). */
const SEEN_BY_LENGTH: Array<Array<[string, number]>> = [];
for (const [name, bit] of [
  ['connection', SEEN_HOP_BY_HOP],
  ['keep-alive', SEEN_HOP_BY_HOP],
  ['proxy-connection', SEEN_HOP_BY_HOP],
  ['te', SEEN_HOP_BY_HOP],
  ['trailer', SEEN_HOP_BY_HOP],
  ['upgrade', SEEN_HOP_BY_HOP],
  ['http2-settings', SEEN_HOP_BY_HOP],
  ['x-forwarded-for', SEEN_X_FORWARDED_FOR],
  ['x-request-id', SEEN_X_REQUEST_ID],
  ['x-forwarded-proto', SEEN_X_FORWARDED_PROTO],
] as Array<[string, number]>)
  (SEEN_BY_LENGTH[name.length] ??= []).push([name, bit]);

/**
 * Header lines as offsets into the received bytes: a name or a value becomes a string only when
 * something asks for it (most requests are routed on a header or two; most responses pass
 * through whole, read only for their framing).
 */
class Headers {
  /** The k-th line's name is buf[spans[4k], spans[4k+1]), its value buf[spans[4k+2], spans[4k+3]). */
  private readonly spans: number[] = [];
  private lowerNames: string[] | undefined = undefined;
  private flat: string[] | undefined = undefined;
  contentLength = -1;
  te: string | undefined = undefined;
  /** The `connection` tokens seen: CLOSE, KEEP_ALIVE, UPGRADE bits. */
  connection = 0;
  upgradeHeader = false;
  expectContinue = false;
  /** SEEN_* bits. */
  seen = 0;
  /** Host lines seen (a request must have at most one, RFC 9112 §3.2). */
  hosts = 0;

  constructor(private readonly buf: Buffer) {}

  add(ns: number, ne: number, vs: number, ve: number): void {
    this.spans.push(ns, ne, vs, ve);
  }

  get names(): string[] {
    if (this.lowerNames) return this.lowerNames;
    const names: string[] = [];
    for (let k = 0; k < this.spans.length; k += 4) names.push(headerName(this.buf, this.spans[k], this.spans[k + 1]));
    return (this.lowerNames = names);
  }

  get headers(): string[] {
    if (this.flat) return this.flat;
    const names = this.names;
    const flat: string[] = [];
    for (let k = 0; k < names.length; k++) flat.push(names[k], this.value(k));
    return (this.flat = flat);
  }

  header(name: string, likely?: string): string | undefined {
    if (this.flat) return findHeader(this.flat, name);
    const spans = this.spans;
    for (let k = 0; k < spans.length; k += 4) {
      if (!sameToken(this.buf, spans[k], spans[k + 1], name)) continue;
      return likely !== undefined && sameBytes(this.buf, spans[k + 2], spans[k + 3], likely) ? likely : this.value(k / 4);
    }
    return undefined;
  }

  private value(k: number): string {
    return latin1(this.buf, this.spans[4 * k + 2], this.spans[4 * k + 3]);
  }

  /** Other bytes of the same head, e.g. a reason phrase. */
  text(start: number, end: number): string {
    return latin1(this.buf, start, end);
  }

  get chunked(): boolean {
    if (this.te === undefined) return false;
    if (this.contentLength >= 0) throw new HttpError(400, 'smuggling', 'both Content-Length and Transfer-Encoding');
    // Only "chunked" as the final (and here only) coding is accepted.
    if (this.te !== 'chunked') throw new HttpError(501, 'bad_transfer_encoding', `unsupported Transfer-Encoding "${this.te}"`);
    return true;
  }

  get upgrade(): boolean {
    return this.upgradeHeader && (this.connection & UPGRADE) !== 0;
  }
}

const CLOSE = 1;
const KEEP_ALIVE = 2;
const UPGRADE = 4;

/** Whether buf[s..e) is `lower` in any case. */
function sameToken(buf: Buffer, s: number, e: number, lower: string): boolean {
  if (e - s !== lower.length) return false;
  for (let j = 0; j < lower.length; j++) {
    let b = buf[s + j];
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b !== lower.charCodeAt(j)) return false;
  }
  return true;
}

/** Whether buf[s..e) is exactly `str` (a one-byte string). */
function sameBytes(buf: Buffer, s: number, e: number, str: string): boolean {
  if (e - s !== str.length) return false;
  for (let j = 0; j < str.length; j++) if (buf[s + j] !== str.charCodeAt(j)) return false;
  return true;
}

/** The tokens of a `connection` value at buf[s..e) (a comma-separated list) that matter here, as bits. */
function connectionTokens(buf: Buffer, s: number, e: number): number {
  let bits = 0;
  let i = s;
  while (i < e) {
    while (i < e && (buf[i] === SP || buf[i] === HT || buf[i] === 0x2c)) i++;
    const ts = i;
    while (i < e && buf[i] !== 0x2c) i++;
    let te = i;
    while (te > ts && (buf[te - 1] === SP || buf[te - 1] === HT)) te--;
    const len = te - ts;
    if (len === 5 && sameToken(buf, ts, te, 'close')) bits |= CLOSE;
    else if (len === 10 && sameToken(buf, ts, te, 'keep-alive')) bits |= KEEP_ALIVE;
    else if (len === 7 && sameToken(buf, ts, te, 'upgrade')) bits |= UPGRADE;
  }
  return bits;
}

/** Content-Length digits at buf[s..e) (1 to 15 of them): the number, or -1. */
function lengthValue(buf: Buffer, s: number, e: number): number {
  if (e <= s || e - s > 15) return -1;
  let n = 0;
  for (let i = s; i < e; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Header lines from `i` (the start of the first one) to `end` (just past the blank line), one
 * pass over the bytes: names must be tokens, values visible characters, space, tab or obs-text;
 * a line starting with whitespace (obs-fold) or without a colon is refused.
 */
function scanHeaders(buf: Buffer, i: number, end: number, maxHeaders: number): Headers {
  const out = new Headers(buf);
  const last = end - 2;
  let count = 0;
  while (i < last) {
    const c0 = buf[i];
    if (c0 === SP || c0 === HT) throw new HttpError(400, 'obs_fold', 'obsolete line folding is not accepted');
    if (++count > maxHeaders) throw new HttpError(431, 'too_many_headers', `more than ${maxHeaders} headers`);
    const ns = i;
    while (CLASS[buf[i]] & 1) i++;
    if (buf[i] !== COLON || i === ns) {
      let colon = i;
      while (colon < last && buf[colon] !== COLON && buf[colon] !== LF) colon++;
      throw new HttpError(400, 'bad_header', colon > ns && buf[colon] === COLON ? 'invalid header name' : 'header line without a name');
    }
    const ne = i;
    i++;
    while (buf[i] === SP || buf[i] === HT) i++;
    const vs = i;
    while (CLASS[buf[i]] & 2) i++;
    if (buf[i] !== CR || buf[i + 1] !== LF) throw new HttpError(400, 'bad_header', 'invalid header value');
    let ve = i;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HT)) ve--;
    i += 2;
    // Names are compared only when their length matches one that matters here.
    const len = ne - ns;
    const marks = SEEN_BY_LENGTH[len];
    if (marks !== undefined) for (let k = 0; k < marks.length; k++) if (sameToken(buf, ns, ne, marks[k][0])) out.seen |= marks[k][1];
    if (len === 14 && sameToken(buf, ns, ne, 'content-length')) {
      if (tabAfter(buf, ve, i - 2)) throw new HttpError(400, 'bad_content_length', 'invalid Content-Length');
      const n = lengthValue(buf, vs, ve);
      if (n < 0) throw new HttpError(400, 'bad_content_length', 'invalid Content-Length');
      // Even an equal repeat is refused (as llhttp does): a recipient that joined them as "7, 7" would not see a length at all.
      if (out.contentLength >= 0) throw new HttpError(400, 'bad_content_length', 'more than one Content-Length header');
      out.contentLength = n;
    } else if (len === 17 && sameToken(buf, ns, ne, 'transfer-encoding')) {
      if (tabAfter(buf, ve, i - 2)) throw new HttpError(400, 'bad_transfer_encoding', 'invalid Transfer-Encoding');
      const value = latin1(buf, vs, ve).toLowerCase();
      out.te = out.te === undefined ? value : `${out.te}, ${value}`;
    } else if (len === 10 && sameToken(buf, ns, ne, 'connection')) out.connection |= connectionTokens(buf, vs, ve);
    // h2c is never an upgrade here (as Envoy's HTTP/1 codec): the request goes on as plain HTTP/1.1,
    // its Upgrade and HTTP2-Settings dropped as hop-by-hop; an upstream that switched anyway would
    // take the client's later bytes unparsed.
    else if (len === 7 && sameToken(buf, ns, ne, 'upgrade')) out.upgradeHeader ||= !sameToken(buf, vs, ve, 'h2c');
    else if (len === 4 && sameToken(buf, ns, ne, 'host')) out.hosts++;
    else if (len === 6 && sameToken(buf, ns, ne, 'expect') && sameToken(buf, vs, ve, '100-continue')) out.expectContinue = true;
    out.add(ns, ne, vs, ve);
  }
  return out;
}

/**
 * A tab in the whitespace after a framing header's value (buf[s..e)). RFC 9110 allows it as OWS,
 * but llhttp refuses it after Content-Length and Transfer-Encoding: a server behind us might too,
 * or read the value differently, and framing is where a disagreement becomes smuggling.
 */
function tabAfter(buf: Buffer, s: number, e: number): boolean {
  for (let j = s; j < e; j++) if (buf[j] === HT) return true;
  return false;
}

/** `HTTP/1.` then `0` or `1` at buf[i..i+8): the minor version, or -1. */
function httpVersion(buf: Buffer, i: number): number {
  if (buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 || buf[i + 3] !== 0x50 || buf[i + 4] !== 0x2f || buf[i + 5] !== 0x31 || buf[i + 6] !== 0x2e) return -1;
  const minor = buf[i + 7];
  return minor === 0x30 ? 0 : minor === 0x31 ? 1 : -1;
}

const badRequestLine = () => new HttpError(400, 'bad_request_line', 'malformed request line');

/** `likelyTarget`: the target string to reuse if this request's is the same (a client repeating a request on a connection). */
export function parseRequestHead(buf: Buffer, start: number, end: number, limits: Limits = DEFAULT_LIMITS, likelyTarget?: string): RequestHead {
  if (end - start > limits.maxHeadBytes) throw new HttpError(431, 'head_too_large', 'request head too large');
  // Request line: method SP target SP version CRLF.
  let i = start;
  while (CLASS[buf[i]] & 1) i++;
  if (i === start || buf[i] !== SP) throw badRequestLine();
  const ts = i + 1;
  i = ts;
  while (CLASS[buf[i]] & 4) i++;
  if (i === ts || buf[i] !== SP) throw buf[i] === 0x23 ? new HttpError(400, 'fragment_in_target', 'a fragment (#) in the request target') : badRequestLine();
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

function findHeader(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}
