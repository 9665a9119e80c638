/**
 * What an attacker's test needs: a backend that records every request it receives, parsed as
 * leniently as the worst backend a proxy may sit in front of (bare LF line ends, lenient chunked
 * framing), so that anything the proxy lets through in a smuggled or odd form shows up here.
 */
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  /** The request line as received, e.g. `GET /admin HTTP/1.1`. */
  readonly line: string;
  readonly method: string;
  readonly target: string;
  /** Header names lowercased; repeated headers joined with `, `. */
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface LenientBackend {
  readonly port: number;
  /** Every request received, in order, from every connection. */
  readonly seen: SeenRequest[];
  /** Every request line received (`seen.map(r => r.line)`). */
  lines(): string[];
  close(): Promise<void>;
}

/** Splits off one line ending in LF (a CR before it dropped); undefined when no LF yet. */
function takeLine(state: { buf: string }): string | undefined {
  const i = state.buf.indexOf('\n');
  if (i < 0) return undefined;
  const line = state.buf.slice(0, i).replace(/\r$/, '');
  state.buf = state.buf.slice(i + 1);
  return line;
}

/**
 * One request off the front of `state.buf` if it is all there (lenient: LF or CRLF line ends,
 * chunk sizes with anything after them, trailers up to an empty line), else undefined.
 */
function takeRequest(state: { buf: string }): SeenRequest | undefined {
  const copy = { buf: state.buf };
  const line = takeLine(copy);
  if (line === undefined) return undefined;
  if (line === '') return ((state.buf = copy.buf), takeRequest(state));
  const headers: Record<string, string> = {};
  for (;;) {
    const h = takeLine(copy);
    if (h === undefined) return undefined;
    if (h === '') break;
    const c = h.indexOf(':');
    const name = (c < 0 ? h : h.slice(0, c)).trim().toLowerCase();
    const value = c < 0 ? '' : h.slice(c + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  let body = '';
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    for (;;) {
      const sizeLine = takeLine(copy);
      if (sizeLine === undefined) return undefined;
      const size = parseInt(sizeLine, 16) || 0;
      if (size === 0) {
        for (;;) {
          const t = takeLine(copy);
          if (t === undefined) return undefined;
          if (t === '') break;
        }
        break;
      }
      if (copy.buf.length < size) return undefined;
      body += copy.buf.slice(0, size);
      copy.buf = copy.buf.slice(size);
      if (takeLine(copy) === undefined) return undefined;
    }
  } else {
    const length = parseInt(headers['content-length'] ?? '0', 10) || 0;
    if (copy.buf.length < length) return undefined;
    body = copy.buf.slice(0, length);
    copy.buf = copy.buf.slice(length);
  }
  state.buf = copy.buf;
  const [method = '', target = ''] = line.split(' ');
  return { line, method, target, headers, body };
}

/** A backend on 127.0.0.1 that answers every request `200 ok <target>` and records it in `seen`. */
export async function lenientBackend(): Promise<LenientBackend> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const state = { buf: '' };
    socket.on('data', (chunk) => {
      state.buf += chunk.toString('latin1');
      for (let req = takeRequest(state); req; req = takeRequest(state)) {
        seen.push(req);
        const body = `ok ${req.target}`;
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    lines: () => seen.map((r) => r.line),
    close: () => new Promise((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))),
  };
}
