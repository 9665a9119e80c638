// The gRPC backend of the latency rows: a unary echo on cleartext HTTP/2 written on `node:http2`
// (no gRPC library: the least work a backend can do, so the figures are the proxies'). The
// request's length-prefixed message comes back as the response's, with `grpc-status: 0` in trailers.
// Usage: node grpc-echo.mjs <port>
import http2 from 'node:http2';

const [port] = process.argv.slice(2).map(Number);

http2
  .createServer({ noDelay: true })
  .on('stream', (stream, headers) => {
    const chunks = [];
    stream.on('data', (d) => chunks.push(d));
    stream.on('end', () => {
      if (stream.destroyed) return;
      if (headers['content-type'] !== 'application/grpc') {
        stream.respond({ ':status': 415 });
        stream.end();
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.concat(chunks));
    });
    stream.on('error', () => undefined);
  })
  .on('sessionError', () => undefined)
  .listen(port, '127.0.0.1');
