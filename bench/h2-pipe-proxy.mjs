// The floor for a Node.js HTTP/2 proxy on this machine: each stream of a cleartext HTTP/2 (h2c,
// prior knowledge) client relayed as a stream on one h2c connection to the backend, headers as
// they came, bodies piped, gRPC trailers passed on, no routing or other logic: what `node:http2`
// (nghttp2) itself costs.
// Usage: node h2-pipe-proxy.mjs <port> <upstream-port>
import http2 from 'node:http2';
import net from 'node:net';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
const END_STREAM = http2.constants.NGHTTP2_FLAG_END_STREAM;
let upstream;

/** The one upstream connection, opened again when the backend closed it. */
function session() {
  if (!upstream || upstream.closed || upstream.destroyed) {
    // No Nagle on either side, as mast sets it: a small response must not wait for the peer's delayed ACK.
    const createConnection = () => net.connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true });
    upstream = http2.connect(`http://127.0.0.1:${upstreamPort}`, { createConnection });
    upstream.on('error', () => undefined);
  }
  return upstream;
}

http2
  .createServer({ noDelay: true })
  .on('stream', (stream, headers, flags) => {
    const ended = (flags & END_STREAM) !== 0;
    const up = session().request(headers, { endStream: ended });
    if (!ended) stream.pipe(up);
    up.on('response', (h) => {
      if (stream.destroyed) return;
      // Trailers are held for gRPC responses only: waiting for them costs every other response an empty HEADERS frame.
      const grpc = String(h['content-type']).startsWith('application/grpc');
      stream.respond(h, { waitForTrailers: grpc });
      if (grpc) up.on('trailers', (t) => stream.once('wantTrailers', () => stream.sendTrailers(t)));
    });
    up.pipe(stream);
    up.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('error', () => up.close(http2.constants.NGHTTP2_CANCEL));
  })
  .on('sessionError', () => undefined)
  .listen(port, '127.0.0.1');
