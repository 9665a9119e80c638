/**
 * The response of one client HTTP/2 stream as it goes into the stream (the request side is
 * stream-request.ts): the upstream's head (a gRPC-Web call's translated, grpc-web.ts), its body
 * with the stream's backpressure, its trailers after the body when the head said some may follow,
 * a local reply in the client's protocol (plain text, gRPC or gRPC-Web), a reset; and what the
 * record reports of it: status, gRPC status, bytes sent. A header or trailer the codec refuses
 * resets this stream, never the proxy.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { INTERNAL_ERROR } from './lazy-http2';
import { grpcLocalReply, grpcStatusIn, grpcStatusOf } from './grpc';
import type { GrpcMessageCounter } from '../grpc-messages';
import { type GrpcWebCall, grpcWebLocalReply, GrpcWebResponse, type WebHead } from './grpc-web';
import { type HeaderList, receivedTrailers, toObject } from './headers';

/** Who reads the upstream: told to go on once the client's stream drains. */
export interface ResponseSource {
  resumeUpstream(): void;
}

export class StreamResponse {
  status = 0;
  grpcStatus?: number;
  bytesOut = 0;
  /** The server's gRPC messages, counted as they pass (a gRPC call's). */
  messages?: GrpcMessageCounter;
  /** The head said trailers may follow the body (an HTTP/2 upstream, an HTTP/1.1 chunked one): the stream ends with them. */
  private waitsForTrailers = false;
  /** The upstream's trailers, sent when the stream asks for them: a list, or as `node:http2` takes them (an HTTP/2 upstream's, passed on). */
  private trailersOut?: HeaderList;
  private trailersObject?: OutgoingHttpHeaders;
  private awaitingDrain = false;
  /** A gRPC-Web call (the listener translates it): its local replies, and its response encoder. */
  private webCall?: GrpcWebCall;
  private web?: GrpcWebResponse;

  constructor(
    private readonly stream: ServerHttp2Stream,
    /** The client's request is gRPC: a local reply is a gRPC one. */
    private readonly grpc: boolean,
    private readonly source: ResponseSource,
  ) {}

  /** The response goes out as gRPC-Web (grpc-web.ts): the upstream's gRPC translated, local replies as gRPC-Web's. */
  translateGrpcWeb(call: GrpcWebCall): void {
    this.webCall = call;
    this.web = new GrpcWebResponse(call.textResponse);
  }

  /**
   * The upstream's final head, taken as the response's; the head for the client, or undefined while
   * a gRPC-Web call holds it (a response that is not gRPC: its body becomes the grpc-message, end()).
   */
  upstreamHead(status: number, headers: HeaderList, end: boolean, grpcStatus: number | undefined): WebHead | undefined {
    this.status = status;
    if (grpcStatus !== undefined) this.grpcStatus = grpcStatus;
    return this.web ? this.web.head(status, headers, end) : { status, headers };
  }

  /**
   * The head into the stream; false when the stream is gone already. `trailersMayFollow`: the
   * stream waits for the upstream's trailers after the body (gRPC-Web sends them as the last body frame instead).
   */
  respond(headers: OutgoingHttpHeaders, end: boolean, trailersMayFollow = false): boolean {
    const s = this.stream;
    if (s.destroyed || s.closed || s.headersSent) return false;
    this.waitsForTrailers = !end && !this.web && trailersMayFollow;
    try {
      s.respond(headers, { endStream: end, waitForTrailers: this.waitsForTrailers });
      return true;
    } catch {
      // A header the codec refuses (a connection-specific one an upstream sent): the stream is reset, not the proxy.
      s.close(INTERNAL_ERROR);
      return false;
    }
  }

  /** Body bytes; false when the client's window is full (the source is resumed once it drains: one wait per full window). */
  data(upstream: Buffer): boolean {
    this.messages?.push(upstream);
    const chunk = this.web ? this.web.data(upstream) : upstream;
    if (!chunk.length) return true;
    this.bytesOut += chunk.length;
    if (this.stream.write(chunk)) return true;
    // Chunks already read upstream still come while it pauses.
    if (!this.awaitingDrain) {
      this.awaitingDrain = true;
      this.stream.once('drain', () => {
        this.awaitingDrain = false;
        this.source.resumeUpstream();
      });
    }
    return false;
  }

  trailers(headers: HeaderList): void {
    this.trailersOut = headers;
    const grpc = grpcStatusIn(headers);
    if (grpc !== undefined) this.grpcStatus = grpc;
  }

  /** An HTTP/2 upstream's trailers, to be sent on as received (connection-specific fields left out); not for gRPC-Web. */
  receivedTrailers(headers: IncomingHttpHeaders): void {
    this.trailersObject = receivedTrailers(headers);
    // A repeated grpc-status counts by its first value, as in a list (grpcStatusIn).
    const v = headers['grpc-status'];
    const grpc = grpcStatusOf(Array.isArray(v) ? { 'grpc-status': v[0] } : headers);
    if (grpc !== undefined) this.grpcStatus = grpc;
  }

  /**
   * The upstream's response is over: the stream ends, with the trailers when the head said so, or
   * with a gRPC-Web call's last frame; a gRPC-Web call's held head is returned for the caller to send.
   */
  end(): WebHead | undefined {
    if (this.web) return this.endGrpcWeb(this.web);
    if (this.waitsForTrailers) {
      (this.stream as ResponseStream)[RESPONSE] = this;
      this.stream.on('wantTrailers', sendTrailersOut);
    }
    this.stream.end();
    return undefined;
  }

  /** The stream asks for its trailers (the body has gone): the upstream's, or none. */
  sendTrailers(): void {
    try {
      this.stream.sendTrailers(this.trailersObject ?? toObject(this.trailersOut ?? []));
    } catch {
      // A field the codec refuses: this stream is reset, not the proxy.
      this.reset();
    }
  }

  /** gRPC-Web's end: the trailers as the last frame, or a held non-gRPC response, to be sent as a gRPC status. */
  private endGrpcWeb(web: GrpcWebResponse): WebHead | undefined {
    const last = web.end(this.trailersOut);
    if (last.head) {
      this.status = last.head.status;
      return last.head;
    }
    if (last.body.length) {
      this.bytesOut += last.body.length;
      this.stream.end(last.body);
    } else this.stream.end();
    return undefined;
  }

  /** A local reply: for a gRPC client, a gRPC one (HTTP 200, trailers-only, the status mapped from `status` or given). */
  localReply(status: number, body: string, headers: Array<[string, string]>, grpcStatus?: number): void {
    if (this.webCall && (status >= 300 || grpcStatus !== undefined)) {
      const r = grpcWebLocalReply(this.webCall, status, body, grpcStatus);
      this.status = r.status;
      const out: OutgoingHttpHeaders = { ':status': r.status };
      for (const [n, v] of r.headers) {
        out[n] = v;
        if (n === 'grpc-status') this.grpcStatus = Number(v);
      }
      this.respond(out, true);
      return;
    }
    if (this.grpc && status >= 300) {
      const out = grpcLocalReply(status, body, grpcStatus);
      this.status = 200;
      this.grpcStatus = Number(out['grpc-status']);
      this.respond(out, true);
      return;
    }
    this.status = status;
    const out: OutgoingHttpHeaders = { ':status': status };
    if (body) {
      out['content-type'] = 'text/plain';
      out['content-length'] = Buffer.byteLength(body);
    }
    for (const [n, v] of headers) out[n] = v;
    if (this.respond(out, !body) && body) {
      this.bytesOut += Buffer.byteLength(body);
      this.stream.end(body);
    }
  }

  /** Mid-response: the stream is reset (its connection and other streams go on). */
  reset(): void {
    if (!this.stream.destroyed) this.stream.close(INTERNAL_ERROR);
  }
}

const RESPONSE = Symbol('mast.streamResponse');
type ResponseStream = ServerHttp2Stream & { [RESPONSE]: StreamResponse };

/** A stream's 'wantTrailers' (one function for every stream, its response found on it; emitted once). */
function sendTrailersOut(this: ResponseStream): void {
  this[RESPONSE].sendTrailers();
}
