// The bench's "h2 js-codec pipe" row: the smallest honest HTTP/2 relay on mast's JavaScript codec
// (runtime/proxy/h2/codec), the counterpart of h2-pipe-proxy.mjs's node:http2 floor. Every
// downstream stream is relayed to one upstream h2c connection: the head decoded and re-encoded,
// DATA both ways with the windows given back only as bytes are forwarded, trailers passed, resets
// passed. No routing, no telemetry. h2.mjs bundles it with esbuild.
// Usage: node h2-js-pipe.js <listen port> <upstream port>
import * as net from 'node:net';
import { ErrorCode } from '../runtime/proxy/h2/codec/frames';
import { H2Session } from '../runtime/proxy/h2/codec/session';
import type { H2Stream } from '../runtime/proxy/h2/codec/stream';

const [port, upstreamPort] = process.argv.slice(2).map(Number);

let upstream: H2Session | undefined;

function upstreamSession(): H2Session {
  if (upstream && !upstream.closed && upstream.canRequest()) return upstream;
  const s = new H2Session(net.connect(upstreamPort, '127.0.0.1'), 'client', {
    onClose: () => {
      if (upstream === s) upstream = undefined;
    },
  });
  upstream = s.start();
  return s;
}

function relay(down: H2Stream, head: string[], endStream: boolean): void {
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
}

net
  .createServer({ noDelay: true }, (socket) => {
    new H2Session(socket, 'server', { onStream: relay }).start();
  })
  .listen(port, '127.0.0.1');
