/**
 * The route's policies on HTTP/2 and gRPC: HTTPS at the gateway negotiating `h2` by ALPN (curl
 * --http2) beside HTTP/1.1 clients, h2c prior knowledge (curl --http2-prior-knowledge), a retry
 * on a gRPC UNAVAILABLE counted at the server, a client's deadline (grpc-timeout) bounded by the
 * route's timeout, and a fault abort answering its gRPC status.
 */
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import * as http2 from 'node:http2';
import { promisify } from 'node:util';
import type { ProxyConfig } from '../../../../runtime/contract/proxy-config';
import { selfSigned } from '../../../security/pki';
import { tempDir } from '../../../support/temp-dir';
import { cluster, config, forward, stoppedAfterEach } from '../../../support/proxy';
import { echoClient, echoServer, type Msg, unary } from './grpc-echo';

const run = promisify(execFile);
const { withBackend, proxyFor, stopAfter } = stoppedAfterEach();

async function grpcProxy(more: Parameters<typeof forward>[1], route: Parameters<typeof forward>[2] = {}) {
  const s = await echoServer();
  stopAfter(() => s.close());
  const { port, proxy } = await proxyFor(config([forward('g', more, route)], [cluster('g', [s.port], { upstreamProtocol: 'h2' })]));
  const c = echoClient(port);
  stopAfter(async () => c.close());
  return { s, c, proxy, port };
}

/** curl's HTTP version and body for one request (`-w` prints the version after the body). */
async function curl(args: string[]): Promise<{ version: string; body: string }> {
  const { stdout } = await run('curl', ['-sS', '-k', '--max-time', '5', '-w', '\n%{http_version}', ...args]);
  const i = stdout.lastIndexOf('\n');
  return { body: stdout.slice(0, i), version: stdout.slice(i + 1) };
}

test('HTTPS at the gateway: curl --http2 negotiates h2 by ALPN, --http1.1 stays HTTP/1.1; h2c with prior knowledge on a plain port', async () => {
  const dir = tempDir('mast-h2-tls-');
  const pair = selfSigned(dir, 'gw', 'spiffe://cluster.local/ns/mast-system/sa/gw');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${dir}/gw.key`, pair.key);
  const b = await withBackend('web');
  const plain = config([forward('web')], [cluster('web', [b.port])]);
  const https: ProxyConfig = {
    ...plain,
    listeners: [{ ...plain.listeners[0], tls: { certificateFile: `${dir}/gw.pem`, keyFile: `${dir}/gw.key` } }],
  };
  const { port: tlsPort } = await proxyFor(https);
  const { port } = await proxyFor(plain);
  const url = `https://alpha.example.com:${tlsPort}/hello`;
  const resolve = ['--resolve', `alpha.example.com:${tlsPort}:127.0.0.1`];
  expect(await curl(['--http2', ...resolve, url])).toEqual({ version: '2', body: 'web /hello' });
  expect(await curl(['--http1.1', ...resolve, url])).toEqual({ version: '1.1', body: 'web /hello' });
  expect(await curl(['--http2-prior-knowledge', '-H', 'host: alpha.example.com', `http://127.0.0.1:${port}/h2c`])).toEqual({
    version: '2',
    body: 'web /h2c',
  });
  // Over TLS the request is https to the backend.
  expect(b.seen[0].headers['x-forwarded-proto']).toBe('https');
});

test('retryOn unavailable: a gRPC UNAVAILABLE (trailers-only) is retried, the server counts both calls, the client gets the success', async () => {
  const { s, c } = await grpcProxy({ retries: { attempts: 2, retryOn: ['unavailable'] } });
  s.failNext(1, grpc.status.UNAVAILABLE);
  expect(await unary(c, { text: 'again' })).toMatchObject({ code: grpc.status.OK, reply: { text: 'echo:again' } });
  expect(s.calls.unary).toBe(2);
  // A status the policy does not name is not retried.
  s.failNext(1, grpc.status.INTERNAL);
  expect((await unary(c, { text: 'once' })).code).toBe(grpc.status.INTERNAL);
  expect(s.calls.unary).toBe(3);
});

test("a deadline: the route's timeout bounds a longer client deadline; grpc-timeout shorter than the route's ends a slow call at the proxy", async () => {
  const { c } = await grpcProxy({ timeoutMs: 300 });
  const t0 = Date.now();
  // The server answers after 2 s; the client asks for 5 s, the route allows 300 ms.
  const slow = await unary(c, { text: 'slow', n: 2000 }, { deadline: Date.now() + 5000 });
  expect(slow.code).toBe(grpc.status.UNAVAILABLE);
  expect(slow.details).toMatch(/upstream request timeout/);
  expect(Date.now() - t0).toBeLessThan(1500);
  // No route timeout, and a client that keeps no timer of its own: its grpc-timeout alone ends the
  // call at the proxy, answered as Envoy answers its timeouts by default (504 → UNAVAILABLE;
  // DEADLINE_EXCEEDED only behind Envoy's opt-in grpc_timeout_returns_deadline_exceeded).
  const open = await grpcProxy({});
  const raw = await rawGrpcCall(open.port, { 'grpc-timeout': '100m' }, { text: 'slow', n: 2000 });
  expect(raw).toMatchObject({ status: 200, grpcStatus: String(grpc.status.UNAVAILABLE), grpcMessage: 'upstream request timeout' });
  // A grpc-js client with its own 100 ms deadline: its timer or the proxy's ends the call, never the server's answer.
  const own = await unary(open.c, { text: 'slow', n: 2000 }, { deadline: Date.now() + 100 });
  expect([grpc.status.DEADLINE_EXCEEDED, grpc.status.UNAVAILABLE]).toContain(own.code);
  expect(own.reply).toBeUndefined();
});

test("a fault's delay comes before the route's timeout starts, as Envoy's router counts it (and HTTP/1.1's exchange)", async () => {
  // Delayed 400 ms, answered 300 ms later: 700 ms in all, within the 500 ms that start after the delay.
  const { c } = await grpcProxy({ timeoutMs: 500 }, { fault: { delay: { ms: 400, fraction: 1 } } });
  const r = await unary(c, { text: 'slow', n: 300 }, { deadline: Date.now() + 5000 });
  expect(r.code).toBe(grpc.status.OK);
  // A server slower than the timeout is still cut, 500 ms after the delay.
  const t0 = Date.now();
  const slow = await unary(c, { text: 'slow', n: 2000 }, { deadline: Date.now() + 5000 });
  expect(slow.code).toBe(grpc.status.UNAVAILABLE);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(850);
});

/** One unary call by node:http2 with the headers given (no client-side timer): the response's status and gRPC status. */
async function rawGrpcCall(port: number, headers: Record<string, string>, m: Msg) {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  stopAfter(async () => session.close());
  const json = Buffer.from(JSON.stringify(m));
  const frame = Buffer.alloc(5 + json.length);
  frame.writeUInt32BE(json.length, 1);
  json.copy(frame, 5);
  const req = session.request({
    ':method': 'POST',
    ':path': '/echo.Echo/Unary',
    ':authority': 'alpha.example.com',
    'content-type': 'application/grpc',
    te: 'trailers',
    ...headers,
  });
  req.end(frame);
  return new Promise<{ status?: number; grpcStatus?: string; grpcMessage?: string }>((resolve, reject) => {
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => (head = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('error', reject);
    req.resume();
    req.on('end', () => {
      const last = { ...head, ...trailers };
      resolve({ status: Number(head[':status']), grpcStatus: last['grpc-status'] as string, grpcMessage: last['grpc-message'] as string });
    });
  });
}

test('a fault abort with a gRPC status answers a gRPC client with that status, the server never called', async () => {
  const { s, c, proxy } = await grpcProxy(
    {},
    { fault: { abort: { status: 503, grpcStatus: grpc.status.RESOURCE_EXHAUSTED, fraction: 1 } } },
  );
  const r = await unary(c, { text: 'x' });
  expect(r.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  expect(s.calls).toEqual({});
  expect(proxy.renderMetrics()).toMatch(/response_flags="FI",grpc_response_status="8"\} 1/);
});
