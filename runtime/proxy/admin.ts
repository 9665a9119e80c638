/**
 * The admin port (readiness, Prometheus stats, config dump, clusters, memory, log level) and the status
 * port (readiness and stats on every interface). Not on the request path.
 *
 * They speak just the HTTP/1.1 that probes, scrapes and curl need: one request per connection,
 * its head read with the proxy's own parser, the answer sent with `connection: close`; a request
 * body is not read. `node:http` would hold ≈ 0.8 MB resident in every proxy for this (measured
 * in a gateway on Node 24 after load), and nothing else in a proxy uses it.
 */
import * as net from 'node:net';
import type { MeshProxy } from './mesh-proxy';
import { DEFAULT_LIMITS, headEnd, HttpError, parseRequestHead } from './http/head';
import { localResponse } from './http/write';
import { probeApp, type AppProbers } from './app-probe';
import { type AppScrape, mergeExposition, scrapeApp } from './app-metrics';
import { isLevel, LOGGERS, type LogLevel } from './log-levels';
import { memoryReport } from './memory-report';

export interface AdminState {
  logLevel: LogLevel;
}

/** status, body, content type */
type Answer = readonly [number, string, string];
type Handler = (method: string, url: URL) => Answer | Promise<Answer>;

/** A connection quiet for this long is closed: a head that never completes, a client that never closes after its answer. */
const QUIET_TIMEOUT_MS = 10_000;
const TEXT = 'text/plain; charset=utf-8';
const PROMETHEUS = 'text/plain; version=0.0.4';
const JSON_TYPE = 'application/json';

function readiness(proxy: MeshProxy): Answer {
  if (proxy.config && !proxy.draining) return [200, 'LIVE\n', TEXT];
  return [503, proxy.draining ? 'DRAINING\n' : 'NO CONFIG\n', TEXT];
}

export function adminHandler(proxy: MeshProxy, state: AdminState): Handler {
  return (method, url) => {
    switch (url.pathname) {
      case '/ready':
      case '/healthz/ready':
        return readiness(proxy);
      case '/stats/prometheus':
        return [200, proxy.renderMetrics(), PROMETHEUS];
      case '/config_dump':
        return [
          200,
          JSON.stringify(
            {
              identity: proxy.identity,
              version: proxy.config?.version ?? null,
              lastError: proxy.lastError ?? null,
              skippedListeners: proxy.skipped,
              config: proxy.config ?? null,
            },
            null,
            2,
          ),
          JSON_TYPE,
        ];
      case '/clusters':
        return [200, JSON.stringify(proxy.clustersReport(), null, 2), JSON_TYPE];
      case '/memory':
        return [200, JSON.stringify(memoryReport(), null, 2), JSON_TYPE];
      case '/logging': {
        // As Envoy's: `?level=` sets every logger, `?<logger>=` one (log-levels.ts).
        if (method === 'POST') {
          const level = url.searchParams.get('level');
          const loggers = LOGGERS.filter((l) => url.searchParams.has(l));
          for (const value of [level, ...loggers.map((l) => url.searchParams.get(l))])
            if (value !== null && !isLevel(value)) return [400, `unknown level "${value}"\n`, TEXT];
          if (level) {
            state.logLevel = level as LogLevel;
            proxy.logLevels.set(state.logLevel);
          }
          for (const l of loggers) proxy.logLevels.set(url.searchParams.get(l) as LogLevel, l);
        }
        const overrides = proxy.logLevels.overrides().map(([l, v]) => `${l}: ${v}\n`);
        return [200, `level: ${state.logLevel}\n${overrides.join('')}`, TEXT];
      }
      default:
        return [404, 'not found: /ready /stats/prometheus /config_dump /clusters /memory /logging\n', TEXT];
    }
  };
}

/** The proxy's metrics and, when injection said the app has its own (app-metrics.ts), the app's after them. */
async function mergedMetrics(proxy: MeshProxy, app: AppScrape): Promise<Answer> {
  const scraped = await scrapeApp(app);
  if ('error' in scraped) proxy.metrics.inc('mast_app_scrape_failures_total');
  return [200, mergeExposition(proxy.renderMetrics(), 'text' in scraped ? scraped.text : ''), PROMETHEUS];
}

export function statusHandler(proxy: MeshProxy, probers: AppProbers, app?: AppScrape): Handler {
  return (_method, url) => {
    if (url.pathname === '/healthz/ready' || url.pathname === '/ready') return readiness(proxy);
    if (url.pathname === '/stats/prometheus') return app ? mergedMetrics(proxy, app) : [200, proxy.renderMetrics(), PROMETHEUS];
    const prober = probers.get(url.pathname);
    if (prober) return probeApp(prober).then(({ status, body }) => [status, body, TEXT] as const);
    return [404, `not found: /healthz/ready /stats/prometheus${[...probers.keys()].map((p) => ` ${p}`).join('')}\n`, TEXT];
  };
}

/** One request, one answer, then the connection closes; a malformed or oversized head gets its 4xx. */
function answerOne(socket: net.Socket, handle: Handler, quietMs: number): void {
  let buf: Buffer = Buffer.alloc(0);
  const reply = ([status, body, type]: Answer) => socket.end(localResponse(status, body, false, [], type));
  socket.setTimeout(quietMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  const onData = (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    const end = headEnd(buf);
    if (end < 0 && buf.length <= DEFAULT_LIMITS.maxHeadBytes) return;
    socket.off('data', onData);
    try {
      if (end < 0) throw new HttpError(431, 'head_too_large', 'request head too large');
      const head = parseRequestHead(buf, 0, end);
      const answer = handle(head.method, new URL(head.target, 'http://admin'));
      if (!Array.isArray(answer)) socket.setTimeout(0); // an app probe: bounded by its own timeout
      Promise.resolve(answer).then(reply, () => reply([500, 'internal error\n', TEXT]));
    } catch (e) {
      reply(e instanceof HttpError ? [e.status, `${e.message}\n`, TEXT] : [400, 'bad request\n', TEXT]);
    }
  };
  socket.on('data', onData);
}

function serve(handle: Handler, port: number, host: string, quietMs: number): Promise<net.Server> {
  const open = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    answerOne(socket, handle, quietMs);
  });
  // Closing the port also ends the connections still sending their request (a drain does not wait on them).
  const close = server.close.bind(server);
  server.close = (cb) => {
    for (const s of open) s.destroy();
    return close(cb);
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

export function startAdmin(
  proxy: MeshProxy,
  port: number,
  state: AdminState,
  host = '127.0.0.1',
  quietMs = QUIET_TIMEOUT_MS,
): Promise<net.Server> {
  return serve(adminHandler(proxy, state), port, host, quietMs);
}

/**
 * The status port, on every interface (kubelet probes the pod IP; Prometheus scrapes it): readiness,
 * stats (merged with the app's own, app-metrics.ts), and the app's probes as injection rewrote them (app-probe.ts).
 */
export function startStatus(
  proxy: MeshProxy,
  port: number,
  opts: { host?: string; quietMs?: number; probers?: AppProbers; appScrape?: AppScrape } = {},
): Promise<net.Server> {
  const handler = statusHandler(proxy, opts.probers ?? new Map(), opts.appScrape);
  return serve(handler, port, opts.host ?? '0.0.0.0', opts.quietMs ?? QUIET_TIMEOUT_MS);
}
