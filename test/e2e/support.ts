/** A private copy of the bookinfo example run by `mast local` (real processes, loopback), and ways to poke it. */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getPage, type Page } from '../../cli/kind/smoke';
import { freePort, LocalMesh } from '../../runtime/local/local-mesh';
import { until } from '../support/poll';

export type { Page };

export const EXAMPLE = join(__dirname, '..', '..', 'examples', 'bookinfo');

export interface Running {
  readonly mesh: LocalMesh;
  readonly dir: string;
  readonly port: number;
  readonly logs: string[];
  /** Rewrites (or creates) a mesh file and waits until every proxy runs the snapshot that has it. */
  edit(file: string, change: (text: string) => string): Promise<void>;
  stop(): Promise<void>;
}

export interface ExampleOptions {
  readonly intercept?: boolean;
  /** Every proxy's JSON access log lines into `logs`. @default false */
  readonly accessLog?: boolean;
  /** More files for the copy before it starts (path relative to it → text): workloads and mesh YAML a test needs from the start. */
  readonly files?: Record<string, string>;
}

/** Copies examples/bookinfo (mesh, local workloads, app) so tests can edit it, and starts it. */
export async function startExample(options: ExampleOptions = {}): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-e2e-'));
  for (const part of ['mesh', 'local', 'app']) cpSync(join(EXAMPLE, part), join(dir, part), { recursive: true });
  for (const [file, text] of Object.entries(options.files ?? {})) writeFileSync(join(dir, file), text);
  // Free ports for the apps, so a `mast local` of the example running beside the tests does not interfere.
  const workloads = join(dir, 'local', 'workloads.yaml');
  let yaml = readFileSync(workloads, 'utf8');
  // One free port per app port: names of the same app port (ratings' http and grpc) keep sharing it.
  const fresh = new Map<string, number>();
  for (const [, port] of yaml.matchAll(/(?:http|grpc): (190\d\d)/g)) if (!fresh.has(port)) fresh.set(port, await freePort());
  yaml = yaml.replace(/(http|grpc): (190\d\d)/g, (_, name, port) => `${name}: ${fresh.get(port)}`);
  writeFileSync(workloads, yaml);
  const logs: string[] = [];
  const mesh = new LocalMesh({
    paths: [join(dir, 'mesh'), join(dir, 'local')],
    gatewayPort: 0,
    adminPort: 0,
    debounceMs: 50,
    log: (l) => logs.push(l),
    intercept: options.intercept,
    accessLog: options.accessLog,
  });
  const stop = async () => {
    await mesh.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await mesh.start();
    await mesh.ready(30_000);
    return {
      mesh,
      dir,
      port,
      logs,
      stop,
      async edit(file, change) {
        const path = join(dir, file);
        const before = mesh.mastd.snapshot?.version;
        const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
        const next = change(text);
        if (next === text) throw new Error(`edit of ${file} changed nothing`);
        writeFileSync(path, next);
        let notReady: string[] = [];
        await until(
          `the edit of ${file} applied`,
          async () => mesh.mastd.snapshot?.version !== before && (notReady = await mesh.notReady()).length === 0,
          10_000,
          () =>
            `${mesh.mastd.snapshot?.version === before ? 'no new snapshot' : `not ready: ${notReady.join('; ')}`}\n${logs.slice(-10).join('\n')}`,
        );
        if (mesh.mastd.rejected.length)
          throw new Error(`edit of ${file} rejected: ${mesh.mastd.rejected.map((f) => f.message).join('; ')}`);
      },
    };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${logs.join('\n')}`);
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

/** GET through the gateway with the example's host (a keep-alive pool, as a browser would). */
export const request = (port: number, path = '/productpage', headers: Record<string, string> = {}): Promise<Page> =>
  getPage({ address: '127.0.0.1', port, host: 'alpha.example.com', path, headers: { host: 'alpha.example.com', ...headers }, agent });

/** `n` requests, `concurrency` at a time. */
export async function many(n: number, concurrency: number, send: (i: number) => Promise<Page>): Promise<Page[]> {
  const out: Page[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await send(i);
      }
    }),
  );
  return out;
}

/** Sum of istio_requests_total on one proxy's admin port, for the series whose labels include all of `match`. */
export async function requestsOn(adminPort: number, match: Record<string, string> = {}, host = '127.0.0.1'): Promise<number> {
  const text = await (await fetch(`http://${host}:${adminPort}/stats/prometheus`)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('istio_requests_total{')) continue;
    if (Object.entries(match).every(([k, v]) => line.includes(`${k}="${v}"`))) n += Number(line.split(' ').pop());
  }
  return n;
}

/** A workload by its WorkloadEntry's name in `default`, or by `namespace/name`. */
const workloadKey = (workload: string) => (workload.includes('/') ? workload : `default/${workload}`);

export function adminOf(mesh: LocalMesh, workload: string): number {
  const r = mesh.workloads.get(workloadKey(workload));
  if (!r) throw new Error(`no workload ${workload}`);
  return r.adminPort;
}

export const reviewsVersion = (p: Page) => p.body.calls?.find((c) => c.service === 'reviews')?.version;

export interface Reply {
  readonly status: number;
  readonly ms: number;
  readonly body: string;
}

/**
 * A request (GET unless `method` says) to `url` as a workload's app sends it (the absolute URL to
 * its sidecar's outbound port): what Istio's tasks do with `kubectl exec <client pod> -- curl
 * http://httpbin:8000/...`. `workload` is its WorkloadEntry's name in `default`, or `namespace/name`.
 */
export function fromWorkload(
  mesh: LocalMesh,
  workload: string,
  url: string,
  headers: Record<string, string> = {},
  agent: http.Agent | false = false,
  method = 'GET',
): Promise<Reply> {
  const r = mesh.workloads.get(workloadKey(workload));
  if (!r) return Promise.reject(new Error(`no workload ${workload}`));
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: r.outboundPort, path: url, method, headers: { host: new URL(url).host, ...headers }, agent },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, ms: performance.now() - t0, body }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${method} ${url} from ${workload}`)));
    req.on('error', reject);
    req.end();
  });
}

/** `mast local` of the mesh files in `dir` alone (no bookinfo), started and ready; its lines go to `logs`. */
export async function startLocal(dir: string, logs: string[] = []): Promise<LocalMesh> {
  const local = new LocalMesh({ paths: [dir], gatewayPort: 0, adminPort: 0, debounceMs: 50, log: (l) => logs.push(l) });
  await local.start();
  await local.ready(60_000);
  return local;
}

/**
 * Rewrites a running `mast local`'s mesh file with `yaml` and waits until every proxy runs the
 * snapshot that has it (and none rejected it): what `kubectl apply` and a push are in a task.
 */
export async function rewriteMesh(local: LocalMesh, file: string, yaml: string): Promise<void> {
  const before = local.mastd.snapshot?.version;
  writeFileSync(file, yaml);
  await until(
    'the new mesh applied',
    async () => local.mastd.snapshot?.version !== before && (await local.notReady()).length === 0,
    15_000,
  );
  if (local.mastd.rejected.length) throw new Error(`rejected: ${JSON.stringify(local.mastd.rejected)}`);
}

/** Stops what startLocal started and removes its directory. */
export async function stopLocal(local: LocalMesh | undefined, dir: string): Promise<void> {
  await local?.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** `istio_tcp_connections_opened_total` of one proxy (its admin `host:port`) towards `service` (destination_service), summed over its series. */
export async function tcpConnectionsOpened(admin: string, service: string): Promise<number> {
  const text = await (await fetch(`http://${admin}/stats/prometheus`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('istio_tcp_connections_opened_total{') && l.includes(`destination_service="${service}"`))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}
