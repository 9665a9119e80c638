// The floor for a Node.js HTTP/2 proxy on this machine: each stream of an HTTP/2 client relayed as
// a stream on one HTTP/2 connection to the upstream, headers as they came, bodies piped, gRPC
// trailers passed on, no routing or other logic: what `node:http2` (nghttp2) itself costs. Plain,
// it takes and speaks cleartext HTTP/2 (h2c, prior knowledge); two of them chained with mTLS
// between them (`out`, then `in`, with the certificates of nginx's gRPC chain) are the floor of
// two sidecars: `out` speaks HTTP/2 over TLS with a client certificate to the upstream, `in` takes
// HTTP/2 over TLS only from a client whose certificate the CA signed.
// Usage: node h2-pipe-proxy.mjs <port> <upstream-port>
//        node h2-pipe-proxy.mjs <port> <upstream-port> out <crt> <key> <ca> <server-name>
//        node h2-pipe-proxy.mjs <port> <upstream-port> in <crt> <key> <ca>
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';

const [port, upstreamPort] = process.argv.slice(2, 4).map(Number);
const [mode, crt, key, ca, serverName] = process.argv.slice(4);
const credentials = mode && { cert: readFileSync(crt), key: readFileSync(key), ca: readFileSync(ca), minVersion: 'TLSv1.3' };
const END_STREAM = http2.constants.NGHTTP2_FLAG_END_STREAM;
let upstream;

/** The one upstream connection, opened again when the upstream closed it. */
function session() {
  if (!upstream || upstream.closed || upstream.destroyed) {
    // No Nagle on either side, as mast sets it: a small response must not wait for the peer's delayed ACK
    // (node:http2 sets it on a TLS connection it opens itself).
    upstream =
      mode === 'out'
        ? http2.connect(`https://127.0.0.1:${upstreamPort}`, { ...credentials, servername: serverName })
        : http2.connect(`http://127.0.0.1:${upstreamPort}`, {
            createConnection: () => net.connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true }),
          });
    upstream.on('error', () => undefined);
  }
  return upstream;
}

const server =
  mode === 'in'
    ? http2.createSecureServer({ ...credentials, requestCert: true, rejectUnauthorized: true, noDelay: true })
    : http2.createServer({ noDelay: true });
server
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
      // Piped only now: node:http2 emits 'response' a tick after the HEADERS it decoded, and DATA of the
      // same read would otherwise reach the client's stream first (an implicit head, the trailers lost).
      up.pipe(stream);
    });
    up.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('error', () => up.close(http2.constants.NGHTTP2_CANCEL));
  })
  .on('sessionError', () => undefined)
  .listen(port, '127.0.0.1');
// A clean exit on SIGTERM, so that --cpu-prof writes its profile.
process.on('SIGTERM', () => process.exit(0));
