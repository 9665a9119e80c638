/**
 * One small app for every bookinfo service: it answers with its name and version, and calls the
 * services in CALLS (productpage → details, reviews; reviews v2/v3 → ratings). Calls go through
 * the sidecar when MAST_OUTBOUND (host:port of its outbound listener) is set: as an HTTP proxy,
 * with the absolute URL in the request line, because Node's fetch ignores HTTP_PROXY unless
 * NODE_USE_ENV_PROXY is set. Trace and routing headers are passed on. A `grpc://host:port` URL
 * in CALLS is a gRPC call of `bookinfo.Ratings/Get` (ratings-client.ts) instead.
 *
 * ratings also serves that gRPC service (ratings-grpc.ts), on its HTTP port (a connection that
 * opens with the HTTP/2 preface is gRPC: serve.ts) and on GRPC_PORT when set.
 *
 * Two request headers make a service misbehave on purpose, for demos and end-to-end tests;
 * they travel with the request like the trace headers: `x-bookinfo-fail: <service>[=<status>]`
 * (that service answers 503 or the status) and `x-bookinfo-delay: <service>=<ms>` (it waits
 * first, at most 30 s).
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import { callRatings } from './ratings-client';
import { knob, ratingsServer } from './ratings-grpc';
import { listen } from './serve';

export interface AppOptions {
  readonly service: string;
  readonly version: string;
  readonly port: number;
  /** URLs to call on each request, e.g. http://details:9080. */
  readonly calls: string[];
  /** host:port of the sidecar's outbound listener. @default - call directly */
  readonly outbound?: string;
  /** @default '0.0.0.0' */
  readonly host?: string;
  /** Serve the `bookinfo.Ratings` gRPC service too. @default - when the service is ratings */
  readonly grpc?: boolean;
  /** A second port for gRPC alone (a Kubernetes Service port named `grpc`). @default - none */
  readonly grpcPort?: number;
}

/** Headers a request carries on to the services it calls (tracing, and what routes depend on). */
export const PROPAGATED = [
  'x-request-id',
  'traceparent',
  'tracestate',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'b3',
  'end-user',
  'x-bookinfo-fail',
  'x-bookinfo-delay',
];

function call(url: string, headers: http.OutgoingHttpHeaders, outbound?: string): Promise<unknown> {
  const target = new URL(url);
  const [host, port] = outbound ? outbound.split(':') : [target.hostname, target.port || '80'];
  return new Promise((resolve) => {
    const req = http.request(
      {
        host,
        port: Number(port),
        path: outbound ? target.href : `${target.pathname}${target.search}`,
        headers: { ...headers, host: target.host },
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode, ...JSON.parse(body) });
          } catch {
            resolve({ status: res.statusCode, body });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ url, error: err.message }));
    req.end();
  });
}

/**
 * Starts the app; the server returned listens on `port` (closing it closes the gRPC port too).
 * Both speak HTTP/1.1, and gRPC (HTTP/2 with prior knowledge) when it serves gRPC.
 */
export async function startApp(o: AppOptions): Promise<net.Server> {
  const http1 = http.createServer(async (req, res) => {
    if (req.url === '/health') return void res.end('ok\n');
    const delay = Number(knob(req.headers['x-bookinfo-delay'], o.service));
    if (delay > 0) await new Promise((r) => setTimeout(r, Math.min(delay, 30_000)));
    const fail = knob(req.headers['x-bookinfo-fail'], o.service);
    if (fail !== undefined) {
      res.writeHead(Number(fail) >= 400 && Number(fail) <= 599 ? Number(fail) : 503, {
        'content-type': 'application/json',
        'x-service': `${o.service}-${o.version}`,
      });
      return void res.end(JSON.stringify({ service: o.service, version: o.version, error: 'failing on request (x-bookinfo-fail)' }));
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const name of PROPAGATED) if (req.headers[name] !== undefined) headers[name] = req.headers[name];
    const calls = await Promise.all(
      o.calls.map((url) =>
        url.startsWith('grpc://')
          ? callRatings(url, { productId: 0, path: req.url }, headers as Record<string, string>, o.outbound)
          : call(`${url.replace(/\/$/, '')}${req.url}`, headers, o.outbound),
      ),
    );
    const body = JSON.stringify({ service: o.service, version: o.version, path: req.url, ...(calls.length ? { calls } : {}) });
    res.writeHead(200, { 'content-type': 'application/json', 'x-service': `${o.service}-${o.version}` });
    res.end(body);
  });
  const grpc = (o.grpc ?? o.service === 'ratings') ? ratingsServer(o) : undefined;
  const host = o.host ?? '0.0.0.0';
  const server = await listen(o.port, host, http1, grpc?.injector);
  const grpcOnly = grpc && o.grpcPort !== undefined ? await listen(o.grpcPort, host, undefined, grpc.injector) : undefined;
  server.once('close', () => {
    grpcOnly?.close();
    grpc?.server.forceShutdown();
  });
  return server;
}

if (require.main === module) {
  const env = process.env;
  // Under `mast local`, stop when the supervisor does (it holds stdin open).
  if (env.MAST_STOP_WITH_PARENT === '1') {
    process.stdin.on('end', () => process.exit(0)).on('close', () => process.exit(0));
    process.stdin.resume();
  }
  process.once('SIGTERM', () => process.exit(0));
  startApp({
    service: env.SERVICE ?? 'app',
    version: env.VERSION ?? 'v1',
    port: Number(env.PORT ?? 9080),
    calls: (env.CALLS ?? '').split(',').filter(Boolean),
    outbound: env.MAST_OUTBOUND,
    host: env.HOST,
    ...(env.GRPC_PORT ? { grpcPort: Number(env.GRPC_PORT) } : {}),
  }).then((s) => console.log(`${env.SERVICE ?? 'app'} ${env.VERSION ?? 'v1'} listening on ${(s.address() as { port: number }).port}`));
}
