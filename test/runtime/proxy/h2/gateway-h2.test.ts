/**
 * HTTP/2 through a gateway-mode proxy: cleartext prior knowledge on a plain HTTP port, to an
 * HTTP/1.1 backend (translated) and to a gRPC backend (HTTP/2 both sides); gRPC's four kinds of
 * call, routing by method, trailers end to end, and HTTP/1.1 clients unaffected on the same port.
 */
import * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { cluster, config, forward, get, stoppedAfterEach } from '../../../support/proxy';
import { collect, echoClient, echoServer, unary, type Msg } from './grpc-echo';
import { h2c, h2request } from './h2-client';

const { withBackend, proxyFor, stopAfter } = stoppedAfterEach();

async function echo(name = 'echo') {
  const s = await echoServer(name);
  stopAfter(() => s.close());
  return s;
}

function client(port: number) {
  const c = echoClient(port);
  stopAfter(async () => c.close());
  return c;
}

describe('HTTP/2 at a gateway (cleartext, prior knowledge)', () => {
  test('an h2c request reaches an HTTP/1.1 backend, translated, and HTTP/1.1 clients on the same port are unaffected', async () => {
    const b = await withBackend('a');
    const { port } = await proxyFor(config([forward('a')], [cluster('a', [b.port])]));
    const session = h2c(port);
    stopAfter(async () => void session.close());
    const r = await h2request(session, { ':path': '/x/../hello?q=1', 'x-custom': 'yes' });
    expect(r.status).toBe(200);
    expect(r.body).toBe('a /hello?q=1');
    expect(r.headers['x-backend']).toBe('a');
    // A POST with a body of unknown length goes chunked to HTTP/1.1.
    const p = await h2request(session, { ':path': '/post', ':method': 'POST' }, 'payload');
    expect(p.status).toBe(200);
    expect(b.seen[0]).toMatchObject({ method: 'GET', url: '/hello?q=1' });
    expect(b.seen[0].headers).toMatchObject({ host: 'alpha.example.com', 'x-custom': 'yes', 'x-forwarded-proto': 'http' });
    expect(b.seen[0].headers['x-request-id']).toBeTruthy();
    expect(b.seen[1]).toMatchObject({ method: 'POST', url: '/post', body: 'payload' });
    // The same port, HTTP/1.1.
    const h1 = await get(port, '/plain', { host: 'alpha.example.com' });
    expect(h1.status).toBe(200);
    expect(h1.body).toBe('a /plain');
  });

  test("to and from an HTTP/2 backend the headers go on as received, under the proxy's own, with or without the route's header operations", async () => {
    const seen: http2.IncomingHttpHeaders[] = [];
    const backend = http2.createServer().on('stream', (stream, headers) => {
      seen.push(headers);
      stream.respond({ ':status': 201, 'x-resp': 'r', 'set-cookie': ['a=1', 'b=2'] });
      stream.end();
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    stopAfter(() => new Promise<void>((r) => backend.close(() => r())));
    const h2Port = (backend.address() as AddressInfo).port;
    const sent = {
      'x-custom': 'yes',
      'x-multi': ['1', '2'],
      'x-forwarded-for': '203.0.113.7',
      'x-request-id': 'from-client',
      cookie: 'a=1',
    };
    const plain = forward('h', {}, { name: 'plain', matches: [{ uri: { prefix: '/plain' } }] });
    const ops = forward(
      'h',
      {},
      { name: 'ops', requestHeaders: { set: [['x-env', 'test']], remove: ['x-custom'] }, responseHeaders: { remove: ['x-resp'] } },
    );
    const { port } = await proxyFor(config([plain, ops], [cluster('h', [h2Port], { upstreamProtocol: 'h2' })]));
    const session = h2c(port);
    stopAfter(async () => void session.close());
    const [plainReply, opsReply] = [
      await h2request(session, { ':path': '/plain', ...sent }),
      await h2request(session, { ':path': '/ops', ...sent }),
    ];
    // The response comes back as the backend sent it, but for the route's operations.
    expect(plainReply).toMatchObject({ status: 201, headers: { 'x-resp': 'r', 'set-cookie': ['a=1', 'b=2'] } });
    expect(opsReply).toMatchObject({ status: 201, headers: { 'set-cookie': ['a=1', 'b=2'] } });
    expect(opsReply.headers['x-resp']).toBeUndefined();
    const [direct, withOps] = seen;
    expect(direct).toMatchObject({
      ':path': '/plain',
      ':authority': 'alpha.example.com',
      'x-custom': 'yes',
      'x-multi': '1, 2',
      cookie: 'a=1',
    });
    expect(direct).toMatchObject({ 'x-forwarded-for': '203.0.113.7, 127.0.0.1', 'x-forwarded-proto': 'http' });
    // A gateway's client is external: its request id is replaced.
    expect(direct['x-request-id']).not.toBe('from-client');
    expect(withOps).toMatchObject({ ':path': '/ops', 'x-env': 'test', 'x-multi': '1, 2', 'x-forwarded-for': '203.0.113.7, 127.0.0.1' });
    expect(withOps['x-custom']).toBeUndefined();
    // Apart from the route's operations and the request id, the two heads are alike.
    const rest = (h: http2.IncomingHttpHeaders) => {
      const { ':path': _p, 'x-request-id': _id, 'x-custom': _c, 'x-env': _e, ...others } = h;
      return others;
    };
    expect(rest(withOps)).toEqual(rest(direct));
  });

  test('no route: a 404 for an HTTP/2 client, an UNIMPLEMENTED gRPC reply for a gRPC one', async () => {
    const b = await withBackend('a');
    const { port } = await proxyFor(config([forward('a', {}, { matches: [{ uri: { prefix: '/only' } }] })], [cluster('a', [b.port])]));
    const session = h2c(port);
    stopAfter(async () => void session.close());
    expect((await h2request(session, { ':path': '/elsewhere' })).status).toBe(404);
    const g = await unary(client(port), { text: 'hi' });
    expect(g.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  test('gRPC unary, server-streaming, client-streaming and bidi calls go through, trailers and all', async () => {
    const s = await echo();
    const { port } = await proxyFor(config([forward('g')], [cluster('g', [s.port], { upstreamProtocol: 'h2' })]));
    const c = client(port);
    const u = await unary(c, { text: 'one' });
    expect(u).toMatchObject({ code: grpc.status.OK, reply: { text: 'echo:one' } });
    // A trailer the server set reaches the client (trailers relayed end to end).
    expect(u.trailers?.get('x-served-by')).toEqual(['echo']);
    expect(await collect<Msg>(c.serverStream({ text: 's', n: 4 }))).toEqual([0, 1, 2, 3].map((n) => ({ text: `s#${n}`, n })));
    const cs = await new Promise<Msg | undefined>((resolve, reject) => {
      const call = c.clientStream((err, r) => (err ? reject(err) : resolve(r)));
      for (const t of ['a', 'b', 'c']) call.write({ text: t });
      call.end();
    });
    expect(cs).toEqual({ text: 'a,b,c', n: 3 });
    const bidi = c.bidi();
    const replies: string[] = [];
    const ended = new Promise<void>((r) => bidi.on('end', r));
    bidi.on('data', (m: Msg) => {
      replies.push(m.text);
      // Each reply prompts the next message: both directions stream at once.
      if (replies.length < 3) bidi.write({ text: `m${replies.length}` });
      else bidi.end();
    });
    bidi.write({ text: 'm0' });
    await ended;
    expect(replies).toEqual(['re:m0', 're:m1', 're:m2']);
    expect(s.calls).toEqual({ unary: 1, serverStream: 1, clientStream: 1, bidi: 1 });
  });

  test('routing by gRPC method: a path match sends one method to another cluster', async () => {
    const one = await echo('one');
    const two = await echo('two');
    const routes = [
      forward('two', {}, { name: 'unary', matches: [{ uri: { exact: '/echo.Echo/Unary' } }] }),
      forward('one', {}, { name: 'rest', matches: [{ uri: { prefix: '/echo.Echo/' } }] }),
    ];
    const clusters = [cluster('one', [one.port], { upstreamProtocol: 'h2' }), cluster('two', [two.port], { upstreamProtocol: 'h2' })];
    const { port } = await proxyFor(config(routes, clusters));
    const c = client(port);
    expect((await unary(c, { text: 'x' })).reply).toEqual({ text: 'two:x' });
    await collect(c.serverStream({ text: 'y', n: 1 }));
    expect(one.calls).toEqual({ serverStream: 1 });
    expect(two.calls).toEqual({ unary: 1 });
  });

  test('grpc_response_status and the HTTP/2 protocol in the metrics', async () => {
    const s = await echo();
    const { port, proxy } = await proxyFor(config([forward('g')], [cluster('g', [s.port], { upstreamProtocol: 'h2' })]));
    const c = client(port);
    await unary(c, { text: 'ok' });
    s.failNext(1, grpc.status.NOT_FOUND);
    expect((await unary(c, { text: 'bad' })).code).toBe(grpc.status.NOT_FOUND);
    const text = proxy.renderMetrics();
    expect(text).toMatch(/istio_requests_total\{[^}]*request_protocol="grpc",response_code="200"[^}]*grpc_response_status="0"\} 1/);
    expect(text).toMatch(/istio_requests_total\{[^}]*grpc_response_status="5"\} 1/);
  });
});
