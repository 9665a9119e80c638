/**
 * gRPC-Web through two proxies (a gateway, then a sidecar-like hop) to a grpc-js server, as a
 * browser's grpc-web client sends it: HTTP/1.1 `application/grpc-web-text` (base64 both ways) and
 * HTTP/2 `application/grpc-web+proto`, translated by whichever hop's listener carries the
 * grpc_web filter (Istio: a GRPC-WEB gateway server, or the inbound of a GRPC-WEB service port);
 * the hop without it relays the call as it came. A local reply is a gRPC-Web status. To a
 * cluster that speaks HTTP/1.1 the call is translated all the same and goes as gRPC over
 * HTTP/1.1, as Envoy's router sends what its grpc_web filter made.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { ProxyConfig } from '../../../../runtime/contract/proxy-config';
import { cluster, config, forward, stoppedAfterEach } from '../../../support/proxy';
import { echoServer } from './grpc-echo';

const { proxyFor, stopAfter } = stoppedAfterEach();

/** A gRPC message frame of a JSON message (the echo service's encoding). */
function messageFrame(m: unknown, flag = 0): Buffer {
  const body = Buffer.from(JSON.stringify(m));
  const f = Buffer.alloc(5 + body.length);
  f[0] = flag;
  f.writeUInt32BE(body.length, 1);
  body.copy(f, 5);
  return f;
}

/** The frames of a gRPC-Web response body: messages, and the trailers frame's lines as a record. */
function readFrames(body: Buffer): { messages: unknown[]; trailers: Record<string, string> } {
  const messages: unknown[] = [];
  const trailers: Record<string, string> = {};
  for (let at = 0; at + 5 <= body.length; ) {
    const size = body.readUInt32BE(at + 1);
    const payload = body.subarray(at + 5, at + 5 + size);
    if (body[at] & 0x80)
      for (const line of payload.toString().split('\r\n').filter(Boolean)) {
        const colon = line.indexOf(':');
        trailers[line.slice(0, colon)] = line.slice(colon + 1);
      }
    else messages.push(JSON.parse(payload.toString()));
    at += 5 + size;
  }
  return { messages, trailers };
}

/** Base64 as a gRPC-Web server sends it: one encoding per frame, each with its padding. */
const fromText = (s: string) => Buffer.concat((s.match(/[^=]+=*/g) ?? []).map((part) => Buffer.from(part, 'base64')));

interface WebReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A grpc-web-text call over HTTP/1.1, as the browser client makes it. */
function textCallH1(port: number, path: string, message: unknown): Promise<WebReply> {
  const body = messageFrame(message).toString('base64');
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: {
          host: 'alpha.example.com',
          'content-type': 'application/grpc-web-text',
          accept: 'application/grpc-web-text',
          'x-grpc-web': '1',
          'content-length': body.length,
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: fromText(Buffer.concat(parts).toString()) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A binary grpc-web call over HTTP/2. */
async function binaryCallH2(port: number, path: string, message: unknown): Promise<WebReply> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  stopAfter(async () => void session.close());
  const stream = session.request({
    ':method': 'POST',
    ':path': path,
    ':authority': 'alpha.example.com',
    'content-type': 'application/grpc-web+proto',
    'x-grpc-web': '1',
  });
  stream.end(messageFrame(message));
  const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
    stream.once('response', resolve);
    stream.once('error', reject);
  });
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return { status: Number(headers[':status']), headers, body: Buffer.concat(parts) };
}

/** Gateway → hop → echo server; `translates` says which proxy's listener has the grpc_web filter. */
async function chain(translates: 'gateway' | 'hop'): Promise<number> {
  const s = await echoServer();
  stopAfter(() => s.close());
  const withFilter = (c: ProxyConfig, on: boolean): ProxyConfig => (on ? { ...c, listeners: [{ ...c.listeners[0], grpcWeb: true }] } : c);
  const hop = await proxyFor(
    withFilter(config([forward('echo')], [cluster('echo', [s.port], { upstreamProtocol: 'h2' })]), translates === 'hop'),
  );
  const gw = await proxyFor(
    withFilter(config([forward('hop')], [cluster('hop', [hop.port], { upstreamProtocol: 'h2' })]), translates === 'gateway'),
  );
  return gw.port;
}

test.each(['gateway', 'hop'] as const)(
  'grpc-web-text over HTTP/1.1, translated at the %s: base64 message and trailers frame back, grpc-status 0 in it',
  async (translates) => {
    const port = await chain(translates);
    const r = await textCallH1(port, '/echo.Echo/Unary', { text: 'browser' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/grpc-web-text+proto');
    const { messages, trailers } = readFrames(r.body);
    expect(messages).toEqual([{ text: 'echo:browser' }]);
    expect(trailers).toMatchObject({ 'grpc-status': '0', 'x-served-by': 'echo' });
  },
);

test.each(['gateway', 'hop'] as const)(
  'grpc-web+proto over HTTP/2, translated at the %s: a server stream in frames, then the trailers frame',
  async (translates) => {
    const port = await chain(translates);
    const r = await binaryCallH2(port, '/echo.Echo/ServerStream', { text: 's', n: 3 });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/grpc-web+proto');
    const { messages, trailers } = readFrames(r.body);
    expect(messages).toEqual([
      { text: 's#0', n: 0 },
      { text: 's#1', n: 1 },
      { text: 's#2', n: 2 },
    ]);
    expect(trailers['grpc-status']).toBe('0');
  },
);

test('a local reply to a gRPC-Web call is a gRPC-Web status: no route is 404 with grpc-status 12, on both HTTP versions', async () => {
  const port = await chain('gateway');
  // A host no virtual host has.
  const h1 = await new Promise<WebReply>((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/x',
        method: 'POST',
        headers: { host: 'other.example.com', 'content-type': 'application/grpc-web' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.alloc(0) }));
      },
    );
    req.end(messageFrame({ text: 'x' }));
  });
  expect(h1.status).toBe(404);
  expect(h1.headers).toMatchObject({ 'content-type': 'application/grpc-web+proto', 'grpc-status': '12', 'content-length': '0' });
  const session = http2.connect(`http://127.0.0.1:${port}`);
  stopAfter(async () => void session.close());
  const stream = session.request({
    ':method': 'POST',
    ':path': '/x',
    ':authority': 'other.example.com',
    'content-type': 'application/grpc-web',
  });
  stream.end(messageFrame({ text: 'x' }));
  const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
  stream.resume();
  expect(headers).toMatchObject({ ':status': 404, 'content-type': 'application/grpc-web+proto', 'grpc-status': '12' });
});

test("a grpc-web-text body that is not base64 is answered 400 (grpc-status 13), as Envoy's filter answers it", async () => {
  const port = await chain('gateway');
  const r = await new Promise<WebReply>((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/echo.Echo/Unary',
        method: 'POST',
        headers: { host: 'alpha.example.com', 'content-type': 'application/grpc-web-text', 'content-length': 5 },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.alloc(0) }));
      },
    );
    req.end('AA*A!');
  });
  expect(r.status).toBe(400);
  expect(r.headers['grpc-status']).toBe('13');
});

/** An HTTP/1.1 app answering gRPC over HTTP/1.1: the message back in a chunked body, `grpc-status: 0` as a trailer; what it received kept. */
async function grpcOverHttp1(): Promise<{ port: number; seen: Array<{ headers: http.IncomingHttpHeaders; body: Buffer }> }> {
  const seen: Array<{ headers: http.IncomingHttpHeaders; body: Buffer }> = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      seen.push({ headers: req.headers, body });
      if (req.headers['content-type'] !== 'application/grpc') return void res.writeHead(415).end();
      const { text } = JSON.parse(body.subarray(5).toString());
      res.writeHead(200, { 'content-type': 'application/grpc', trailer: 'grpc-status' });
      res.addTrailers({ 'grpc-status': '0' });
      res.end(messageFrame({ text: `h1:${text}` }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => server.close(() => r())));
  return { port: (server.address() as import('node:net').AddressInfo).port, seen };
}

test.each(['grpc-web-text over HTTP/1.1', 'grpc-web+proto over HTTP/2'] as const)(
  '%s to a cluster that speaks HTTP/1.1: translated, the app gets gRPC over HTTP/1.1, the client a gRPC-Web answer',
  async (call) => {
    const app = await grpcOverHttp1();
    const cfg = config([forward('app')], [cluster('app', [app.port])]);
    const gw = await proxyFor({ ...cfg, listeners: [{ ...cfg.listeners[0], grpcWeb: true }] });
    const r =
      call === 'grpc-web-text over HTTP/1.1'
        ? await textCallH1(gw.port, '/echo.Echo/Unary', { text: 'browser' })
        : await binaryCallH2(gw.port, '/echo.Echo/Unary', { text: 'browser' });
    expect(app.seen).toHaveLength(1);
    expect(app.seen[0].headers).toMatchObject({ 'content-type': 'application/grpc', te: 'trailers' });
    expect(app.seen[0].body).toEqual(messageFrame({ text: 'browser' }));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(
      call === 'grpc-web-text over HTTP/1.1' ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto',
    );
    const { messages, trailers } = readFrames(r.body);
    expect(messages).toEqual([{ text: 'h1:browser' }]);
    expect(trailers).toMatchObject({ 'grpc-status': '0' });
  },
);
