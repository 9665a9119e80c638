/**
 * The admin port of `mast local`: the service-graph page (`/`), its data (`/api/graph`), the
 * gateway's `/stats/prometheus`, every proxy as a Prometheus target (`/prometheus/targets`) and a
 * `prometheus.yml` that scrapes them (`/prometheus.yml`), readiness of the whole mesh (`/ready`) and
 * mastd's endpoints (`/metrics`, `/debug/analyze`, `/debug/syncz`, so `mast proxy-status --mastd` works against it),
 * and mast's Grafana dashboards (`/grafana/dashboards/`: the list, then each `<name>.json`).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatFinding } from '../../api';
import { dashboardText, grafanaDashboards } from '../../api/dashboards';
import { syncState } from '../control/push-server';
import { buildGraph, parseEdges, type Graph, type Scrape } from './graph';
import type { LocalMesh } from './local-mesh';
import { renderBody, renderPage, type PageModel } from './page';
import { PROMETHEUS_PATHS, prometheusConfig, scrapeTargets } from './prometheus';

/** Where mast's Grafana dashboards are served: the list, and each file under it. */
export const DASHBOARDS_PATH = '/grafana/dashboards/';

async function scrape(port: number, host = '127.0.0.1'): Promise<string> {
  try {
    const res = await fetch(`http://${host}:${port}/stats/prometheus`, { signal: AbortSignal.timeout(1000) });
    return res.ok ? await res.text() : '';
  } catch {
    return '';
  }
}

export class LocalAdmin {
  private server?: http.Server;
  private previous?: Scrape;
  private latest?: Scrape;

  constructor(private readonly mesh: LocalMesh) {}

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.server = http.createServer(
      (req, res) =>
        void this.serve(req, res).catch((err) =>
          res.headersSent ? res.destroy() : (res.writeHead(500), res.end(`${(err as Error).message}\n`)),
        ),
    );
    await new Promise<void>((resolve, reject) => this.server!.once('error', reject).listen(port, host, resolve));
    return (this.server.address() as AddressInfo).port;
  }

  /** This port's base URL, by the address it listens on (not the request's Host header). */
  private url(): string {
    const a = this.server?.address() as AddressInfo;
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** Scrapes every proxy; rates are over the time since the previous scrape at least a second older. */
  async graph(): Promise<Graph> {
    const texts = await Promise.all(this.mesh.proxies().map((p) => scrape(p.adminPort, p.host)));
    const now: Scrape = { atMs: Date.now(), edges: parseEdges(texts) };
    if (!this.latest || now.atMs - this.latest.atMs >= 1000) this.previous = this.latest;
    this.latest = now;
    // Every app and its versions, drawn before they see traffic.
    const apps = new Map<string, string[]>();
    for (const r of this.mesh.workloads.values()) {
      const name = r.workload.labels.app ?? r.workload.name;
      apps.set(name, [...(apps.get(name) ?? []), r.workload.labels.version ?? ''].filter(Boolean).sort());
    }
    return buildGraph(apps, now, this.previous);
  }

  async model(): Promise<PageModel> {
    const version = this.mesh.mastd.snapshot?.version ?? null;
    return {
      graph: await this.graph(),
      snapshot: version,
      proxies: this.mesh.mastd.push
        .statuses()
        .map((s) => ({ id: s.id, mode: s.identity.mode, version: s.acked ?? '-', status: syncState(s, version) }))
        .sort((a, b) => a.id.localeCompare(b.id)),
      findings: [...this.mesh.mastd.rejected, ...this.mesh.mastd.findings].map(formatFinding),
      traces: this.mesh.traces.store.recent(),
      gatewayPorts: Object.entries(this.mesh.gatewayPorts).map(([server, local]) => ({ server: Number(server), local })),
    };
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const path = new URL(req.url ?? '/', 'http://admin').pathname;
    if (path.startsWith(DASHBOARDS_PATH)) {
      const dashboards = grafanaDashboards();
      const file = path.slice(DASHBOARDS_PATH.length);
      if (!file)
        return send(
          200,
          JSON.stringify(
            Object.entries(dashboards).map(([name, d]) => ({ file: `${DASHBOARDS_PATH}${name}`, uid: d.uid, title: d.title })),
          ),
          'application/json',
        );
      const model = Object.hasOwn(dashboards, file) ? dashboards[file] : undefined;
      return model ? send(200, dashboardText(model), 'application/json') : send(404, `no dashboard ${file}: see ${DASHBOARDS_PATH}\n`);
    }
    switch (path) {
      case '/':
        return send(200, renderPage(await this.model()), 'text/html; charset=utf-8');
      case '/body':
        return send(200, renderBody(await this.model()), 'text/html; charset=utf-8');
      case '/api/traces':
        return send(200, JSON.stringify(this.mesh.traces.store.recent(50), null, 2), 'application/json');
      case '/api/graph':
        return send(200, JSON.stringify(await this.graph(), null, 2), 'application/json');
      case '/stats/prometheus':
        return send(200, await scrape(this.mesh.gatewayAdminPort), 'text/plain; version=0.0.4');
      case PROMETHEUS_PATHS.targets:
        return send(200, JSON.stringify(scrapeTargets(this.mesh.proxies())), 'application/json');
      case PROMETHEUS_PATHS.config:
        return send(200, prometheusConfig({ admin: this.url() }), 'text/yaml; charset=utf-8');
      case '/ready': {
        const missing = await this.mesh.notReady();
        return send(missing.length ? 503 : 200, missing.length ? `${missing.join('\n')}\n` : 'ready\n');
      }
      default:
        return this.mesh.mastd.serveMonitoring(req, res);
    }
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? (this.server.closeAllConnections(), this.server.close(() => r())) : r()));
  }
}
