// Instructions per request of one mast proxy on the mesh path, counted by valgrind's callgrind: a
// figure the machine's load does not move, for comparing two commits on a shared machine where
// CPU time per request varies by tens of percent from one minute to the next. The gateway →
// backend's sidecar (mTLS) → nginx path of the mesh rows, mastd issuing the certificates; the proxy
// asked for runs under callgrind, the counters zeroed after a warm-up and dumped after the measured
// requests. TurboFan's compiling (still going on after thousands of requests under valgrind) is
// counted apart. Requests as wrk sends them (no Connection header), or with `--connection-header`
// as browsers and Node's client do (`Connection: keep-alive`).
//   node bench/instructions.mjs [--proxy gateway|sidecar] [--connection-header] [--warm 3000] [--requests 3000] [--root DIR]
// `--root`: a checkout whose build/ holds the bundles to measure (default: this one; `node scripts/bundle.mjs` first).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { counts } from './callgrind.mjs';
import { gatewayMeshYaml } from './gateway-mesh.mjs';
import { imageNode } from './image-node.mjs';
import { startMesh } from './mesh-start.mjs';
import { writeBackendConfig } from './nginx-configs.mjs';
import { sleep, withProcesses } from './processes.mjs';

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

/** Ports 186xx: the other benches hold 181xx–184xx. */
const P = { backend: 18600, gateway: 18603, sidecarIn: 18604, push: 18606, monitoring: 18607, gatewayAdmin: 18608, sidecarAdmin: 18609 };

if (spawnSync('sh', ['-c', 'command -v valgrind && command -v callgrind_control']).status !== 0) {
  console.log('instructions n/a: valgrind is not installed (Debian package valgrind)');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'mast-instructions-'));
const out = join(dir, 'callgrind');
mkdirSync(out);
const node = imageNode(join(HERE, '..'));
// The proxies' node, the measured one under callgrind (picked by its admin port among its arguments).
const admin = String(which === 'gateway' ? P.gatewayAdmin : P.sidecarAdmin);
const wrapper = join(dir, 'node.sh');
writeFileSync(
  wrapper,
  `#!/bin/sh\nfor a in "$@"; do [ "$a" = "${admin}" ] && exec valgrind --tool=callgrind --callgrind-out-file=${out}/out.%p --smc-check=all-non-file "${node.path}" "$@"; done\nexec "${node.path}" "$@"\n`,
);
chmodSync(wrapper, 0o755);
const flags = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(readFileSync(join(HERE, '..', 'images', 'proxy', 'Dockerfile'), 'utf8'))[1]).slice(
  1,
  -1,
);

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
  const trafficPolicy =
    '{ loadBalancer: { simple: LEAST_REQUEST }, connectionPool: { tcp: { maxConnections: 1000 }, http: { http1MaxPendingRequests: 1000 } } }';
  const mesh = startMesh({
    name: 'instructions',
    root,
    dir,
    node: { ...node, path: wrapper },
    proxyFlags: flags,
    yaml: gatewayMeshYaml({ port: P.sidecarIn, portName: 'http', protocol: 'HTTP', trafficPolicy, tlsMode: 'istio' }),
    pushPort: P.push,
    monitoringPort: P.monitoring,
    start: run,
  });
  const sidecar = mesh.sidecar('sidecar', {
    id: 'backend-v1',
    app: 'backend',
    inboundPort: P.sidecarIn,
    appPort: P.backend,
    adminPort: P.sidecarAdmin,
  });
  const gateway = mesh.gateway('gateway', { portMap: `80=${P.gateway}`, adminPort: P.gatewayAdmin });
  // callgrind_control's commands to the measured process only: without a pid they reach every callgrind process of the machine, other benches' too.
  const measuredPid = String((which === 'gateway' ? gateway : sidecar).pid);
  // Under callgrind a proxy starts in tens of seconds: up to 5 minutes.
  let up = false;
  for (let i = 0; i < 600 && !up; i++) {
    up = (await get().catch(() => 0)) === 200;
    if (!up) await sleep(500);
  }
  if (!up) throw new Error('the path never answered 200');
  const warmFailed = await requests(warm);
  spawnSync('callgrind_control', ['--zero', measuredPid]);
  const failed = await requests(measured);
  spawnSync('callgrind_control', ['--dump', measuredPid]);
  await sleep(2000);
  const dump = readdirSync(out).find((f) => /^out\.\d+\.\d+$/.test(f));
  if (!dump) throw new Error('callgrind wrote no dump');
  const { total, compiling } = counts(join(out, dump));
  const per = (n) => `${(n / measured / 1000).toFixed(1)} k`;
  console.log(
    `instructions per request, ${which}${connectionHeader ? ' (requests with Connection: keep-alive)' : ''}: ${per(total - compiling)} without TurboFan's compiling, ${per(total)} in all (${measured} requests after ${warm}; ${warmFailed + failed} not 200)`,
  );
});
