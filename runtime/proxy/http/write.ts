/** Heads written to the wire in one string each: the upstream request and the downstream response. */
import type { HeaderOpsConfig } from '../../contract/proxy-config';
import type { RequestHead, ResponseHead } from './head';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'http2-settings',
  'transfer-encoding',
  'content-length',
  'host',
]);

/**
 * The received headers under the route's operations, then `lines` (ours: each replaces a received
 * header of its name, but a set-cookie of ours goes beside the upstream's own).
 */
function applyOps(lines: readonly string[], headers: readonly string[], ops: readonly (HeaderOpsConfig | undefined)[]): string {
  const removed = new Set<string>(lines.map((l) => l.slice(0, l.indexOf(':')).toLowerCase()).filter((n) => n !== 'set-cookie'));
  const setNames = new Set<string>();
  // Headers the sender's Connection header names are hop-by-hop too (RFC 9110 §7.6.1): they end here.
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i] === 'connection') for (const n of headers[i + 1].split(',')) removed.add(n.trim().toLowerCase());
  for (const o of ops) {
    o?.remove?.forEach((n) => removed.add(n));
    o?.set?.forEach(([n]) => setNames.add(n.toLowerCase()));
  }
  let out = '';
  for (let i = 0; i < headers.length; i += 2) {
    const n = headers[i];
    if (HOP_BY_HOP.has(n) || removed.has(n) || setNames.has(n)) continue;
    out += `${n}: ${headers[i + 1]}\r\n`;
  }
  for (const o of ops) {
    o?.set?.forEach(([n, v]) => (out += `${n.toLowerCase()}: ${v}\r\n`));
    o?.add?.forEach(([n, v]) => (out += `${n.toLowerCase()}: ${v}\r\n`));
  }
  for (const l of lines) out += l;
  return out;
}

export interface UpstreamHeadOptions {
  readonly path: string;
  readonly authority: string;
  readonly extra: string[];
  readonly ops: readonly (HeaderOpsConfig | undefined)[];
}

export function upstreamRequestHead(req: RequestHead, o: UpstreamHeadOptions): string {
  let framing = '';
  if (req.chunked) framing = 'transfer-encoding: chunked\r\n';
  else if (req.contentLength >= 0) framing = `content-length: ${req.contentLength}\r\n`;
  const upgrade = req.upgrade ? `connection: upgrade\r\nupgrade: ${req.header('upgrade') ?? ''}\r\n` : 'connection: keep-alive\r\n';
  return `${req.method} ${o.path} HTTP/1.1\r\nhost: ${o.authority}\r\n${applyOps(o.extra, req.headers, o.ops)}${framing}${upgrade}\r\n`;
}

export function downstreamResponseHead(
  res: ResponseHead,
  keepAlive: boolean,
  ops: readonly (HeaderOpsConfig | undefined)[],
  extra: readonly string[] = [],
): string {
  let framing = '';
  if (res.chunked) framing = 'transfer-encoding: chunked\r\n';
  else if (res.contentLength >= 0) framing = `content-length: ${res.contentLength}\r\n`;
  const conn =
    res.status === 101 ? `connection: upgrade\r\nupgrade: ${res.header('upgrade') ?? ''}\r\n` : keepAlive ? '' : 'connection: close\r\n';
  return `HTTP/1.1 ${res.status} ${res.reason || 'OK'}\r\n${applyOps(extra, res.headers, ops)}${framing}${conn}\r\n`;
}

const REASONS: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** A complete local reply (error pages, redirects, direct responses). */
export function localResponse(
  status: number,
  body: string,
  keepAlive: boolean,
  headers: Array<[string, string]> = [],
  contentType = 'text/plain',
): string {
  const len = Buffer.byteLength(body);
  const extra = headers.map(([n, v]) => `${n}: ${v}\r\n`).join('');
  return `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\ncontent-length: ${len}\r\ncontent-type: ${contentType}\r\n${extra}${keepAlive ? '' : 'connection: close\r\n'}\r\n${body}`;
}
