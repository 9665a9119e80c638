/**
 * The response side of the differential fuzz: upstream responses (generated, mutated) read by
 * mast as the relay (runtime/proxy/request/relay.ts) reads them and by Node's llhttp as an HTTP client (`http.request`
 * over an in-memory socket). What an upstream sends must never reach the client as something
 * llhttp would have refused: every response llhttp fails to read whole, mast refuses too, and
 * where both read it they agree on status and body length.
 */
import * as http from 'node:http';
import { Duplex } from 'node:stream';
import { BodyFraming } from '../../runtime/proxy/http/body';
import { ChunkedError } from '../../runtime/proxy/http/chunked';
import { headEnd, HttpError, parseResponseHead } from '../../runtime/proxy/http/head';
import { chunkedBody, dechunkedLength, mutate, pick, rng } from './http1-fuzz';

export interface ResponseVerdict {
  readonly kind: 'accept' | 'incomplete' | 'reject';
  readonly code?: string;
  readonly status?: number;
  readonly bodyLength?: number;
}

/** mast, as Relay.onData: 1xx skipped, a 101 nobody asked for refused (502), the final response framed strictly. */
export function mastResponseVerdict(input: Buffer, method: string): ResponseVerdict {
  let buf = input;
  try {
    for (;;) {
      const end = headEnd(buf);
      if (end < 0) return { kind: 'incomplete' };
      const head = parseResponseHead(buf, 0, end);
      if (head.status === 101) return { kind: 'reject', code: 'unrequested_101' };
      buf = buf.subarray(end);
      if (head.status < 200) {
        if (!head.keepAlive) return { kind: 'reject', code: 'informational_closes' };
        continue;
      }
      const framing = BodyFraming.forResponse(head, method);
      if (framing.done) return { kind: 'accept', status: head.status, bodyLength: 0 };
      const e = framing.consume(buf, 0, buf.length);
      if (framing.untilClose) return { kind: 'accept', status: head.status, bodyLength: buf.length };
      if (!framing.done) return { kind: 'incomplete' };
      const forwarded = framing.forwarded(buf, 0, e);
      // Bytes after the response (e < buf.length) are not forwarded: the connection is retired (Relay.overrun).
      return { kind: 'accept', status: head.status, bodyLength: head.chunked ? dechunkedLength(forwarded) : forwarded.length };
    }
  } catch (err) {
    if (err instanceof HttpError) return { kind: 'reject', code: err.code };
    if (err instanceof ChunkedError) return { kind: 'reject', code: `chunked: ${err.message}` };
    throw err;
  }
}

/** llhttp as Node's HTTP client reads it. `complete`: the response ended whole before any error (an error after it is about bytes past its end). */
export function llhttpResponseVerdict(input: Buffer, method: string): Promise<ResponseVerdict & { complete: boolean }> {
  return new Promise((resolve) => {
    let status = 0;
    let body = 0;
    let ended = false;
    let code: string | undefined;
    const socket = new Duplex({
      read() {},
      write(_c, _e, cb) {
        cb();
      },
      final(cb) {
        cb();
      },
    });
    const req = http.request({ method, path: '/', host: 'fuzz.invalid', createConnection: () => socket as never });
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      res.on('data', (c: Buffer) => (body += c.length));
      res.on('end', () => (ended = true));
      res.on('error', (e: NodeJS.ErrnoException) => (code ??= e.code));
    });
    req.on('error', (e: NodeJS.ErrnoException) => (code ??= e.code));
    req.on('upgrade', (_res, s) => {
      code ??= 'upgrade';
      s.destroy();
    });
    req.end();
    setImmediate(() => {
      socket.push(input);
      socket.push(null);
    });
    let turns = 0;
    const settle = () => {
      if (++turns < 6) return void setImmediate(settle);
      socket.destroy();
      const parseError = code?.startsWith('HPE_');
      if (ended && !parseError) resolve({ kind: 'accept', status, bodyLength: body, complete: true });
      else if (parseError) resolve({ kind: 'reject', code, status, bodyLength: body, complete: ended });
      else resolve({ kind: 'incomplete', code, complete: false });
    };
    setImmediate(settle);
  });
}

function baseResponse(r: () => number): string {
  switch (Math.floor(r() * 6)) {
    case 0: {
      const body = 'hello, world'.slice(0, Math.floor(r() * 12));
      return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    }
    case 1:
      return `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n${chunkedBody(r)}`;
    case 2:
      return 'HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n';
    case 3:
      return `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok`;
    case 4:
      return 'HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\nnot here';
    default:
      return `HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello`;
  }
}

const RESPONSE_HEADERS = [
  'Content-Length: 3',
  'Content-Length: 3, 3',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding: chunked, gzip',
  'Connection: close',
  'X: a\x00b',
  'X y: z',
  'Upgrade: h2c',
  'Set-Cookie: a=b',
];

export function generateResponse(r: () => number): Buffer {
  let s = baseResponse(r);
  const mutations = 1 + Math.floor(r() * 3);
  for (let m = 0; m < mutations; m++) {
    if (r() < 0.15) {
      const i = s.indexOf('\r\n') + 2;
      s = `${s.slice(0, i)}${pick(r, RESPONSE_HEADERS)}\r\n${s.slice(i)}`;
    } else s = mutate(r, s);
  }
  return Buffer.from(s, 'latin1');
}

export interface ResponseFuzzReport {
  readonly cases: number;
  readonly failures: Array<{ input: string; method: string; llhttp: ResponseVerdict; mast: ResponseVerdict }>;
  readonly mismatches: Array<{ input: string; method: string; llhttp: ResponseVerdict; mast: ResponseVerdict }>;
  readonly bothReject: number;
  readonly bothAccept: number;
}

export async function fuzzResponses(seed: number, cases: number): Promise<ResponseFuzzReport> {
  const r = rng(seed);
  const failures: ResponseFuzzReport['failures'] = [];
  const mismatches: ResponseFuzzReport['mismatches'] = [];
  let bothReject = 0;
  let bothAccept = 0;
  for (let k = 0; k < cases; k++) {
    const method = r() < 0.1 ? 'HEAD' : 'GET';
    const input = generateResponse(r);
    const ll = await llhttpResponseVerdict(input, method);
    const mast = mastResponseVerdict(input, method);
    const text = input.toString('latin1');
    if (mast.kind !== 'accept') {
      if (ll.kind === 'reject' || ll.kind === 'incomplete') bothReject++;
      continue;
    }
    // llhttp could not read the response whole, and mast would have passed it to the client.
    if (!ll.complete) {
      if (ll.kind === 'reject') failures.push({ input: text, method, llhttp: ll, mast });
      continue;
    }
    bothAccept++;
    if (ll.status !== mast.status || ll.bodyLength !== mast.bodyLength) mismatches.push({ input: text, method, llhttp: ll, mast });
  }
  return { cases, failures, mismatches, bothReject, bothAccept };
}
