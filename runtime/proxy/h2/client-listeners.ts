/**
 * The listeners on a client's HTTP/2 stream, for the exchange that serves it: the same functions
 * for every stream (`this`: the stream, its exchange found on it), so a request makes no closures
 * for them. The client's body reaches the exchange inside them: a throw resets that stream, not
 * the process (contain.ts).
 */
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { containedError } from '../contain';
import type { Flag } from '../request/record';
import { type HeaderList, pairsOf } from './headers';

/** What the listeners tell the exchange. */
export interface StreamOwner {
  /** The stream closed (its response done, or the client gone). */
  downstreamGone(): void;
  requestBody(chunk: Buffer): void;
  /** The client's END_STREAM: the request is complete. */
  requestEnd(): void;
  /** The client's request trailers, sent upstream after the body. */
  trailersIn?: HeaderList;
  abort(flag: Flag): void;
}

const OWNER = Symbol('mast.streamOwner');
type OwnedStream = ServerHttp2Stream & { [OWNER]: StreamOwner };

/** Listens to `stream` for `owner`: its close and errors, and with `body`, its DATA, trailers and end. */
export function listenToClient(stream: ServerHttp2Stream, owner: StreamOwner, body: boolean): void {
  (stream as OwnedStream)[OWNER] = owner;
  stream.on('error', ignore);
  stream.on('close', onClose);
  if (!body) return;
  stream.on('data', onData);
  stream.on('trailers', onTrailers);
  stream.on('end', onEnd);
}

const ignore = (): void => undefined;

function onClose(this: OwnedStream): void {
  this[OWNER].downstreamGone();
}

function onData(this: OwnedStream, chunk: Buffer): void {
  const x = this[OWNER];
  try {
    x.requestBody(chunk);
  } catch (error) {
    containedError('downstream', () => x.abort('DC'), error);
  }
}

function onTrailers(this: OwnedStream, t: IncomingHttpHeaders): void {
  this[OWNER].trailersIn = pairsOf(t);
}

function onEnd(this: OwnedStream): void {
  // A client's RST_STREAM(NO_ERROR) before END_STREAM ends the readable side too (end-stream.ts). At a real
  // END_STREAM the stream is open still (its response is not done): a closed one was reset, its 'close' follows.
  if (this.closed) return;
  const x = this[OWNER];
  try {
    x.requestEnd();
  } catch (error) {
    containedError('downstream', () => x.abort('DC'), error);
  }
}
