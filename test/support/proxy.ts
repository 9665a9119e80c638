/** Real sockets on loopback: backends that record what they saw, a proxy, and raw requests. */
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { MeshProxy } from '../../runtime/proxy/mesh-proxy';
import { DEFAULT_LIMITS, type Limits } from '../../runtime/proxy/http/head';
import type { ClusterConfig, ProxyConfig, RouteConfig } from '../../runtime/contract/proxy-config';

export interface Backend {
  readonly port: number;
  readonly seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>;
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

export async function backend(name: string, handler?: Handler): Promise<Backend> {
  const seen: Backend['seen'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (handler) return handler(req, res, seen.length);
      res.setHeader('x-backend', name);
      res.end(`${name} ${req.url}`);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
  };
}

export function cluster(name: string, ports: number[], extra: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    name,
    host: `${name}.default.svc.cluster.local`,
    port: 80,
    endpoints: ports.map((port) => ({ address: '127.0.0.1', port })),
    lb: { kind: 'round_robin' },
    connectTimeoutMs: 1000,
    ...extra,
  };
}

export function config(routes: RouteConfig[], clusters: ClusterConfig[], version = 'v1'): ProxyConfig {
  return {
    schema: 1,
    version,
    listeners: [
      { name: 'l', port: 0, matchPort: 80, protocol: 'http', virtualHosts: [{ name: 'vh', domains: ['alpha.example.com'], routes }] },
    ],
    clusters,
  };
}

export function forward(
  cluster: string,
  more: Partial<Extract<RouteConfig['action'], { kind: 'forward' }>> = {},
  route: Partial<RouteConfig> = {},
): RouteConfig {
  return { name: route.name ?? 'r', matches: [], ...route, action: { kind: 'forward', destinations: [{ cluster, weight: 100 }], ...more } };
}

export async function startProxy(
  cfg: ProxyConfig,
  limits: Partial<Limits> = {},
): Promise<{ proxy: MeshProxy; port: number; stop(): Promise<void> }> {
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'test-gateway', namespace: 'mast-system' }, undefined, {
    ...DEFAULT_LIMITS,
    ...limits,
  });
  const result = await proxy.apply(cfg);
  if (!result.ok) throw new Error(result.error);
  return { proxy, port: proxy.boundPort('l')!, stop: () => proxy.drain(100) };
}

/** Backends and proxies started by a test, stopped after it: call once at a test file's top level. */
export function stoppedAfterEach() {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  async function withBackend(name: string, handler?: Handler): Promise<Backend> {
    const b = await backend(name, handler);
    cleanups.push(() => b.close());
    return b;
  }
  return {
    /** Anything else to stop after the test. */
    stopAfter(stop: () => Promise<void>): void {
      cleanups.push(stop);
    },
    withBackend,
    async proxyFor(...args: Parameters<typeof startProxy>) {
      const p = await startProxy(...args);
      cleanups.push(() => p.stop());
      return p;
    },
    /** A backend that answers `/hold/*` only when the test ends a response of `held`; anything else at once ("quick"). */
    async holdingBackend(): Promise<{ b: Backend; held: http.ServerResponse[] }> {
      const held: http.ServerResponse[] = [];
      const b = await withBackend('b', (req, res) => {
        if (req.url?.startsWith('/hold')) held.push(res);
        else res.end('quick');
      });
      return { b, held };
    },
    /** The port of a peer that accepts and never reads: what is sent to it piles up once the kernel's buffers are full. */
    async neverReading(): Promise<number> {
      const server = net.createServer({ pauseOnConnect: true }, (s) => s.on('error', () => undefined));
      const sockets = new Set<net.Socket>();
      server.on('connection', (s) => sockets.add(s));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
      return (server.address() as AddressInfo).port;
    },
  };
}

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
}

/** One request over a fresh keep-alive-less connection. */
export function get(port: number, path = '/', headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Reply> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method, headers: { host: 'alpha.example.com', ...headers }, agent: false },
      (res) => {
        let data = '';
        res.on('data', (c) => (data += c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers as Record<string, string>, body: data, ms: Date.now() - t0 }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Raw bytes in, the whole raw reply out (until the server closes or `ms` pass). */
export function raw(port: number, bytes: string, ms = 1000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes, 'latin1'));
    let out = '';
    const done = () => (clearTimeout(t), s.destroy(), resolve(out));
    const t = setTimeout(done, ms);
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('close', done);
    s.on('error', done);
  });
}

export { until } from './poll';
