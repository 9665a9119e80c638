/**
 * gRPC-Web, translated as Envoy's `grpc_web` filter does (Istio puts it on the listeners of ports
 * whose protocol is GRPC-WEB): a request whose content-type is one of the four gRPC-Web types goes
 * upstream as gRPC (`application/grpc`, `te: trailers`, the `-text` body base64-decoded), and its
 * response comes back as gRPC-Web: the trailers become a last body frame flagged 0x80
 * (`name:value\r\n` lines), the `-text` answer is base64, one encoding per gRPC frame. A response
 * that is not gRPC becomes a gRPC status: the HTTP status mapped, the body (up to 16 KiB) as
 * `grpc-message`. CORS is not this file's: the route's corsPolicy does it, as Envoy's cors filter.
 */
import { grpcMessage, httpToGrpcStatus } from './grpc';
import type { HeaderList } from './headers';

const TYPES: ReadonlySet<string> = new Set([
  'application/grpc-web',
  'application/grpc-web+proto',
  'application/grpc-web-text',
  'application/grpc-web-text+proto',
]);
const TEXT: ReadonlySet<string> = new Set(['application/grpc-web-text', 'application/grpc-web-text+proto']);
/** Envoy's MAX_BUFFERED_PLAINTEXT_LENGTH: how much of a non-gRPC response body becomes its grpc-message. */
const MESSAGE_MAX = 16384;
/** The flag of the frame that carries the trailers. */
export const TRAILER_FRAME = 0x80;

/** How one gRPC-Web call is encoded each way. */
export interface GrpcWebCall {
  /** The request body is base64 (`application/grpc-web-text`). */
  readonly textRequest: boolean;
  /** The client asked for a base64 response (`accept: application/grpc-web-text`). */
  readonly textResponse: boolean;
}

/** A gRPC-Web request (content-type exactly one of the four types, as Envoy compares it), else undefined. */
export function grpcWebCall(contentType: string | undefined, accept: string | undefined): GrpcWebCall | undefined {
  if (contentType === undefined || !TYPES.has(contentType)) return undefined;
  return { textRequest: TEXT.has(contentType), textResponse: accept !== undefined && TEXT.has(accept) };
}

/**
 * The request's headers as gRPC: `content-type: application/grpc`, no content-length (the decoded
 * body's differs), `te: trailers` (the upstream request says so: UpstreamRequest.teTrailers),
 * `grpc-accept-encoding: identity` when the client named none.
 */
export function grpcWebRequestHeaders(list: HeaderList): HeaderList {
  const out: HeaderList = [];
  let encoding = false;
  for (const pair of list) {
    const n = pair[0];
    if (n === 'content-length' || n === 'content-type') continue;
    if (n === 'grpc-accept-encoding') encoding = true;
    out.push(pair);
  }
  out.push(['content-type', 'application/grpc']);
  if (!encoding) out.push(['grpc-accept-encoding', 'identity']);
  return out;
}

/** A `-text` request body that is not base64: Envoy's local reply 400, with its response code details. */
export class GrpcWebBodyError extends Error {
  constructor(readonly details: 'grpc_base_64_decode_failed' | 'grpc_base_64_decode_failed_bad_size') {
    super('Bad gRPC-web request, invalid base64 data.');
  }
}

/** One 4-character base64 group: 4 symbols, or 3 and `=`, or 2 and `==`. */
const GROUPS = /^(?:[A-Za-z0-9+/]{2}(?:[A-Za-z0-9+/]{2}|[A-Za-z0-9+/]=|==))*$/;

/**
 * The base64 of a `-text` request, decoded as it streams: whole 4-character groups go on, the rest
 * waits for the next chunk. Messages encoded one by one (padding between them) decode too.
 */
export class Base64Body {
  private rest = '';

  /** The bytes decoded from `chunk` and what was left of the last; throws GrpcWebBodyError. */
  take(chunk: Buffer): Buffer {
    const s = this.rest + chunk.toString('latin1');
    const whole = s.length - (s.length % 4);
    this.rest = s.slice(whole);
    return decodeGroups(s.slice(0, whole));
  }

  /** The body ended: a partial group left is an error (padding is mandatory). */
  end(): void {
    if (this.rest.length) throw new GrpcWebBodyError('grpc_base_64_decode_failed_bad_size');
  }
}

function decodeGroups(s: string): Buffer {
  if (!GROUPS.test(s)) throw new GrpcWebBodyError('grpc_base_64_decode_failed');
  const pad = s.indexOf('=');
  if (pad < 0 || pad >= s.length - 2) return Buffer.from(s, 'base64');
  // Padding inside: each padded group ends one encoding; decode them one after another.
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = 3; i < s.length; i += 4)
    if (s.charCodeAt(i) === 61 /* '=' */) {
      parts.push(Buffer.from(s.slice(from, i + 1), 'base64'));
      from = i + 1;
    }
  if (from < s.length) parts.push(Buffer.from(s.slice(from), 'base64'));
  return Buffer.concat(parts);
}

/** A gRPC response: 200 with a gRPC content-type, or a head that ends the stream with its grpc-status. */
function isGrpcResponse(status: number, headers: HeaderList, end: boolean): boolean {
  for (const [n, v] of headers) {
    if (n === 'grpc-status' && end) return true;
    if (n !== 'content-type' || status !== 200) continue;
    const type = v.split(';')[0].trim().toLowerCase();
    if (type === 'application/grpc' || type.startsWith('application/grpc+')) return true;
    if (type === 'application/grpc-web' || type === 'application/grpc-web+proto') return true;
  }
  return false;
}

/** A response as the client gets it: the status, and headers still to go through the route's operations. */
export interface WebHead {
  readonly status: number;
  readonly headers: HeaderList;
}

/** One call's response, turned into gRPC-Web as it streams. */
export class GrpcWebResponse {
  /** A non-gRPC response with a body: its head waits for the body, which becomes grpc-message. */
  private held?: { status: number; headers: HeaderList; body: Buffer[]; size: number };
  /** `-text`: bytes of a gRPC frame not complete yet (each frame is encoded on its own). */
  private partial?: Buffer;

  constructor(private readonly text: boolean) {}

  private get contentType(): string {
    return this.text ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto';
  }

  /** The head for the client, or undefined while it is held (end() gives it). */
  head(status: number, headers: HeaderList, end: boolean): WebHead | undefined {
    const out: HeaderList = headers.filter(([n]) => n !== 'content-length' && n !== 'content-type');
    out.push(['content-type', this.contentType]);
    if (!end && !isGrpcResponse(status, headers, end)) {
      this.held = { status, headers: out, body: [], size: 0 };
      return undefined;
    }
    return { status, headers: out };
  }

  /** Body bytes for the client (none while the head is held, or a `-text` frame is incomplete). */
  data(chunk: Buffer): Buffer {
    const held = this.held;
    if (held) {
      const room = MESSAGE_MAX - held.size;
      if (room > 0) {
        const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
        held.body.push(part);
        held.size += part.length;
      }
      return EMPTY;
    }
    return this.text ? this.textFrames(chunk) : chunk;
  }

  /** The response ended: the held head (as a gRPC status) if any, and the last bytes (the trailers frame). */
  end(trailers: HeaderList | undefined): { head?: WebHead; body: Buffer } {
    const held = this.held;
    if (held) {
      this.held = undefined;
      const message = Buffer.concat(held.body).toString('utf8');
      const headers: HeaderList = [...held.headers, ['grpc-status', String(httpToGrpcStatus(held.status))]];
      if (message) headers.push(['grpc-message', grpcMessage(message)]);
      headers.push(['content-length', '0']);
      return { head: { status: held.status, headers }, body: EMPTY };
    }
    if (!trailers) return { body: EMPTY };
    const lines = trailers.map(([n, v]) => `${n}:${v}\r\n`).join('');
    const frame = Buffer.allocUnsafe(5 + Buffer.byteLength(lines, 'latin1'));
    frame[0] = TRAILER_FRAME;
    frame.writeUInt32BE(frame.length - 5, 1);
    frame.write(lines, 5, 'latin1');
    return { body: this.text ? Buffer.from(frame.toString('base64'), 'latin1') : frame };
  }

  /** Complete gRPC frames of the stream so far, each base64 on its own. */
  private textFrames(chunk: Buffer): Buffer {
    let buf = this.partial ? Buffer.concat([this.partial, chunk]) : chunk;
    let out = '';
    while (buf.length >= 5) {
      const size = 5 + buf.readUInt32BE(1);
      if (buf.length < size) break;
      out += buf.toString('base64', 0, size);
      buf = buf.subarray(size);
    }
    this.partial = buf.length ? buf : undefined;
    return out ? Buffer.from(out, 'latin1') : EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * A local reply to a gRPC-Web client: Envoy answers it as HTTP and the filter turns it into
 * gRPC-Web, so the HTTP status stays, the gRPC status is mapped from it (or given: a fault's
 * grpcStatus, answered 200) and the text goes as grpc-message; no body.
 */
export function grpcWebLocalReply(call: GrpcWebCall, status: number, body: string, grpcStatus?: number): WebHead {
  const headers: HeaderList = [
    ['content-type', call.textResponse ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto'],
    ['grpc-status', String(grpcStatus ?? httpToGrpcStatus(status))],
  ];
  const text = body.trim();
  if (text) headers.push(['grpc-message', grpcMessage(text)]);
  headers.push(['content-length', '0']);
  return { status: grpcStatus !== undefined ? 200 : status, headers };
}

/** The call, when `listener` translates gRPC-Web for a request that came to `originalPort` and is one. */
export function grpcWebCallOn(
  listener: { readonly grpcWeb?: true | readonly number[] } | undefined,
  originalPort: number | undefined,
  contentType: string | undefined,
  accept: string | undefined,
): GrpcWebCall | undefined {
  const on = listener?.grpcWeb;
  if (!on || (on !== true && (originalPort === undefined || !on.includes(originalPort)))) return undefined;
  return grpcWebCall(contentType, accept);
}
