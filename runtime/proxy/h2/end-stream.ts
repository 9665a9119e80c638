/**
 * Whether an HTTP/2 stream's 'end' is the peer's END_STREAM. Node ends a stream's readable side
 * for END_STREAM, and also when the stream closes first: a RST_STREAM with NO_ERROR before
 * END_STREAM ends it the same way (its onStreamClose pushes the end), though the message never
 * ended. Envoy's codec resets a stream that closes without the remote END_STREAM, whatever the
 * code, so the proxy must tell the two apart: END_STREAM ends the readable side while the stream
 * is still open, a close ends it once the stream is closed.
 */
import type { Http2Stream } from 'node:http2';

const ENDED_OPEN = Symbol('mast.endStreamReceived');

type Watched = Http2Stream & { [ENDED_OPEN]?: boolean };

/** Http2Stream's own push (its prototype's), taken from the first stream watched. */
let streamPush: Http2Stream['push'] | undefined;

/** An Http2Stream's push, noting an end pushed while the stream was open. One function for every stream. */
function pushNotingEnd(this: Watched, chunk: unknown, encoding?: BufferEncoding): boolean {
  if (chunk === null && !this.closed) this[ENDED_OPEN] = true;
  return streamPush!.call(this, chunk, encoding);
}

/** Watches `stream` so that `endStreamReceived` can say, at its 'end', which end it was. */
export function watchEndStream(stream: Http2Stream): void {
  streamPush ??= stream.push;
  (stream as Watched).push = pushNotingEnd;
}

/** The peer sent END_STREAM (a stream watched by `watchEndStream`): its message is complete. */
export function endStreamReceived(stream: Http2Stream): boolean {
  return (stream as Watched)[ENDED_OPEN] === true;
}
