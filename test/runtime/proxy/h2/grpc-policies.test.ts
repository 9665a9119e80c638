/**
 * The route's policies on HTTP/2 and gRPC: HTTPS at the gateway negotiating `h2` by ALPN (curl
 * --http2) beside HTTP/1.1 clients, h2c prior knowledge (curl --http2-prior-knowledge), a retry
 * on a gRPC UNAVAILABLE counted at the server, a client's deadline (grpc-timeout) bounded by the
 * route's timeout, and a fault abort answering its gRPC status.
 */
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ProxyConfig } from '../../../../runtime/contract/proxy-config';
import { selfSigned } from '../../../security/pki';
import { tempDir } from '../../../support/temp-dir';
import { cluster, config, forward, stoppedAfterEach } from '../../support';
import { echoClient, echoServer, unary } from './grpc-echo';

const run = promisify(execFile);
const { withBackend, proxyFor, stopAfter } = stoppedAfterEach();

async function grpcProxy(more: Parameters<typeof forward>[1], route: Parameters<typeof forward>[2] = {}) {
  const s = await echoServer();
  stopAfter(() => s.close());
  const { port, proxy } = await proxyFor(config([forward('g', more, route)], [cluster('g', [s.port], { upstreamProtocol: 'h2' })]));
  const c = echoClient(port);
  stopAfter(async () => c.close());
  return { s, c, proxy };
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

test("a deadline: grpc-timeout shorter than the route's timeout ends a slow call at the proxy; the route's timeout bounds a longer one", async () => {
  const { c } = await grpcProxy({ timeoutMs: 300 });
  const t0 = Date.now();
  // The server answers after 2 s; the client asks for 5 s, the route allows 300 ms.
  const slow = await unary(c, { text: 'slow', n: 2000 }, { deadline: Date.now() + 5000 });
  expect(slow.code).toBe(grpc.status.UNAVAILABLE);
  expect(slow.details).toMatch(/upstream request timeout/);
  expect(Date.now() - t0).toBeLessThan(1500);
  // The client's own 100 ms deadline (grpc-timeout) goes upstream too: the client sees DEADLINE_EXCEEDED.
  const own = await unary(c, { text: 'slow', n: 2000 }, { deadline: Date.now() + 100 });
  expect(own.code).toBe(grpc.status.DEADLINE_EXCEEDED);
});

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
