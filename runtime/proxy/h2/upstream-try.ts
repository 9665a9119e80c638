/**
 * One upstream try of an HTTP/2 stream's request, whichever protocol it goes over (HTTP/1.1 in
 * upstream-h1.ts, HTTP/2 in upstream-h2.ts): what a try reports to its exchange, and what the
 * exchange does to a try. Flow control both ways: `data` returning false pauses the try until
 * `resume`; `write` returning false means wait for `onDrain`.
 */
import type { Flag } from '../request/record';
import type { Failure } from '../request/retry';
import type { IncomingHttpHeaders } from 'node:http2';
import type { HeaderList } from './headers';

export interface TryOwner {
  /** The final response head (`end`: no body follows, as in a trailers-only gRPC response); false: the exchange retries instead. */
  head(status: number, headers: HeaderList, end: boolean): boolean;
  /** The same, for a head as `node:http2` received it (an HTTP/2 upstream): an owner that can send it on without a list takes it so. */
  receivedHead?(status: number, headers: IncomingHttpHeaders, end: boolean): boolean;
  /** Response body bytes; false when the client's stream is full (the try waits for `resume`). */
  data(chunk: Buffer): boolean;
  trailers(headers: HeaderList): void;
  /** The same, for trailers as `node:http2` received them: an owner that can send them on without a list takes them so. */
  receivedTrailers?(headers: IncomingHttpHeaders): void;
  /** The response is over. */
  end(): void;
  /**
   * No response, or it broke off: `flag` as Envoy names it, the status a local reply would have, and
   * why a connection never came up when it is known (the access log's transport failure reason).
   */
  failed(flag: Flag, status: number, reason: Failure, transportFailure?: string): void;
  /** The try has a stream or a connection: the request body kept so far may go. */
  ready(): void;
}

export interface UpstreamTry {
  /**
   * Opens the try: a stream or a pooled connection; the owner hears `ready` (or `failed`) once it has
   * one, or `tries.refused` when the cluster's pending requests are at their bound (HTTP/2 pools at maxConnections).
   */
  start(tries: { refused(flag: 'UO'): void }): void;
  /** Request body bytes; false: wait for `onDrain` before more. */
  write(chunk: Buffer): boolean;
  /** The request body is complete; `trailers`, the client's request trailers, sent after it where the protocol can. */
  endBody(trailers?: HeaderList): void;
  onDrain?: () => void;
  /** The client reads again: so may the try. */
  resume(): void;
  /** The try is abandoned (a retry, a timeout, the client gone): its stream reset or its connection closed. */
  cancel(): void;
  /** The endpoint's key (the access log's upstream host). */
  readonly endpointKey: string;
}
