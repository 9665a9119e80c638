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
        return send(200, proxy.metrics.render(), 'text/plain; version=0.0.4');
      case '/config_dump':
        return send(200, JSON.stringify({ identity: proxy.identity, version: proxy.config?.version ?? null, lastError: proxy.lastError ?? null, config: proxy.config ?? null }, null, 2), 'application/json');
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
