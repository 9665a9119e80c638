/**
 * Strict HTTP/1.1 head parsing. The head is read once as a latin1 string and split;
 * header names are lowercased, values trimmed. Anything ambiguous is refused rather
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
  /** Flat [name, value, name, value...], names lowercase. */
  readonly headers: string[];
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

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Visible ASCII, space, tab and obs-text; no CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const TARGET = /^[\x21-\x7e\x80-\xff]+$/;

/** End of the head (index after CRLFCRLF), -1 if incomplete. */
export function headEnd(buf: Buffer, from = 0): number {
  const i = buf.indexOf('\r\n\r\n', from, 'latin1');
  return i < 0 ? -1 : i + 4;
}

/** Header names seen before, validated and lowercased (a client sends the same few names on every request). */
const knownNames = new Map<string, string>();

interface ParsedHeaders {
  headers: string[];
  contentLength: number;
  chunked: boolean;
  keepAlive: boolean;
  upgrade: boolean;
  expectContinue: boolean;
  /** `connection` values, lowercase, comma-terminated (HTTP/1.0 keep-alive is decided from them). */
  connection: string;
}

function headerName(raw: string): string {
  let name = knownNames.get(raw);
  if (name !== undefined) return name;
  if (!TOKEN.test(raw)) throw new HttpError(400, 'bad_header', 'invalid header name');
  name = raw.toLowerCase();
  if (knownNames.size < 512) knownNames.set(raw, name);
  return name;
}

function parseHeaders(lines: string[], limits: Limits): ParsedHeaders {
  if (lines.length - 1 > limits.maxHeaders) throw new HttpError(431, 'too_many_headers', `more than ${limits.maxHeaders} headers`);
  const headers: string[] = [];
  let contentLength = -1;
  let te: string | undefined;
  let connection = '';
  let upgrade = false;
  let expectContinue = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.length === 0) continue;
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) throw new HttpError(400, 'obs_fold', 'obsolete line folding is not accepted');
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HttpError(400, 'bad_header', 'header line without a name');
    const name = headerName(line.slice(0, colon));
    const value = line.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value)) throw new HttpError(400, 'bad_header', 'invalid header value');
    if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) throw new HttpError(400, 'bad_content_length', 'invalid Content-Length');
      const n = Number(value);
      if (contentLength >= 0 && n !== contentLength) throw new HttpError(400, 'bad_content_length', 'conflicting Content-Length headers');
      if (contentLength >= 0) continue;
      contentLength = n;
    } else if (name === 'transfer-encoding') {
      te = te === undefined ? value.toLowerCase() : `${te}, ${value.toLowerCase()}`;
    } else if (name === 'connection') {
      connection += `${value.toLowerCase()},`;
    } else if (name === 'upgrade') {
      upgrade = true;
    } else if (name === 'expect') {
      if (value.toLowerCase() === '100-continue') expectContinue = true;
    }
    headers.push(name, value);
  }
  let chunked = false;
  if (te !== undefined) {
    if (contentLength >= 0) throw new HttpError(400, 'smuggling', 'both Content-Length and Transfer-Encoding');
    // Only "chunked" as the final (and here only) coding is accepted.
    if (te !== 'chunked') throw new HttpError(501, 'bad_transfer_encoding', `unsupported Transfer-Encoding "${te}"`);
    chunked = true;
  }
  return { headers, contentLength, chunked, keepAlive: !connection.includes('close'), upgrade: upgrade && connection.includes('upgrade'), expectContinue, connection };
}

export function parseRequestHead(buf: Buffer, start: number, end: number, limits: Limits = DEFAULT_LIMITS): RequestHead {
  if (end - start > limits.maxHeadBytes) throw new HttpError(431, 'head_too_large', 'request head too large');
  const lines = buf.toString('latin1', start, end - 4).split('\r\n');
  const first = lines[0];
  const sp1 = first.indexOf(' ');
  const sp2 = first.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 <= sp1) throw new HttpError(400, 'bad_request_line', 'malformed request line');
  const method = first.slice(0, sp1);
  const target = first.slice(sp1 + 1, sp2);
  const version = first.slice(sp2 + 1);
  if (!TOKEN.test(method) || !TARGET.test(target)) throw new HttpError(400, 'bad_request_line', 'malformed request line');
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') throw new HttpError(version.startsWith('HTTP/') ? 505 : 400, 'bad_version', `unsupported version "${version}"`);
  const h = parseHeaders(lines, limits);
  const http10 = version === 'HTTP/1.0';
  // One object literal of a fixed shape: the hot path sees a single hidden class.
  return {
    headers: h.headers,
    contentLength: h.contentLength,
    chunked: h.chunked,
    keepAlive: http10 ? h.connection.includes('keep-alive') : h.keepAlive,
    upgrade: h.upgrade,
    http10,
    method,
    target,
    expectContinue: h.expectContinue,
  };
}

export function parseResponseHead(buf: Buffer, start: number, end: number, limits: Limits = DEFAULT_LIMITS): ResponseHead {
  if (end - start > limits.maxHeadBytes) throw new HttpError(502, 'upstream_head_too_large', 'upstream response head too large');
  const lines = buf.toString('latin1', start, end - 4).split('\r\n');
  const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new HttpError(502, 'bad_upstream_status', 'malformed upstream status line');
  const h = parseHeaders(lines, limits.maxHeaders === DEFAULT_LIMITS.maxHeaders ? RESPONSE_LIMITS : { ...limits, maxHeaders: limits.maxHeaders * 2 });
  const http10 = m[1] === '0';
  return { headers: h.headers, contentLength: h.contentLength, chunked: h.chunked, keepAlive: http10 ? false : h.keepAlive, upgrade: h.upgrade, http10, status: Number(m[2]), reason: m[3] ?? '' };
}

/** Upstream responses may carry more headers than clients may send. */
const RESPONSE_LIMITS: Limits = { ...DEFAULT_LIMITS, maxHeaders: DEFAULT_LIMITS.maxHeaders * 2 };

export function findHeader(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}
