// Instructions per request of one mast proxy on the mesh path, counted by valgrind's callgrind: a
// figure the machine's load does not move, for comparing two commits on a shared machine where
// CPU time per request varies by tens of percent from one minute to the next. The gateway →
// backend's sidecar (mTLS) → nginx path of the mesh rows, mastd issuing the certificates; the proxy
// asked for runs under callgrind, the counters zeroed after a warm-up and dumped after the measured
// requests. TurboFan's compiling (still going on after thousands of requests under valgrind) is
// counted apart. Requests as wrk sends them (no Connection header), or with `--connection-header`
// as browsers and Node's client do (`Connection: keep-alive`).
// `--plain`: the gateway of the HTTP/1.1 rows instead, its upstream the backend itself (no sidecar,
// no mTLS); `--proxy pipe`: the byte pipe of those rows (bench/pipe-proxy.ts, as run.mjs starts it)
// between the client and the backend, the floor that gateway is compared with.
// `--top N`: also the N functions with the most instructions of their own per request, JavaScript
// named from the measured node's `--perf-basic-prof` map (JS:* TurboFan's code, JS:^ baseline).
//   node bench/instructions.mjs [--proxy gateway|sidecar|pipe] [--plain] [--connection-header] [--warm 3000] [--requests 3000] [--top N] [--root DIR] [--port-base 18600]
// `--root`: a checkout whose build/ holds the bundles to measure (default: this one; `node scripts/bundle.mjs` first).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { functionCosts } from './callgrind-functions.mjs';
import { gatewayMeshYaml } from './gateway-mesh.mjs';
import { imageNode, proxyNodeFlags } from './image-node.mjs';
import { startMesh } from './mesh-start.mjs';
import { writeBackendConfig } from './nginx-configs.mjs';
import { sleep, withProcesses } from './processes.mjs';
import { callgrindNode, counts } from './callgrind.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const which = arg('--proxy', 'sidecar');
const warm = Number(arg('--warm', '3000'));
const measured = Number(arg('--requests', '3000'));
const root = arg('--root', join(HERE, '..'));
const connectionHeader = process.argv.includes('--connection-header');
const pipe = which === 'pipe';
const plain = pipe || process.argv.includes('--plain');
const top = Number(arg('--top', '0'));

/** Ports 18600–18609 (`--port-base`: another ten, for two runs at once): the other benches hold 181xx–184xx. */
const base = Number(arg('--port-base', '18600'));
const P = {
  backend: base,
  gateway: base + 3,
  sidecarIn: base + 4,
  push: base + 6,
  monitoring: base + 7,
  gatewayAdmin: base + 8,
  sidecarAdmin: base + 9,
};
if (which === 'sidecar' && plain) throw new Error('--plain has no sidecar: --proxy gateway or pipe');

if (spawnSync('sh', ['-c', 'command -v valgrind && command -v callgrind_control']).status !== 0) {
  console.log('instructions n/a: valgrind is not installed (Debian package valgrind)');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'mast-instructions-'));
const node = imageNode(join(HERE, '..'));
// The proxies' node, the measured one under callgrind (picked by an argument of its own: its admin
// port, or the pipe's port; the pipe stands where the gateway would), writing a map of its JIT code for `--top`.
const marker = String(pipe ? P.gateway : which === 'gateway' ? P.gatewayAdmin : P.sidecarAdmin);
// (V8 then also writes a small log of its own: into the run's directory, not the current one.)
const perfMap = top ? `--perf-basic-prof --no-logfile-per-isolate --logfile=${join(dir, 'v8.log')} ` : '';
const { wrapper, out } = callgrindNode(dir, node.path, marker, perfMap);
const flags = proxyNodeFlags(join(HERE, '..'));

const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
function get() {
  return new Promise((resolve, reject) => {
    const headers = { host: 'alpha.example.com' };
    const req = http.request({ host: '127.0.0.1', port: P.gateway, path: '/api/v1/products', headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    if (!connectionHeader) req.removeHeader('connection');
    req.on('error', reject);
    req.end();
  });
}
/** `count` requests, 10 at a time on 10 kept-alive connections: how many did not get a 200. */
async function requests(count) {
  let failed = 0;
  for (let i = 0; i < count; i += 10) failed += (await Promise.all(Array.from({ length: 10 }, get))).filter((s) => s !== 200).length;
  return failed;
}
await withProcesses(async (run) => {
  writeBackendConfig(dir, 'backend', P.backend);
  run('backend', 'nginx', ['-c', join(dir, 'backend.conf')]);
  let measuredProxy;
  if (pipe) {
    execFileSync(join(HERE, '..', 'node_modules', '.bin', 'esbuild'), [
      join(HERE, 'pipe-proxy.ts'),
      '--bundle',
      '--platform=node',
      '--target=node20',
      `--outfile=${join(dir, 'pipe-proxy.js')}`,
      '--log-level=warning',
    ]);
    measuredProxy = run('pipe', wrapper, [join(dir, 'pipe-proxy.js'), String(P.gateway), String(P.backend)]);
  } else {
    const trafficPolicy =
      '{ loadBalancer: { simple: LEAST_REQUEST }, connectionPool: { tcp: { maxConnections: 1000 }, http: { http1MaxPendingRequests: 1000 } } }';
    const mesh = startMesh({
      name: 'instructions',
      root,
      dir,
      node: { ...node, path: wrapper },
      proxyFlags: flags,
      yaml: gatewayMeshYaml({
        port: plain ? P.backend : P.sidecarIn,
        portName: 'http',
        protocol: 'HTTP',
        trafficPolicy,
        tlsMode: plain ? undefined : 'istio',
      }),
      pushPort: P.push,
      monitoringPort: P.monitoring,
      start: run,
    });
    const sidecar = plain
      ? undefined
      : mesh.sidecar('sidecar', {
          id: 'backend-v1',
          app: 'backend',
          inboundPort: P.sidecarIn,
          appPort: P.backend,
          adminPort: P.sidecarAdmin,
        });
    const gateway = mesh.gateway('gateway', { portMap: `80=${P.gateway}`, adminPort: P.gatewayAdmin });
    measuredProxy = which === 'sidecar' ? sidecar : gateway;
  }
  // Under callgrind a proxy starts in tens of seconds: up to 5 minutes.
  let up = false;
  for (let i = 0; i < 600 && !up; i++) {
    up = (await get().catch(() => 0)) === 200;
    if (!up) await sleep(500);
  }
  if (!up) throw new Error('the path never answered 200');
  const warmFailed = await requests(warm);
  // This process only (its pid is valgrind's: the wrapper execs it): callgrind_control without one
  // zeroes and dumps every callgrind on the machine. Another run's doing so to this one while it is
  // measured splits the count (its parts are added up, and reported) or, a zero, loses some of it.
  const pid = String(measuredProxy.pid);
  const dumps = () => readdirSync(out).filter((f) => f.startsWith(`out.${pid}.`));
  const before = new Set(dumps());
  spawnSync('callgrind_control', ['--zero', pid]);
  const failed = await requests(measured);
  spawnSync('callgrind_control', ['--dump', pid]);
  await sleep(2000);
  const parts = dumps().filter((f) => !before.has(f));
  if (!parts.length) throw new Error('callgrind wrote no dump');
  if (parts.length > 1)
    console.log(`(another callgrind_control dumped this process while it was measured: ${parts.length} parts added up)`);
  const { total, compiling } = parts
    .map((f) => counts(join(out, f)))
    .reduce((a, b) => ({ total: a.total + b.total, compiling: a.compiling + b.compiling }));
  const per = (n) => `${(n / measured / 1000).toFixed(1)} k`;
  const what = pipe ? 'byte pipe' : `${which}${plain ? ' (plain upstream)' : ''}`;
  console.log(
    `instructions per request, ${what}${connectionHeader ? ' (requests with Connection: keep-alive)' : ''}: ${per(total - compiling)} without TurboFan's compiling, ${per(total)} in all (${measured} requests after ${warm}; ${warmFailed + failed} not 200)`,
  );
  const dump = parts.at(-1);
  if (top) {
    const map = `/tmp/perf-${pid}.map`;
    console.log(`functions by instructions of their own, per request (${measured} requests):`);
    for (const f of functionCosts(join(out, dump), map).slice(0, top))
      console.log(`${(f.instructions / measured).toFixed(0).padStart(8)}  ${f.name}`);
    rmSync(map, { force: true });
  }
});
