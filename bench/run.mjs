// `npm run bench [-- --quick] [-- --only-h2 [--h2-pipes] | --only-mesh [--profile] | --only-telemetry]`: mast-proxy side by side
// with nginx and haproxy (Debian packages, installed here if missing) and a direct connection, in
// one run, on loopback, same backend (an nginx serving a small response) and the same load
// generators. Prints ratios to nginx. Then the mesh path against an nginx mTLS chain
// (mesh-path.mjs; `--only-mesh`: those alone), what telemetry costs per request (telemetry-cost.mjs;
// `--only-telemetry`: those alone), the HTTP/2 and gRPC rows (h2.mjs; `--only-h2`: those alone), the
// control plane and the route tables.
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { h2Bench } from './h2.mjs';
import { meshPathBench } from './mesh-path.mjs';
import { telemetryBench } from './telemetry-cost.mjs';
import { imageNode, proxyNodeFlags } from './image-node.mjs';
import { measureAll } from './measure.mjs';
import { startMesh, mtlsConnections } from './mesh-start.mjs';
import { writeBackendConfig, writeProxyConfig } from './nginx-configs.mjs';
import { checkAlive, children, sleep, start, stop } from './processes.mjs';
import { gatewayMeshYaml } from './gateway-mesh.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');
// Only the HTTP/2 and gRPC rows (h2.mjs): their own processes, ports and figures.
const onlyH2 = process.argv.includes('--only-h2');
// With --only-h2: the byte pipes (node:http2 floor, the JavaScript-codec pipe) and nginx alone, no mast proxy.
const h2Pipes = process.argv.includes('--h2-pipes');
// Only the mesh path (mesh-path.mjs); with `--profile`, its mast proxies under --cpu-prof instead.
const onlyMesh = process.argv.includes('--only-mesh');
const profileMesh = process.argv.includes('--profile');
// Only what telemetry costs (telemetry-cost.mjs).
const onlyTelemetry = process.argv.includes('--only-telemetry');
const DURATION = quick ? 3 : 10;
// Seconds of load per target, in ROUNDS turns of SLICE seconds each.
const ROUNDS = quick ? 3 : 5;
const SLICE = DURATION / ROUNDS;
const RATE = 1000;
// mast's processes (proxies, the byte pipe, mastd) run on the images' Node; wrk and the fixed-rate client on whatever runs this.
const NODE = imageNode(ROOT);
const dir = mkdtempSync(join(tmpdir(), 'mast-bench-'));
const PROXY_NODE_FLAGS = proxyNodeFlags(ROOT);
const P = {
  backend: 18100,
  nginx: 18101,
  haproxy: 18102,
  gateway: 18103,
  sidecarOut: 18104,
  sidecarIn: 18105,
  admin: 18106,
  pipe: 18107,
  mtlsOut: 18108,
  mtlsIn: 18109,
  mastdPush: 18110,
  mastdMon: 18111,
  mtlsAdmin: 18112,
  gatewayHere: 18113,
};

/** The tools of the run and their Debian packages (h2load: the HTTP/2 rows). */
const TOOLS = { nginx: 'nginx-light', haproxy: 'haproxy', wrk: 'wrk', h2load: 'nghttp2-client' };

function ensureTools() {
  const missing = Object.keys(TOOLS).filter((t) => spawnSync('sh', ['-c', `command -v ${t} || test -x /usr/sbin/${t}`]).status !== 0);
  if (!missing.length) return;
  console.log(`installing ${missing.join(', ')} from Debian packages...`);
  execFileSync(
    'sh',
    [
      '-c',
      `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing.map((m) => TOOLS[m]).join(' ')} >/dev/null`,
    ],
    { stdio: 'inherit' },
  );
  // A freshly installed nginx starts as a service on port 80: not one of the bench's.
  if (missing.includes('nginx')) spawnSync('sh', ['-c', 'service nginx stop 2>/dev/null; pkill -x nginx; true']);
}

// Their own groups do not get the terminal's Ctrl-C: take them down with us.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    for (const c of children) stop(c);
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
}

/** The backend as a mesh service, its endpoints selected by `app: backend`. */
const BACKEND_SERVICE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: backend, namespace: default }
spec:
  hosts: [backend.default.svc.cluster.local]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  workloadSelector: { labels: { app: backend } }`;

function meshYaml() {
  return gatewayMeshYaml({
    port: P.backend,
    portName: 'http',
    protocol: 'HTTP',
    trafficPolicy:
      '{ loadBalancer: { simple: LEAST_REQUEST }, connectionPool: { tcp: { maxConnections: 1000 }, http: { http1MaxPendingRequests: 1000 } } }',
  });
}

/**
 * The mesh path as a cluster runs it, for the line next to Istio's two-Envoy figure: mastd (the
 * bundle) serving this mesh and issuing certificates, sidecar A (the client's outbound) and
 * sidecar B (in front of the backend); the backend's endpoint is labelled for Istio's auto mTLS.
 */
function mtlsMeshYaml() {
  return `
${BACKEND_SERVICE}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: backend-1, namespace: default }
spec: { address: 127.0.0.1, ports: { http: ${P.mtlsIn} }, labels: { app: backend, security.istio.io/tlsMode: istio } }
`;
}

/** Two sidecars in a chain: client → A (outbound) → B (inbound) → backend. */
function sidecarConfigs() {
  const cluster = (name, port) => ({
    name,
    host: name,
    port,
    endpoints: [{ address: '127.0.0.1', port }],
    lb: { kind: 'least_request' },
    connectTimeoutMs: 1000,
  });
  const forward = (c) => [
    {
      name: 'default',
      domains: ['*'],
      routes: [
        {
          name: 'default',
          matches: [],
          action: {
            kind: 'forward',
            destinations: [{ cluster: c, weight: 100 }],
            retries: { attempts: 2, retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', '503'] },
          },
        },
      ],
    },
  ];
  const a = {
    schema: 1,
    version: 'bench',
    listeners: [
      {
        name: 'outbound_80',
        trafficDirection: 'OUTBOUND',
        port: P.sidecarOut,
        matchPort: 80,
        protocol: 'http',
        virtualHosts: forward('outbound|80||backend'),
      },
    ],
    clusters: [cluster('outbound|80||backend', P.sidecarIn)],
  };
  const b = {
    schema: 1,
    version: 'bench',
    listeners: [
      {
        name: 'virtualInbound',
        trafficDirection: 'INBOUND',
        port: P.sidecarIn,
        matchPort: 80,
        protocol: 'http',
        virtualHosts: forward('inbound|80||'),
      },
    ],
    clusters: [cluster('inbound|80||', P.backend)],
  };
  return [a, b];
}

/** A TypeScript program of bench/ as one script in the run's directory (it imports the project's own code). */
function bundle(entry, out) {
  execFileSync(join(ROOT, 'node_modules', '.bin', 'esbuild'), [
    join(ROOT, 'bench', entry),
    '--bundle',
    '--platform=node',
    '--target=node20',
    `--outfile=${join(dir, out)}`,
    '--log-level=warning',
  ]);
}

/** The HTTP/2 and gRPC rows, after the HTTP/1.1 ones: what fails there is reported and the run goes on. */
async function http2Rows() {
  try {
    await h2Bench({ root: ROOT, dir, node: NODE, proxyFlags: PROXY_NODE_FLAGS, rounds: ROUNDS, slice: SLICE, pipesOnly: h2Pipes });
  } catch (err) {
    console.log(`HTTP/2 rows n/a (${err.message})`);
  }
}

/** The mesh path's rows (mesh-path.mjs): at least five rounds in the full run, one with --quick. */
async function meshRows() {
  bundle('pipe-proxy.ts', 'pipe-proxy.js');
  bundle('mtls-pipe-proxy.ts', 'mtls-pipe-proxy.js');
  const o = { root: ROOT, dir, node: NODE, proxyFlags: PROXY_NODE_FLAGS, rate: RATE };
  try {
    await meshPathBench({ ...o, rounds: quick ? 1 : ROUNDS, slice: 3, profile: profileMesh ? (quick ? 5 : 15) : 0 });
  } catch (err) {
    if (onlyMesh) throw err;
    console.log(`mesh path rows n/a (${err.message})`);
  }
}

/** What telemetry costs per request (telemetry-cost.mjs): metrics alone, + access log, + tracing at 1 % and 100 %. */
async function telemetryRows() {
  try {
    await telemetryBench({ root: ROOT, dir, node: NODE, proxyFlags: PROXY_NODE_FLAGS, rounds: ROUNDS, slice: SLICE, rate: RATE });
  } catch (err) {
    if (onlyTelemetry) throw err;
    console.log(`telemetry rows n/a (${err.message})`);
  }
}

async function main() {
  ensureTools();
  if (!existsSync(join(ROOT, 'build', 'mast-proxy.js')))
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (onlyH2) return http2Rows();
  if (onlyMesh) return meshRows();
  if (onlyTelemetry) return telemetryRows();
  writeBackendConfig(dir, 'backend', P.backend);
  writeProxyConfig(dir, 'nginx', P.nginx, P.backend);
  writeFileSync(
    join(dir, 'haproxy.cfg'),
    `global\n  nbthread 1\n  maxconn 4000\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n  http-reuse always\nfrontend f\n  bind 127.0.0.1:${P.haproxy}\n  default_backend b\nbackend b\n  server s1 127.0.0.1:${P.backend}\n`,
  );
  writeFileSync(join(dir, 'mesh.yaml'), meshYaml());
  const [a, b] = sidecarConfigs();
  writeFileSync(join(dir, 'a.json'), JSON.stringify(a));
  writeFileSync(join(dir, 'b.json'), JSON.stringify(b));

  start('backend', 'nginx', ['-c', join(dir, 'backend.conf')]);
  const nginx = start('nginx', 'nginx', ['-c', join(dir, 'nginx.conf')]);
  const haproxy = start('haproxy', 'haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')]);
  const proxy = join(ROOT, 'build', 'mast-proxy.js');
  const gateway = start('mast', NODE.path, [
    ...PROXY_NODE_FLAGS,
    proxy,
    '--mesh',
    join(dir, 'mesh.yaml'),
    '--port-map',
    `80=${P.gateway}`,
    '--admin-port',
    String(P.admin),
  ]);
  // The same gateway on the Node running the bench, where that is not the images' (figures comparable with earlier runs).
  const gatewayHere =
    NODE.path === process.execPath
      ? undefined
      : start('mast-here', process.execPath, [
          ...PROXY_NODE_FLAGS,
          proxy,
          '--mesh',
          join(dir, 'mesh.yaml'),
          '--port-map',
          `80=${P.gatewayHere}`,
          '--admin-port',
          '0',
        ]);
  const sideB = start('sidecar-b', NODE.path, [
    ...PROXY_NODE_FLAGS,
    proxy,
    '--config',
    join(dir, 'b.json'),
    '--mode',
    'sidecar',
    '--admin-port',
    '0',
  ]);
  bundle('pipe-proxy.ts', 'pipe-proxy.js');
  const pipe = start('node-pipe', NODE.path, [join(dir, 'pipe-proxy.js'), String(P.pipe), String(P.backend)]);
  const sideA = start('sidecar-a', NODE.path, [
    ...PROXY_NODE_FLAGS,
    proxy,
    '--config',
    join(dir, 'a.json'),
    '--mode',
    'sidecar',
    '--admin-port',
    '0',
  ]);
  const mesh = startMesh({
    name: 'mtls',
    root: ROOT,
    dir,
    node: NODE,
    proxyFlags: PROXY_NODE_FLAGS,
    yaml: mtlsMeshYaml(),
    pushPort: P.mastdPush,
    monitoringPort: P.mastdMon,
  });
  const mtlsB = mesh.sidecar('mtls-b', {
    id: 'backend-1',
    app: 'backend',
    inboundPort: P.mtlsIn,
    appPort: P.backend,
    adminPort: P.mtlsAdmin,
  });
  const mtlsA = mesh.sidecar('mtls-a', { id: 'client-1', app: 'client', outboundPort: P.mtlsOut });
  await sleep(800);
  await checkAlive();
  await mesh.ready(2);

  console.log(
    `mast bench (${quick ? 'quick' : 'full'}): wrk -t1 -c50 for rps and CPU, then ${RATE} req/s fixed rate for latency, ${DURATION}s of each per target in ${ROUNDS} rounds taken in turn (figures: the median round); mast on node ${NODE.version}${NODE.note ? ` (not the images' Node: ${NODE.note})` : ''}`,
  );
  const [direct, rn, rh, rp, rm, rc, rt, rv] = await measureAll(
    [
      { name: 'direct', port: P.backend, pids: [] },
      { name: 'nginx', port: P.nginx, pids: [nginx.pid] },
      { name: 'haproxy', port: P.haproxy, pids: [haproxy.pid] },
      { name: 'node pipe (floor)', port: P.pipe, pids: [pipe.pid] },
      { name: 'mast gateway', port: P.gateway, pids: [gateway.pid] },
      { name: 'mast 2 sidecars', port: P.sidecarOut, pids: [sideA.pid, sideB.pid] },
      { name: 'mast 2 sidecars mTLS', port: P.mtlsOut, pids: [mtlsA.pid, mtlsB.pid], host: 'backend' },
      ...(gatewayHere ? [{ name: `mast gateway ${process.version}`, port: P.gatewayHere, pids: [gatewayHere.pid] }] : []),
    ],
    { rounds: ROUNDS, slice: SLICE, rate: RATE },
  );
  await checkAlive();
  if (!mtlsConnections(P.mtlsAdmin)) console.log('WARNING: the mTLS chain carried no mTLS connection (sidecar B counted none)');

  const added = (r) => r.p50 - direct.p50;
  const added90 = (r) => r.p90 - direct.p90;
  const added99 = (r) => r.p99 - direct.p99;
  console.log('');
  console.log(`ratio rps mast/nginx ${(rm.rps / rn.rps).toFixed(2)}`);
  // Each round measured mast and nginx within a minute of each other: the spread of these shows how much the machine moved the median above.
  console.log(`rounds rps mast/nginx ${rm.rounds.map((x, i) => (x / rn.rounds[i]).toFixed(2)).join(' ')}`);
  console.log(`ratio rps haproxy/nginx ${(rh.rps / rn.rps).toFixed(2)}`);
  console.log(
    `ratio rps node-pipe/nginx ${(rp.rps / rn.rps).toFixed(2)} (a Node.js proxy that does nothing but copy bytes, reading as mast does: about the most a Node.js proxy reaches here)`,
  );
  console.log(
    `ratio rps mast/node-pipe ${(rm.rps / rp.rps).toFixed(2)} (how close mast comes to that copy, whatever the machine's load did to both; the rest is mast's own JavaScript)`,
  );
  console.log(`ratio cpu-per-request node-pipe/nginx ${(rp.cpuUsPerReq / rn.cpuUsPerReq).toFixed(2)}`);
  console.log(`ratio cpu-per-request mast/nginx ${(rm.cpuUsPerReq / rn.cpuUsPerReq).toFixed(2)}`);
  console.log(`ratio added-p50 mast/nginx ${(added(rm) / Math.max(added(rn), 0.001)).toFixed(2)}`);
  console.log(`ratio rss mast/nginx ${(rm.rssMb / rn.rssMb).toFixed(2)}`);
  console.log(`ratio added-p99 mast/nginx ${(added99(rm) / Math.max(added99(rn), 0.001)).toFixed(2)}`);
  console.log(`added p50 per hop ms: nginx ${added(rn).toFixed(3)} haproxy ${added(rh).toFixed(3)} mast ${added(rm).toFixed(3)}`);
  console.log(`added p99 per hop ms: nginx ${added99(rn).toFixed(3)} haproxy ${added99(rh).toFixed(3)} mast ${added99(rm).toFixed(3)}`);
  console.log(
    `two-sidecar added p90 ms ${added90(rt).toFixed(3)} with mTLS, ${added90(rc).toFixed(3)} without (Istio publishes 0.23 ms for its two-Envoy path with mTLS)`,
  );
  console.log(
    `mast gateway rss MB ${rm.rssMb.toFixed(1)} (target <= 60 at ${RATE} req/s; private ${rm.anonMb.toFixed(1)}, the rest the pages of the node binary)`,
  );
  if (rv)
    console.log(
      `ratio rps mast-on-${process.version}/nginx ${(rv.rps / rn.rps).toFixed(2)}, cpu-per-request ${(rv.cpuUsPerReq / rn.cpuUsPerReq).toFixed(2)}, rss MB ${rv.rssMb.toFixed(1)} (private ${rv.anonMb.toFixed(1)}): the gateway on the Node running this bench, not the images'`,
    );
  for (const r of [rm, rc, rt, rv].filter(Boolean))
    if (r.non2xx || r.errors || r.ok < r.sent)
      console.log(
        `WARNING: ${r.name} had ${r.non2xx} non-2xx under load, ${r.errors} fixed-rate errors and ${r.sent - r.ok} fixed-rate requests unanswered`,
      );
  for (const c of children.splice(0)) stop(c);
  await meshRows();
  await telemetryRows();
  await http2Rows();

  console.log('\ncontrol plane:');
  bundle('control.ts', 'control-bench.js');
  execFileSync(NODE.path, ['--expose-gc', join(dir, 'control-bench.js'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });

  console.log('\nroute tables:');
  bundle('routes.ts', 'routes-bench.js');
  execFileSync(NODE.path, [join(dir, 'routes-bench.js'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });
}

main()
  .catch((err) => {
    console.error(`bench failed: ${err.message}`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) stop(c);
    rmSync(dir, { recursive: true, force: true });
  });
