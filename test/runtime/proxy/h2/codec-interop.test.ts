/**
 * The JavaScript HTTP/2 codec against real peers on loopback, through its relay (server role
 * towards the client, client role towards the upstream): node:http2 on both sides, curl with
 * prior knowledge, nghttp, h2load, and @grpc/grpc-js calls of all four kinds. Bodies, trailers,
 * reset codes and flow control (a slow reader slows the writer) end to end.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { ensureCommand } from '../../../support/apt';
import { type RunningRelay, startRelay } from './codec-relay';
import { collect, type EchoServer, echoClient, echoServer, type Msg, unary } from './grpc-echo';

const run = promisify(execFile);
jest.setTimeout(30_000);

/** The upstream: echoes a POST's sha256 and length, streams `?bytes=N` of zeros, resets `/reset`, with trailers. */
let backend: http2.Http2Server;
let backendPort: number;
/** Bytes the streaming route has handed to its stream so far (the slow-reader test reads it). */
let streamed = 0;
let relay: RunningRelay;

beforeAll(async () => {
  backend = http2.createServer();
  backend.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const url = new URL(headers[':path'] ?? '/', 'http://x');
    if (url.pathname === '/reset') return stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    if (url.pathname === '/stream') {
      const total = Number(url.searchParams.get('bytes'));
      stream.respond({ ':status': 200 });
      const chunk = Buffer.alloc(16384);
      const more = () => {
        while (streamed < total) {
          streamed += chunk.length;
          if (!stream.write(chunk)) return void stream.once('drain', more);
        }
        stream.end();
      };
      streamed = 0;
      return more();
    }
    const hash = createHash('sha256');
    let length = 0;
    stream.on('data', (d: Buffer) => {
      hash.update(d);
      length += d.length;
    });
    stream.on('end', () => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200, 'x-echo-path': url.pathname, 'x-got': headers['x-sent'] ?? '' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-sha256': hash.digest('hex') }));
      stream.end(`${length}`);
    });
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  backendPort = (backend.address() as AddressInfo).port;
  relay = await startRelay(backendPort);
});

afterAll(async () => {
  await relay.close();
  await new Promise((r) => backend.close(r));
});

/** One request with node:http2: status, headers, body, trailers, or the reset code. */
function request(port: number, path: string, body?: Buffer, headers: http2.OutgoingHttpHeaders = {}) {
  return new Promise<{
    status?: number;
    headers?: http2.IncomingHttpHeaders;
    body: string;
    trailers?: http2.IncomingHttpHeaders;
    rst?: number;
  }>((resolve) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', () => undefined);
    const req = client.request({ ':method': body ? 'POST' : 'GET', ':path': path, ...headers }, { endStream: !body });
    const out: { status?: number; headers?: http2.IncomingHttpHeaders; body: string; trailers?: http2.IncomingHttpHeaders; rst?: number } =
      { body: '' };
    req.on('response', (h) => {
      out.status = Number(h[':status']);
      out.headers = h;
    });
    req.on('trailers', (t) => (out.trailers = t));
    req.on('data', (d: Buffer) => (out.body += d.toString()));
    req.on('error', () => undefined);
    req.on('close', () => {
      out.rst = req.rstCode;
      client.close();
      resolve(out);
    });
    if (body) req.end(body);
  });
}

describe('node:http2 through the codec relay', () => {
  it('carries a request head and a response head, body and trailers', async () => {
    const r = await request(relay.port, '/hello', undefined, { 'x-sent': 'yes' });
    expect(r.status).toBe(200);
    expect(r.headers?.['x-echo-path']).toBe('/hello');
    expect(r.headers?.['x-got']).toBe('yes');
    expect(r.body).toBe('0');
    expect(r.trailers?.['x-sha256']).toBe(createHash('sha256').digest('hex'));
  });

  it('carries a 3 MB request body intact (past every window, both ways)', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
    const r = await request(relay.port, '/upload', body);
    expect(r.body).toBe(String(body.length));
    expect(r.trailers?.['x-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('passes the upstream’s RST_STREAM code to the client', async () => {
    const r = await request(relay.port, '/reset');
    expect(r.status).toBeUndefined();
    expect(r.rst).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  });

  it('carries 200 concurrent streams on one connection', async () => {
    const client = http2.connect(`http://127.0.0.1:${relay.port}`);
    const one = (i: number) =>
      new Promise<string>((resolve, reject) => {
        const req = client.request({ ':method': 'POST', ':path': `/n${i}` });
        let body = '';
        req.on('data', (d: Buffer) => (body += d));
        req.on('end', () => resolve(body));
        req.on('error', reject);
        req.end(Buffer.alloc(i));
      });
    const bodies = await Promise.all(Array.from({ length: 200 }, (_, i) => one(i)));
    client.close();
    expect(bodies).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
  });

  it('slows the upstream writer to a slow reader: of a 64 MB response, little more than the windows is sent ahead', async () => {
    const client = http2.connect(`http://127.0.0.1:${relay.port}`);
    const req = client.request({ ':path': '/stream?bytes=67108864' });
    let read = 0;
    req.on('data', (d: Buffer) => {
      read += d.length;
      req.pause(); // the reader stops after its first chunk
    });
    await new Promise((r) => setTimeout(r, 1500));
    // The client's window (64 KiB), the relay's two windows, node:http2's buffers, the loopback socket buffers.
    expect(read).toBeGreaterThan(0);
    expect(streamed).toBeLessThan(8 * 1024 * 1024);
    const ahead = streamed;
    await new Promise((r) => setTimeout(r, 500));
    expect(streamed).toBe(ahead); // stalled, not trickling
    // Reading again drains it all.
    req.removeAllListeners('data');
    req.on('data', (d: Buffer) => (read += d.length));
    req.resume();
    await new Promise((r) => req.on('end', r));
    expect(read).toBe(67108864);
    client.close();
  });
});

// nghttp and h2load come with Debian's nghttp2-client (installed here when missing and root).
const noTools = ensureCommand('h2load', 'nghttp2-client');
if (noTools) console.log(`codec interop with nghttp and h2load skipped: ${noTools}`);

(noTools ? describe.skip : describe)('tools through the codec relay', () => {
  it('curl --http2-prior-knowledge', async () => {
    const { stdout } = await run('curl', [
      '-sS',
      '-m',
      '5',
      '--http2-prior-knowledge',
      '-w',
      ' %{http_version} %{http_code}',
      `http://127.0.0.1:${relay.port}/curl`,
    ]);
    expect(stdout).toBe('0 2 200');
  });

  it('nghttp with a posted body (the trailers come through)', async () => {
    const { stdout } = await run('nghttp', ['-v', '-d', '/etc/hostname', `http://127.0.0.1:${relay.port}/nghttp`], { timeout: 5000 });
    // The trailers: a header block with END_STREAM | END_HEADERS (flags 0x05) after the body.
    expect(stdout).toMatch(/x-sha256: [0-9a-f]{64}\s+\[[^\]]+\] recv HEADERS frame <[^>]*flags=0x05/);
  });

  it('h2load: 5000 requests on 4 connections, 20 streams each, all answered', async () => {
    const { stdout } = await run('h2load', ['-n', '5000', '-c', '4', '-m', '20', `http://127.0.0.1:${relay.port}/load`], {
      timeout: 25_000,
    });
    expect(stdout).toMatch(/5000 succeeded, 0 failed, 0 errored/);
  });
});

describe('@grpc/grpc-js through the codec relay', () => {
  let echo: EchoServer;
  let grpcRelay: RunningRelay;
  beforeAll(async () => {
    echo = await echoServer('codec');
    grpcRelay = await startRelay(echo.port);
  });
  afterAll(async () => {
    await grpcRelay.close();
    await echo.close();
  });

  it('unary, with the trailers', async () => {
    const r = await unary(echoClient(grpcRelay.port), { text: 'hi' });
    expect(r.reply).toEqual({ text: 'codec:hi' });
    expect(r.trailers?.get('x-served-by')).toEqual(['codec']);
  });

  it('a failing unary call keeps its status (trailers-only response)', async () => {
    echo.failNext(1, grpc.status.RESOURCE_EXHAUSTED);
    const r = await unary(echoClient(grpcRelay.port), { text: 'x' });
    expect([r.code, r.details]).toEqual([grpc.status.RESOURCE_EXHAUSTED, 'told to fail']);
  });

  it('server streaming', async () => {
    const got = await collect<Msg>(echoClient(grpcRelay.port).serverStream({ text: 's', n: 50 }));
    expect(got.map((m) => m.n)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('client streaming', async () => {
    const r = await new Promise<Msg | undefined>((resolve, reject) => {
      const call = echoClient(grpcRelay.port).clientStream((err, m) => (err ? reject(err) : resolve(m)));
      for (let i = 0; i < 20; i++) call.write({ text: `m${i}` });
      call.end();
    });
    expect(r?.n).toBe(20);
  });

  it('bidirectional', async () => {
    const call = echoClient(grpcRelay.port).bidi();
    const got = collect<Msg>(call);
    for (const t of ['a', 'b', 'c']) call.write({ text: t });
    call.end();
    expect((await got).map((m) => m.text)).toEqual(['re:a', 're:b', 're:c']);
  });
});
