/**
 * The smallest whole use of the codec: every stream of every downstream connection relayed to
 * one multiplexed upstream connection (a new one when it goes away or is full), head decoded and
 * re-encoded, DATA both ways with each window given back only as the bytes are forwarded (a slow
 * reader slows the writer; what is held stays within the windows), trailers and resets passed.
 * No routing: the bench's "h2 js-codec pipe" and the codec's interop tests run it.
 */
import * as net from 'node:net';
import { ErrorCode } from './frames';
import type { CodecLimits } from './limits';
import { H2Session } from './session';
import type { H2Stream } from './stream';

export function relayServer(connectUpstream: () => net.Socket, limits: Partial<CodecLimits> = {}): net.Server {
  let upstream: H2Session | undefined;
  const upstreamSession = (): H2Session => {
    if (upstream?.canRequest()) return upstream;
    // A full connection is not used again: it closes once its streams are done.
    upstream?.goAway();
    const s = new H2Session(connectUpstream(), 'client', {
      onClose: () => {
        if (upstream === s) upstream = undefined;
      },
    });
    upstream = s.start();
    return s;
  };

  const relay = (down: H2Stream, head: string[], endStream: boolean): void => {
    let up: H2Stream;
    try {
      up = upstreamSession().request(head, endStream);
    } catch {
      return down.reset(ErrorCode.REFUSED_STREAM);
    }
    down.handlers = {
      onData: (_s, chunk, end) => void up.sendData(chunk, end),
      onHeaders: (_s, trailers) => up.sendTrailers(trailers),
      onSent: (_s, n) => up.consumed(n),
      onReset: () => up.reset(ErrorCode.CANCEL),
    };
    up.handlers = {
      onHeaders: (_s, flat, end, trailers) => (trailers ? down.sendTrailers(flat) : down.sendHeaders(flat, end)),
      onData: (_s, chunk, end) => void down.sendData(chunk, end),
      onSent: (_s, n) => down.consumed(n),
      onReset: (_s, code, retryable) => down.reset(retryable ? ErrorCode.REFUSED_STREAM : code),
    };
  };

  return net.createServer({ noDelay: true }, (socket) => {
    new H2Session(socket, 'server', { onStream: relay }, limits).start();
  });
}
