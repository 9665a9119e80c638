/**
 * Where an HTTP/2 upstream's response ends. Node ends a client stream's readable side both when
 * the server ends the stream and when the stream's connection goes away mid-response (its 'end'
 * comes either way); only the first is a complete response. A response cut off before its
 * trailers must reach the client as broken (its stream reset, or its HTTP/1.1 connection closed
 * before the last chunk), never as a complete 200 without `grpc-status`.
 */
import * as http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { type RequestRecord, requestFinished } from '../../../../runtime/proxy/request/record';
import { cluster, config, forward, raw, stoppedAfterEach, until } from '../../../support/proxy';
import { h2c, h2request } from './h2-client';

const { proxyFor, stopAfter } = stoppedAfterEach();

/** The response flags of the requests the proxies of this file finish, in order. */
const flags: string[] = [];
const noteFlags = (r: unknown) => flags.push((r as RequestRecord).flags);
beforeAll(() => requestFinished.subscribe(noteFlags));
afterAll(() => requestFinished.unsubscribe(noteFlags));
beforeEach(() => void flags.splice(0));

/** A gRPC-like server whose response head and first message go out, then its connection is destroyed before the trailers. */
async function cutBeforeTrailers(): Promise<number> {
  const sockets = new Set<Socket>();
  const server = http2.createServer();
  server.on('connection', (s: Socket) => sockets.add(s));
  server.on('stream', (stream) => {
    stream.on('error', () => undefined);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    // Written (and flushed to the socket): then the connection goes, the trailers never sent.
    stream.write(Buffer.from([0, 0, 0, 0, 2, 104, 105]), () => {
      for (const s of sockets) s.destroy();
    });
  });
  server.on('sessionError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

/**
 * A gRPC-like server whose response head and first message go out, then it resets the stream with
 * NO_ERROR (RST_STREAM, no END_STREAM): Node ends the client stream's readable side for that too,
 * but the response never ended (Envoy's codec: a stream closed before the remote END_STREAM is reset).
 */
async function resetAfterHead(): Promise<number> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => undefined);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.write(Buffer.from([0, 0, 0, 0, 2, 104, 105]), () => stream.close(http2.constants.NGHTTP2_NO_ERROR));
  });
  server.on('sessionError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

const GRPC_CALL = { ':method': 'POST', ':path': '/echo.Echo/Unary', 'content-type': 'application/grpc', te: 'trailers' };

test('an HTTP/2 client: a response whose connection went before its trailers is reset, not ended as complete', async () => {
  const upstream = await cutBeforeTrailers();
  const { port } = await proxyFor(config([forward('g')], [cluster('g', [upstream], { upstreamProtocol: 'h2' })]));
  const session = h2c(port);
  stopAfter(async () => void session.close());
  const outcome = await h2request(session, GRPC_CALL, Buffer.from([0, 0, 0, 0, 0])).then(
    (r) => `ended: HTTP ${r.status}, grpc-status ${r.trailers?.['grpc-status']}`,
    (e: NodeJS.ErrnoException) => `reset: ${e.code}`,
  );
  expect(outcome).toBe('reset: ERR_HTTP2_STREAM_ERROR');
  // Its connection went: Envoy's UpstreamConnectionTermination.
  await until('the request recorded', () => flags.length === 1, 2000);
  expect(flags).toEqual(['UC']);
});

test('an HTTP/1.1 client: the chunked response is cut off (no last chunk), its connection closed', async () => {
  const upstream = await cutBeforeTrailers();
  const { port } = await proxyFor(config([forward('g')], [cluster('g', [upstream], { upstreamProtocol: 'h2' })]));
  const reply = await raw(
    port,
    'POST /echo.Echo/Unary HTTP/1.1\r\nhost: alpha.example.com\r\ncontent-type: application/grpc\r\nte: trailers\r\ncontent-length: 5\r\n\r\n\0\0\0\0\0',
    3000,
  );
  expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  expect(reply).toContain('transfer-encoding: chunked\r\n');
  // The message's chunk came; the last chunk (`0`) that would say the body is complete did not.
  expect(reply.endsWith('7\r\n\0\0\0\0\u0002hi\r\n')).toBe(true);
});

test('an HTTP/2 client: an upstream stream reset with NO_ERROR after its head is reset downstream, not ended as complete', async () => {
  const upstream = await resetAfterHead();
  const { port } = await proxyFor(config([forward('g')], [cluster('g', [upstream], { upstreamProtocol: 'h2' })]));
  const session = h2c(port);
  stopAfter(async () => void session.close());
  const outcome = await h2request(session, GRPC_CALL, Buffer.from([0, 0, 0, 0, 0])).then(
    (r) => `ended: HTTP ${r.status}, grpc-status ${r.trailers?.['grpc-status']}`,
    (e: NodeJS.ErrnoException) => `reset: ${e.code}`,
  );
  expect(outcome).toBe('reset: ERR_HTTP2_STREAM_ERROR');
  // Reset by the server, its connection still up: Envoy's UpstreamRemoteReset, whatever the RST_STREAM code.
  await until('the request recorded', () => flags.length === 1, 2000);
  expect(flags).toEqual(['UR']);
});

test('an HTTP/1.1 client: an upstream stream reset with NO_ERROR after its head cuts the chunked response off', async () => {
  const upstream = await resetAfterHead();
  const { port } = await proxyFor(config([forward('g')], [cluster('g', [upstream], { upstreamProtocol: 'h2' })]));
  const reply = await raw(
    port,
    'POST /echo.Echo/Unary HTTP/1.1\r\nhost: alpha.example.com\r\ncontent-type: application/grpc\r\nte: trailers\r\ncontent-length: 5\r\n\r\n\0\0\0\0\0',
    3000,
  );
  expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  expect(reply.endsWith('7\r\n\0\0\0\0\u0002hi\r\n')).toBe(true);
});
