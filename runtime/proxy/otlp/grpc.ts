/**
 * One unary gRPC call at a time to an OTLP/gRPC collector (`Export` of the logs or trace service), over
 * node:http2 in cleartext (h2c, as Envoy's `envoy_grpc` reaches the collector's 4317): the message in
 * gRPC's framing (a flag byte, a 4-byte length, the protobuf), answered by `grpc-status` in the
 * trailers, or in the head for a trailers-only reply. Anything but status 0 is a failed export, as is an
 * HTTP status other than 200, a reset, or no answer in time. One HTTP/2 session per collector, made
 * again when it goes away; node:http2 is loaded on the first call.
 */
import type * as Http2 from 'node:http2';
import { answerOnce } from './batcher';

/** Sends one body; calls back whether the collector took it. Never throws. `close`: its connection ended. */
export type Post = ((body: string | Uint8Array, done: (ok: boolean) => void) => void) & { close?: () => void };

/** A call is given up after this long (a hung collector holds one call, never more). */
export const GRPC_CALL_TIMEOUT_MS = 5000;

/** gRPC's length-prefixed message: uncompressed flag 0, big-endian length, the bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

export interface GrpcTarget {
  readonly host: string;
  readonly port: number;
  /** The method, e.g. OTLP_LOGS_EXPORT (contract/proxy-config.ts). */
  readonly path: string;
  /** The `:authority` (Istio gives Envoy the provider's service host). @default host */
  readonly authority?: string;
}

/** A Post that makes each body one unary call to `target`. */
export function grpcPost(target: GrpcTarget, timeoutMs = GRPC_CALL_TIMEOUT_MS): Post {
  let session: Http2.ClientHttp2Session | undefined;
  const authority = target.authority ?? target.host;
  const sessionOf = (): Http2.ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    const http2 = require('node:http2') as typeof Http2;
    const host = target.host.includes(':') ? `[${target.host}]` : target.host;
    const s = http2.connect(`http://${host}:${target.port}`);
    // A collector that is down fails the call below; the session's own error needs a listener.
    s.on('error', () => undefined);
    s.on('close', () => {
      if (session === s) session = undefined;
    });
    // An idle session never keeps a drained proxy alive.
    s.unref();
    session = s;
    return s;
  };
  const post: Post = (body, done) => {
    const once = answerOnce(done);
    try {
      const s = sessionOf();
      const stream = s.request(
        {
          ':method': 'POST',
          ':path': target.path,
          ':authority': authority,
          ':scheme': 'http',
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': `${timeoutMs}m`,
        },
        { endStream: false },
      );
      let status: string | undefined;
      let httpStatus = 0;
      stream.setTimeout(timeoutMs, () => stream.close(0x8 /* CANCEL */));
      stream.on('response', (headers) => {
        httpStatus = Number(headers[':status']);
        // A trailers-only reply carries grpc-status in its head.
        if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
      });
      stream.on('trailers', (trailers) => {
        if (trailers['grpc-status'] !== undefined) status = String(trailers['grpc-status']);
      });
      stream.on('data', () => undefined);
      stream.on('error', () => once(false));
      stream.on('close', () => once(httpStatus === 200 && status === '0'));
      stream.end(grpcFrame(typeof body === 'string' ? Buffer.from(body) : body));
    } catch {
      once(false);
    }
  };
  post.close = () => {
    session?.close();
    session = undefined;
  };
  return post;
}
