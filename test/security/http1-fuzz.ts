/**
 * The differential fuzz of mast's HTTP/1.1 request parsing against Node's llhttp (a
 * `node:http` server with its default, strict settings): inputs generated from valid requests
 * by seeded mutations, each read by both; the property is that every input llhttp rejects,
 * mast does not accept, and that where both accept they see the same requests (count, method,
 * target, body length: the message boundaries request smuggling lives on).
 * Used by fuzz-http1.test.ts (bounded) and `npm run fuzz` (long).
 */
import * as http from 'node:http';
import { Duplex } from 'node:stream';
import { BodyFraming } from '../../runtime/proxy/http/body';
import { CONNECT_NO_ROUTE } from '../../runtime/proxy/http/bytes';
import { ChunkedError } from '../../runtime/proxy/http/chunked';
import { DEFAULT_LIMITS, headEnd, HttpError, parseRequestHead } from '../../runtime/proxy/http/head';
import { normalizePath } from '../../runtime/proxy/http/normalize-path';
import { nonOriginTarget } from '../../runtime/proxy/http/request-target';
import { seededRandom as rng } from '../support/seeded-random';

export interface SeenRequest {
  readonly method: string;
  readonly target: string;
  readonly bodyLength: number;
}

/** accept: every byte read as whole requests; incomplete: waiting for more (nothing wrong yet); reject: refused, with the code. */
export interface Verdict {
  readonly kind: 'accept' | 'incomplete' | 'reject';
  readonly code?: string;
  readonly requests: SeenRequest[];
  /** Reading stopped at an upgrade (the rest is not HTTP). */
  readonly upgraded?: boolean;
  /**
   * Node's server (not llhttp) answered a parsed request itself, e.g. 417 for an unknown
   * Expect or 400 for a missing Host: server policy, not the parser's reading of the bytes.
   */
  readonly nodeAnswered?: boolean;
}

/** The length of a body as mast forwards it (its own chunked framing: sizes and data only). */
export function dechunkedLength(bytes: Buffer): number {
  let n = 0;
  let i = 0;
  for (;;) {
    const eol = bytes.indexOf('\r\n', i, 'latin1');
    const size = parseInt(bytes.toString('latin1', i, eol), 16);
    if (!(size >= 0) || eol < 0)
      throw new Error(`mast forwarded a chunk line it should not have: ${JSON.stringify(bytes.toString('latin1', i, i + 20))}`);
    if (size === 0) return n;
    n += size;
    i = eol + 2 + size + 2;
  }
}

/**
 * What mast-proxy's downstream connection does with these bytes, step by step as in
 * DownstreamConn.parseNext/onBody (the same parser, target checks, normalization, framing).
 */
export function mastVerdict(input: Buffer): Verdict {
  const requests: SeenRequest[] = [];
  let buf = input;
  try {
    while (buf.length > 0) {
      const end = headEnd(buf);
      if (end < 0) {
        if (buf.length > DEFAULT_LIMITS.maxHeadBytes) return { kind: 'reject', code: 'head_too_large', requests };
        return { kind: 'incomplete', requests };
      }
      const head = parseRequestHead(buf, 0, end, DEFAULT_LIMITS);
      // No route takes a CONNECT: refused (404) and the connection closed, before its target is read.
      if (head.method === 'CONNECT') throw new HttpError(404, CONNECT_NO_ROUTE, 'no route');
      let authority = head.header('host') ?? '';
      let target = head.target;
      if (target.charCodeAt(0) !== 47) {
        const t = nonOriginTarget(head.method, target);
        if (t.authority !== undefined) {
          if (head.header('host') === undefined && !head.http10) throw new HttpError(400, 'missing_host', 'missing Host header');
          authority = t.authority;
        }
        target = t.path;
      }
      if (target !== '*') normalizePath(target, 'BASE');
      if (!authority && !head.http10) throw new HttpError(400, 'missing_host', 'missing Host header');
      const framing = BodyFraming.forRequest(head);
      buf = buf.subarray(end);
      let bodyLength = 0;
      if (!framing.done) {
        const e = framing.consume(buf, 0, buf.length);
        const forwarded = framing.forwarded(buf, 0, e);
        if (!framing.done)
          return { kind: 'incomplete', requests: [...requests, { method: head.method, target: head.target, bodyLength: -1 }] };
        bodyLength = head.chunked ? dechunkedLength(forwarded) : forwarded.length;
        buf = buf.subarray(e);
      }
      requests.push({ method: head.method, target: head.target, bodyLength });
      if (head.upgrade) return { kind: 'accept', requests, upgraded: true };
      // Not keep-alive (HTTP/1.0 by default, or Connection: close): the proxy closes the connection after its
      // response (DownstreamConn.finished) and never reads what follows; llhttp refuses it (HPE_CLOSED_CONNECTION).
      if (!head.keepAlive && buf.length > 0) return { kind: 'reject', code: 'after_connection_close', requests };
    }
    return { kind: 'accept', requests };
  } catch (err) {
    if (err instanceof HttpError) return { kind: 'reject', code: err.code, requests };
    if (err instanceof ChunkedError) return { kind: 'reject', code: `chunked: ${err.message}`, requests };
    throw err;
  }
}

/** Node's llhttp, through a real `http.Server` (default options) fed over an in-memory socket. */
export class LlhttpOracle {
  private readonly server = http.createServer();
  private readonly states = new Map<Duplex, { requests: SeenRequest[]; error?: string; upgraded?: boolean; written: string }>();

  constructor() {
    this.server.on('request', (req, res) => {
      const st = this.states.get(req.socket as unknown as Duplex);
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('error', () => undefined);
      req.on('end', () => {
        st?.requests.push({ method: req.method!, target: req.url!, bodyLength: n });
        res.end();
      });
    });
    this.server.on('upgrade', (req, socket) => {
      const st = this.states.get(socket as unknown as Duplex);
      st?.requests.push({ method: req.method!, target: req.url!, bodyLength: 0 });
      if (st) st.upgraded = true;
      socket.destroy();
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const st = this.states.get(socket as unknown as Duplex);
      if (st && !st.error) st.error = err.code ?? 'error';
      socket.destroy();
    });
  }

  async verdict(input: Buffer): Promise<Verdict> {
    const st: { requests: SeenRequest[]; error?: string; upgraded?: boolean; written: string } = { requests: [], written: '' };
    const socket = new Duplex({
      read() {},
      write(c: Buffer, _e, cb) {
        st.written += c.toString('latin1');
        cb();
      },
      final(cb) {
        cb();
      },
    });
    Object.assign(socket, {
      remoteAddress: '127.0.0.1',
      remotePort: 1,
      setTimeout: () => socket,
      setNoDelay: () => socket,
      setKeepAlive: () => socket,
    });
    this.states.set(socket, st);
    this.server.emit('connection', socket);
    socket.push(input);
    socket.push(null);
    // The parser runs on 'data' (next ticks); bodies end on later ones: a few turns of the loop settle it.
    for (let k = 0; k < 4; k++) await new Promise((r) => setImmediate(r));
    this.states.delete(socket);
    socket.destroy();
    // Our handler answers 200; any other status line is Node's own answer.
    const nodeAnswered = /HTTP\/1\.1 (?!200)\d{3}/.test(st.written);
    if (st.upgraded) return { kind: 'accept', requests: st.requests, upgraded: true, nodeAnswered };
    // Input that ends mid-message is not a verdict on the bytes themselves.
    if (st.error === 'HPE_INVALID_EOF_STATE') return { kind: 'incomplete', requests: st.requests };
    if (st.error) return { kind: 'reject', code: st.error, requests: st.requests };
    return { kind: 'accept', requests: st.requests, nodeAnswered };
  }

  close(): void {
    this.server.close();
  }
}

/** mulberry32 (test/support/seeded-random.ts): a failing case is reproduced from its seed. */
export { rng };

export const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

export function chunkedBody(r: () => number): string {
  let body = '';
  const n = 1 + Math.floor(r() * 3);
  for (let k = 0; k < n; k++) {
    const data = 'abcdefghijklmnop'.slice(0, 1 + Math.floor(r() * 12));
    const ext = r() < 0.3 ? pick(r, [';a', ';a=b', ';name="quoted value"', ';x=1;y', ';q="a\\"b"']) : '';
    body += `${data.length.toString(16)}${ext}\r\n${data}\r\n`;
  }
  const trailers =
    r() < 0.4 ? pick(r, ['X-Checksum: abc\r\n', 'A: 1\r\nB: two words\r\n', 'Expires: Wed, 21 Oct 2015 07:28:00 GMT\r\n']) : '';
  return `${body}0\r\n${trailers}\r\n`;
}

function baseRequest(r: () => number): string {
  const host = 'Host: alpha.example.com\r\n';
  switch (Math.floor(r() * 6)) {
    case 0:
      return `GET /a/b?c=d HTTP/1.1\r\n${host}User-Agent: fuzz\r\nAccept: */*\r\n\r\n`;
    case 1: {
      const body = 'hello=world&x=1'.slice(0, Math.floor(r() * 15));
      return `POST /submit HTTP/1.1\r\n${host}Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    }
    case 2:
      return `POST /upload HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n${chunkedBody(r)}`;
    case 3:
      return `GET http://alpha.example.com/x HTTP/1.1\r\n${host}\r\n`;
    case 4:
      return `GET / HTTP/1.0\r\n\r\n`;
    default:
      return `PUT /p HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\nX-A: 1\r\n\r\n${chunkedBody(r)}`;
  }
}

const INTERESTING_BYTES = [
  0x00, 0x01, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x7f, 0x80, 0xff, 0x3a, 0x3b, 0x22, 0x5c, 0x3d, 0x2c, 0x23, 0x25, 0x3f, 0x2f, 0x30,
  0x66,
];
const LINE_ENDS = ['\n', '\r', '\n\r', '\r\r\n', '\r\n ', '\r\n\t', '\r\n\r\n', ''];
const HEADER_LINES = [
  'Content-Length: 5',
  'Content-Length: 0',
  'Content-Length: -1',
  'Content-Length: 1 2',
  'Content-Length: +3',
  'Content-Length: 0x5',
  'Content-Length: 3, 3',
  'Content-Length: 99999999999999999999',
  'Content-Length:  7 ',
  'Content-Length: 5\t',
  'Content-Length:\t5',
  'Transfer-Encoding: chunked\t',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: Chunked',
  'Transfer-Encoding: chunked, identity',
  'Transfer-Encoding: identity, chunked',
  'Transfer-Encoding: xchunked',
  'Transfer-Encoding : chunked',
  ' Transfer-Encoding: chunked',
  'Transfer-Encoding:\tchunked',
  'Transfer-Encoding: chunked\x0b',
  'Transfer-Encoding: gzip',
  'Host: b.example.com',
  'Connection: close',
  'Connection: keep-alive, Upgrade',
  'Expect: 100-continue',
  'Upgrade: h2c',
  'Upgrade: websocket',
  'X: a\x00b',
  'X\x00: a',
  'X y: a',
  ': a',
  'X:',
  `X-Long: ${'v'.repeat(200)}`,
  'Trailer: X-Checksum',
  'TE: trailers',
];
const CHUNK_SIZES = [
  '0x5',
  ' 5',
  '5 ',
  '+5',
  '-5',
  '05',
  '5;',
  '5;a=',
  '5;a b',
  '5;a="x',
  'ffffffffffffffffff',
  '5\x00',
  '5\t;a',
  '5;a="\x01"',
  '0',
  '00000000000000005',
  'g',
];
const VERSIONS = ['HTTP/1.2', 'HTTP/2.0', 'http/1.1', 'HTTP/1.1 ', 'HTTP/01.1', 'HTTP/1.1\x00', 'HTTP/1.', 'HTTP /1.1', 'HTTP/1.0'];
const METHODS = ['GET ', 'G ET', 'get', 'FOO', 'GET\t', 'PROPFIND', 'CONNECT', 'OPTIONS', 'M-SEARCH', 'PRI', 'DELETE'];
const TARGETS = [
  '/a b',
  '/a\x7f',
  '/a%00',
  '*',
  'http://a.example.com/b',
  '//',
  '/a#b',
  'a',
  '/a\\b',
  '/%2e%2e/x',
  'HTTP://x/',
  'http://u@x/',
  '/\xff',
  '/a?b#c',
  'x.example.com:443',
];

/** One generated input: a valid request (or two, pipelined), then one to three mutations. */
export function generate(r: () => number): Buffer {
  let s = baseRequest(r);
  if (r() < 0.3) s += baseRequest(r);
  const mutations = 1 + Math.floor(r() * 3);
  for (let m = 0; m < mutations; m++) s = mutate(r, s);
  return Buffer.from(s, 'latin1');
}

export function mutate(r: () => number, s: string): string {
  const at = Math.floor(r() * (s.length + 1));
  switch (Math.floor(r() * 10)) {
    case 0: {
      // A CRLF somewhere becomes another line ending (bare LF, bare CR, obs-fold...).
      const crlfs = [...s.matchAll(/\r\n/g)].map((m) => m.index!);
      if (!crlfs.length) return s;
      const i = pick(r, crlfs);
      return s.slice(0, i) + pick(r, LINE_ENDS) + s.slice(i + 2);
    }
    case 1:
      return s.slice(0, at) + String.fromCharCode(pick(r, INTERESTING_BYTES)) + s.slice(at);
    case 2:
      return s.slice(0, at) + s.slice(at + 1);
    case 3:
      return s.slice(0, at) + String.fromCharCode(pick(r, INTERESTING_BYTES)) + s.slice(at + 1);
    case 4: {
      // A header line inserted after the request line (or after another header).
      const lines = [...s.matchAll(/\r\n/g)].map((m) => m.index! + 2);
      const heads = lines.filter((i) => i < (s.indexOf('\r\n\r\n') + 2 || s.length));
      if (!heads.length) return s;
      const i = pick(r, heads);
      return `${s.slice(0, i)}${pick(r, HEADER_LINES)}\r\n${s.slice(i)}`;
    }
    case 5: {
      // A chunk size line replaced.
      const sizes = [...s.matchAll(/\r\n([0-9a-f]+(?:;[^\r\n]*)?)\r\n/g)].filter((m) => m.index! > s.indexOf('\r\n\r\n'));
      if (!sizes.length) return s;
      const m = pick(r, sizes);
      const i = m.index! + 2;
      return s.slice(0, i) + pick(r, CHUNK_SIZES) + s.slice(i + m[1].length);
    }
    case 6: {
      // The version of a request line.
      const i = s.indexOf('HTTP/1.');
      return i < 0 ? s : s.slice(0, i) + pick(r, VERSIONS) + s.slice(i + 8);
    }
    case 7: {
      const sp = s.indexOf(' ');
      return sp < 0 ? s : pick(r, METHODS) + s.slice(sp);
    }
    case 8: {
      const a = s.indexOf(' ');
      const b = s.indexOf(' ', a + 1);
      return a < 0 || b < 0 ? s : s.slice(0, a + 1) + pick(r, TARGETS) + s.slice(b);
    }
    default: {
      // A line repeated (duplicate headers, duplicate chunk lines).
      const starts = [0, ...[...s.matchAll(/\r\n/g)].map((m) => m.index! + 2)];
      const i = pick(r, starts);
      const e = s.indexOf('\r\n', i);
      return e < 0 ? s : s.slice(0, e + 2) + s.slice(i, e + 2) + s.slice(e + 2);
    }
  }
}

export interface FuzzReport {
  readonly cases: number;
  /** llhttp rejected, mast accepted: the property broken. */
  readonly failures: Array<{ input: string; llhttp: Verdict; mast: Verdict }>;
  /** Both accepted but saw different requests: the property broken too. */
  readonly mismatches: Array<{ input: string; llhttp: Verdict; mast: Verdict }>;
  /** How often each side rejected what the other accepted, by code (for the record: mast is stricter in places). */
  readonly onlyMastRejects: Record<string, number>;
  readonly bothReject: number;
  readonly bothAccept: number;
}

const same = (a: SeenRequest[], b: SeenRequest[]) =>
  a.length === b.length && a.every((x, i) => x.method === b[i].method && x.target === b[i].target && x.bodyLength === b[i].bodyLength);

export async function fuzz(seed: number, cases: number, oracle = new LlhttpOracle()): Promise<FuzzReport> {
  const r = rng(seed);
  const failures: FuzzReport['failures'] = [];
  const mismatches: FuzzReport['mismatches'] = [];
  const onlyMastRejects: Record<string, number> = {};
  let bothReject = 0;
  let bothAccept = 0;
  for (let k = 0; k < cases; k++) {
    const input = generate(r);
    const [ll, mast] = [await oracle.verdict(input), mastVerdict(input)];
    const text = input.toString('latin1');
    if (ll.kind === 'reject') {
      if (mast.kind === 'accept') failures.push({ input: text, llhttp: ll, mast });
      else bothReject++;
    } else if (ll.kind === 'accept') {
      if (mast.kind === 'reject') onlyMastRejects[mast.code!] = (onlyMastRejects[mast.code!] ?? 0) + 1;
      else if (mast.kind === 'accept') {
        bothAccept++;
        // After an upgrade only the requests up to it are comparable (h2c is an upgrade to llhttp, not to mast),
        // and the upgrade request's body is the new protocol's to Node; where Node's server answered a request
        // itself (server policy, not parsing), it never showed it.
        const n = Math.min(ll.requests.length, mast.requests.length);
        const heads = (xs: SeenRequest[]) => xs.slice(0, n).map((x) => ({ ...x, bodyLength: 0 }));
        const comparable =
          ll.nodeAnswered ||
          (ll.upgraded || mast.upgraded ? same(heads(ll.requests), heads(mast.requests)) : same(ll.requests, mast.requests));
        if (!comparable) mismatches.push({ input: text, llhttp: ll, mast });
      }
    }
  }
  return { cases, failures, mismatches, onlyMastRejects, bothReject, bothAccept };
}
