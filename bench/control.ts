/**
 * Control-plane benchmark (part of `npm run bench`): compile time and memory for meshes of
 * 100, 300 and 1,000 services (3 endpoints each) and 100 distinct proxies, and convergence of
 * one VirtualService edit to 100 connected proxies on loopback. Bundled and run by run.mjs.
 */
import { fork } from 'node:child_process';
import type { KubeObject } from '../api';
import { CompileCache, buildIndex, compile, makeSnapshot } from '../runtime/compile';
import { Mastd } from '../runtime/control/mastd';
import { isAnalysisWorker, serveAnalysis, workerAnalyzer } from '../runtime/control/analysis-worker';
import type { ConfigSource, SourceUpdate } from '../runtime/control/file-source';
import { PushClient } from '../runtime/proxy/push-client';
import { checkConfig } from '../runtime/proxy/config-check';
import { compileRouteTable } from '../runtime/proxy/routing';
import type { ProxyConfig } from '../runtime/contract/proxy-config';
import type { ProxyIdentity } from '../runtime/contract/push-protocol';

const NAMESPACES = 10;
/** Edits timed in the convergence run. */
const ROUNDS = 10;

/** `edited`: the one service whose VirtualService weight is `weight` (every other one stays at 90). */
function mesh(services: number, weight = 90, edited = 0): KubeObject[] {
  const out: KubeObject[] = [];
  for (let i = 0; i < services; i++) {
    const ns = `ns${i % NAMESPACES}`;
    const name = `svc${i}`;
    const host = `${name}.${ns}.svc.cluster.local`;
    out.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name, namespace: ns },
      spec: {
        hosts: [host],
        ports: [{ number: 9080, name: 'http', protocol: 'HTTP' }],
        resolution: 'STATIC',
        workloadSelector: { labels: { app: name } },
      },
    });
    for (let e = 0; e < 3; e++)
      out.push({
        apiVersion: 'networking.istio.io/v1',
        kind: 'WorkloadEntry',
        metadata: { name: `${name}-${e}`, namespace: ns },
        spec: {
          address: `10.${(i >> 8) & 255}.${i & 255}.${e + 1}`,
          ports: { http: 9080 },
          labels: { app: name, version: e === 0 ? 'v2' : 'v1' },
        },
      });
    out.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name, namespace: ns },
      spec: {
        host,
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2' } },
        ],
      },
    });
    out.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name, namespace: ns },
      spec: {
        hosts: [host],
        http: [
          { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host, subset: 'v2' } }] },
          {
            route: [
              { destination: { host, subset: 'v1' }, weight: i === edited ? weight : 90 },
              { destination: { host, subset: 'v2' }, weight: i === edited ? 100 - weight : 10 },
            ],
          },
        ],
      },
    });
  }
  return out;
}

const identities = (n: number): ProxyIdentity[] =>
  Array.from({ length: n }, (_, i) => ({
    mode: 'sidecar' as const,
    namespace: `ns${i % NAMESPACES}`,
    labels: { app: `client${i}` },
    outboundPort: 0,
  }));

function scaling(): void {
  console.log('services  proxies  snapshot ms  compile ms (100 proxies)  ms/proxy  heap MB');
  for (const services of [100, 300, 1000]) {
    const objects = mesh(services);
    global.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const snapshot = makeSnapshot(objects, 'v1');
    const t1 = performance.now();
    // The index is built once per snapshot, as mastd does, and counted in compile ms (it holds the lookups
    // makeSnapshot built before, so snapshot ms fell by as much); the cache shares what the configs have in common.
    const index = buildIndex(snapshot);
    const cache = new CompileCache(index);
    const configs = identities(100).map((id) => compile(index, id, cache));
    const t2 = performance.now();
    const heap = (process.memoryUsage().heapUsed - heap0) / 1048576;
    console.log(
      `${String(services).padStart(8)}  ${'100'.padStart(7)}  ${(t1 - t0).toFixed(0).padStart(11)}  ${(t2 - t1).toFixed(0).padStart(24)}  ${((t2 - t1) / 100).toFixed(1).padStart(8)}  ${heap.toFixed(0).padStart(7)}`,
    );
    void configs;
  }
}

class MemorySource implements ConfigSource {
  private onUpdate?: (u: SourceUpdate) => void;
  constructor(private objects: KubeObject[]) {}
  start(onUpdate: (u: SourceUpdate) => void): void {
    this.onUpdate = onUpdate;
    onUpdate({ objects: this.objects, findings: [] });
  }
  set(objects: KubeObject[]): void {
    this.objects = objects;
    this.onUpdate?.({ objects, findings: [] });
  }
  stop(): void {}
}

/** Applies like a proxy does (checks, compiles route tables) without binding ports. */
function fakeProxy() {
  return {
    config: undefined as ProxyConfig | undefined,
    async apply(config: ProxyConfig) {
      const problem = checkConfig(config);
      if (problem) return { ok: false as const, version: config.version, error: problem };
      config.listeners.forEach(compileRouteTable);
      this.config = config;
      return { ok: true as const, version: config.version };
    },
  };
}

/** `--clients <from>:<to> --port <p>`: proxies in a separate process, as they are in a mesh. */
function runClients(range: string, port: number): void {
  const [from, to] = range.split(':').map(Number);
  const all = identities(to);
  for (let i = from; i < to; i++)
    new PushClient(fakeProxy() as never, { address: `127.0.0.1:${port}`, id: `p${i}`, identity: all[i], token: 't' }).start();
}

async function convergence(services: number, proxies: number): Promise<void> {
  const source = new MemorySource(mesh(services));
  let editAt = 0;
  const published: number[] = [];
  // As the bundled mastd: the whole-mesh analysis on a worker thread (this bundle, started again).
  const analyze = workerAnalyzer(__filename);
  const mastd = new Mastd({
    source,
    token: 't',
    analyze,
    log: (l) => void (l.startsWith('snapshot') && editAt && published.push(performance.now() - editAt)),
  });
  const { pushPort } = await mastd.start(0, 0);
  // The proxies parse and apply their configs in 4 other processes, not on mastd's event loop.
  const WORKERS = 4;
  const per = Math.ceil(proxies / WORKERS);
  const children = Array.from({ length: WORKERS }, (_, w) =>
    fork(__filename, ['--clients', `${w * per}:${Math.min(proxies, (w + 1) * per)}`, '--port', String(pushPort)], { stdio: 'ignore' }),
  );
  const synced = (v: string) => mastd.push.statuses().filter((s) => s.acked === v).length === proxies;
  const wait = async (v: string) => {
    const t0 = Date.now();
    while (!synced(v)) {
      if (Date.now() - t0 > 60_000) throw new Error(`not converged on ${v}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await wait('v1');
  // One untimed edit first: the first delta (its base serialised for the first time, code paths
  // not yet optimised by V8) is a warm-up, as in any steady-state measurement.
  source.set(mesh(services, 89, 1));
  await wait('v2');
  const samples: number[] = [];
  for (let round = 3; round <= ROUNDS + 2; round++) {
    const t0 = (editAt = performance.now());
    source.set(mesh(services, 90 - round, round));
    await wait(`v${round}`);
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  published.sort((a, b) => a - b);
  const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
  const full = JSON.stringify(compile(buildIndex(mastd.snapshot!), identities(1)[0])).length;
  console.log(
    `mastd: edit → snapshot validated and published in p50 ${q(published, 0.5).toFixed(0)} ms; then compile per namespace, a delta per proxy (the full config is ${(full / 1e6).toFixed(1)} MB) and the proxies applying it`,
  );
  console.log(
    `convergence of one edit to ${proxies} proxies in ${WORKERS} processes (${services} services): p50 ${q(samples, 0.5).toFixed(0)} ms, p90 ${q(samples, 0.9).toFixed(0)} ms, max ${samples[samples.length - 1].toFixed(0)} ms over ${samples.length} edits after a warm-up edit (target p99 <= 1000 ms); all, sorted: ${samples.map((x) => x.toFixed(0)).join(' ')}`,
  );
  for (const c of children) c.kill('SIGKILL');
  await mastd.stop();
  await analyze.close();
}

async function main(): Promise<void> {
  const clients = process.argv.indexOf('--clients');
  if (clients > 0) {
    runClients(process.argv[clients + 1], Number(process.argv[process.argv.indexOf('--port') + 1]));
    return new Promise(() => undefined);
  }
  scaling();
  const quick = process.argv.includes('--quick');
  await convergence(quick ? 300 : 1000, 100);
}

if (isAnalysisWorker()) serveAnalysis();
else
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(`control bench failed: ${err.message}`);
      process.exit(1);
    },
  );
