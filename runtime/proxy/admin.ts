/** The admin port: readiness, Prometheus stats, config dump, clusters, log level. Not on the request path. */
import * as http from 'node:http';
import type { Proxy } from './runtime';

export interface AdminState {
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export function startAdmin(proxy: Proxy, port: number, state: AdminState, host = '127.0.0.1'): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    switch (url.pathname) {
      case '/ready':
      case '/healthz/ready':
        return proxy.config && !proxy.draining ? send(200, 'LIVE\n') : send(503, proxy.draining ? 'DRAINING\n' : 'NO CONFIG\n');
      case '/stats/prometheus':
        return send(200, proxy.renderMetrics(), 'text/plain; version=0.0.4');
      case '/config_dump':
        return send(200, JSON.stringify({ identity: proxy.identity, version: proxy.config?.version ?? null, lastError: proxy.lastError ?? null, skippedListeners: proxy.skipped, config: proxy.config ?? null }, null, 2), 'application/json');
      case '/clusters':
        return send(200, JSON.stringify(proxy.clustersReport(), null, 2), 'application/json');
      case '/logging': {
        const level = url.searchParams.get('level');
        if (req.method === 'POST' && level) {
          if (!['debug', 'info', 'warn', 'error'].includes(level)) return send(400, `unknown level "${level}"\n`);
          state.logLevel = level as AdminState['logLevel'];
        }
        return send(200, `level: ${state.logLevel}\n`);
      }
      default:
        return send(404, 'not found: /ready /stats/prometheus /config_dump /clusters /logging\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** The status port: only readiness and stats, on every interface (kubelet probes the pod IP; Prometheus scrapes it). */
export function startStatus(proxy: Proxy, port: number, host = '0.0.0.0'): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://status').pathname;
    const ready = proxy.config && !proxy.draining;
    const [status, body, type] =
      path === '/healthz/ready' || path === '/ready'
        ? [ready ? 200 : 503, ready ? 'LIVE\n' : proxy.draining ? 'DRAINING\n' : 'NO CONFIG\n', 'text/plain']
        : path === '/stats/prometheus'
          ? [200, proxy.renderMetrics(), 'text/plain; version=0.0.4']
          : [404, 'not found: /healthz/ready /stats/prometheus\n', 'text/plain'];
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
