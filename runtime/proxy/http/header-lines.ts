/**
 * The header lines of a head, scanned once into offsets: names lowercased without a string made for
 * the usual ones, values validated, the framing headers (Content-Length, Transfer-Encoding,
 * Connection) read strictly, the headers a proxy acts on noted as SEEN_* bits.
 */
import { CLASS, COLON, CR, HT, HttpError, latin1, LF, sameBytes, sameToken, SP } from './bytes';

/** Header names as a client or server usually sends them, recognised from their bytes without a string made for each line. */
const COMMON_NAMES = [
  'host',
  'user-agent',
  'accept',
  'accept-encoding',
  'accept-language',
  'content-length',
  'content-type',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'date',
  'server',
  'cookie',
  'set-cookie',
  'authorization',
  'cache-control',
  'origin',
  'referer',
  'location',
  'etag',
  'last-modified',
  'vary',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'traceparent',
  'tracestate',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'b3',
  'end-user',
  'proxy-connection',
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

/**
 * Header lines as offsets into the received bytes: a name or a value becomes a string only when
 * something asks for it (most requests are routed on a header or two; most responses pass
 * through whole, read only for their framing).
 */
export class Headers {
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
  /** x-forwarded-for lines seen, and where the first one's value ends (-1 when it is empty). */
  forwardedForLines = 0;
  forwardedForValueEnd = -1;
  /** Hop-by-hop lines seen (SEEN_HOP_BY_HOP), and the last `connection` line, from its name to past its CRLF. */
  hopByHopLines = 0;
  connectionLineStart = -1;
  connectionLineEnd = -1;

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

export const CLOSE = 1;
export const KEEP_ALIVE = 2;
export const UPGRADE = 4;
/** A token naming a header (hop-by-hop from then on, RFC 9110 §7.6.1), or any other. */
export const OTHER_TOKEN = 8;

/** The tokens of a `connection` value at buf[s..e) (a comma-separated list) that matter here, as bits. */
function connectionTokens(buf: Buffer, s: number, e: number): number {
  // The usual values whole (one comparison): then no list to walk.
  if (sameToken(buf, s, e, 'keep-alive')) return KEEP_ALIVE;
  if (sameToken(buf, s, e, 'close')) return CLOSE;
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
    else if (len > 0) bits |= OTHER_TOKEN;
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
export function scanHeaders(buf: Buffer, i: number, end: number, maxHeaders: number): Headers {
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
    // The names that matter here, each compared only when its length matches (a literal name: the
    // comparison compiles to a few byte checks); the hop-by-hop ones are RFC 9110 §7.6.1's and h2c's.
    switch (ne - ns) {
      case 2:
        if (sameToken(buf, ns, ne, 'te')) hopByHop(out);
        break;
      case 4:
        if (sameToken(buf, ns, ne, 'host')) out.hosts++;
        break;
      case 6:
        if (sameToken(buf, ns, ne, 'expect') && sameToken(buf, vs, ve, '100-continue')) out.expectContinue = true;
        break;
      case 7:
        // h2c is never an upgrade here (as Envoy's HTTP/1 codec): the request goes on as plain HTTP/1.1,
        // its Upgrade and HTTP2-Settings dropped as hop-by-hop; an upstream that switched anyway would
        // take the client's later bytes unparsed.
        if (sameToken(buf, ns, ne, 'upgrade')) {
          hopByHop(out);
          out.upgradeHeader ||= !sameToken(buf, vs, ve, 'h2c');
        } else if (sameToken(buf, ns, ne, 'trailer')) hopByHop(out);
        break;
      case 10:
        if (sameToken(buf, ns, ne, 'connection')) {
          hopByHop(out);
          out.connection |= connectionTokens(buf, vs, ve);
          out.connectionLineStart = ns;
          out.connectionLineEnd = i;
        } else if (sameToken(buf, ns, ne, 'keep-alive')) hopByHop(out);
        break;
      case 12:
        if (sameToken(buf, ns, ne, 'x-request-id')) out.seen |= SEEN_X_REQUEST_ID;
        break;
      case 14:
        if (sameToken(buf, ns, ne, 'content-length')) {
          if (tabAfter(buf, ve, i - 2)) throw new HttpError(400, 'bad_content_length', 'invalid Content-Length');
          const n = lengthValue(buf, vs, ve);
          if (n < 0) throw new HttpError(400, 'bad_content_length', 'invalid Content-Length');
          // Even an equal repeat is refused (as llhttp does): a recipient that joined them as "7, 7" would not see a length at all.
          if (out.contentLength >= 0) throw new HttpError(400, 'bad_content_length', 'more than one Content-Length header');
          out.contentLength = n;
        } else if (sameToken(buf, ns, ne, 'http2-settings')) hopByHop(out);
        break;
      case 15:
        if (sameToken(buf, ns, ne, 'x-forwarded-for')) {
          out.seen |= SEEN_X_FORWARDED_FOR;
          if (out.forwardedForLines++ === 0 && ve > vs) out.forwardedForValueEnd = ve;
        }
        break;
      case 16:
        if (sameToken(buf, ns, ne, 'proxy-connection')) hopByHop(out);
        break;
      case 17:
        if (sameToken(buf, ns, ne, 'transfer-encoding')) {
          if (tabAfter(buf, ve, i - 2)) throw new HttpError(400, 'bad_transfer_encoding', 'invalid Transfer-Encoding');
          const value = latin1(buf, vs, ve).toLowerCase();
          out.te = out.te === undefined ? value : `${out.te}, ${value}`;
        } else if (sameToken(buf, ns, ne, 'x-forwarded-proto')) out.seen |= SEEN_X_FORWARDED_PROTO;
        break;
    }
    out.add(ns, ne, vs, ve);
  }
  return out;
}

/** A hop-by-hop line (SEEN_HOP_BY_HOP), counted. */
function hopByHop(out: Headers): void {
  out.seen |= SEEN_HOP_BY_HOP;
  out.hopByHopLines++;
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

function findHeader(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}
