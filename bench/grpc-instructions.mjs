// Instructions per gRPC unary call of one hop of a two-sidecar chain, counted by valgrind's
// callgrind (as instructions.mjs counts the HTTP/1.1 mesh path): a figure the shared machine's load
// does not move, for comparing two commits, and mast's sidecars with the node:http2 floor. The chain
// is the HTTP/2 rows' gRPC one: the client's sidecar (h2c in, mTLS out) → the echo's sidecar (mTLS
// in, h2c to bench/grpc-echo.mjs), mastd issuing the certificates; beside it the floor, two
// h2-pipe-proxy.mjs relays with mTLS between them (`out`, then `in`). The hop asked for runs under
// callgrind, its counters zeroed after a warm-up and dumped after the measured calls; TurboFan's
// compiling is counted apart. Calls go 10 at a time over one h2c connection (a 16-byte message).
//   node bench/grpc-instructions.mjs [--hop client|echo|floor-out|floor-in] [--warm 2000] [--calls 2000] [--root DIR]
// `--root`: a checkout whose build/ holds the bundles to measure (default: this one; `node scripts/bundle.mjs` first).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeChainCertificates } from './h2-configs.mjs';
import { imageNode, proxyNodeFlags } from './image-node.mjs';
import { startMesh } from './mesh-start.mjs';
import { sleep, withProcesses } from './processes.mjs';
import { callgrindNode, counts } from './callgrind.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const hop = arg('--hop', 'echo');
const warm = Number(arg('--warm', '2000'));
const measured = Number(arg('--calls', '2000'));
const root = arg('--root', join(HERE, '..'));

/** Ports 187xx: the other benches hold 181xx–184xx and 186xx. */
const P = { echo: 18700, echoIn: 18701, clientOut: 18702, push: 18703, monitoring: 18704, echoAdmin: 18705, clientAdmin: 18706 };
const F = { out: 18710, in: 18711 };
/** The argument that names the measured process among its own: a sidecar's admin port, or a word the measured relay is given last (it ignores it). */
const MARK = { client: P.clientAdmin, echo: P.echoAdmin, 'floor-out': 'measured', 'floor-in': 'measured' }[hop];
if (!MARK) throw new Error(`--hop: client, echo, floor-out or floor-in, not ${hop}`);

if (spawnSync('sh', ['-c', 'command -v valgrind && command -v callgrind_control']).status !== 0) {
  console.log('instructions n/a: valgrind is not installed (Debian package valgrind)');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'mast-grpc-instructions-'));
const node = imageNode(join(HERE, '..'));
const { wrapper, out } = callgrindNode(dir, node.path, MARK);
const flags = proxyNodeFlags(join(HERE, '..'));

// A 16-byte message in gRPC's framing, as grpc-fixed-rate.mjs sends it.
const payload = Buffer.from('mast-bench-echo!');
const message = Buffer.concat([Buffer.from([0, 0, 0, 0, payload.length]), payload]);
const headers = {
  ':method': 'POST',
  ':path': '/bench.Echo/Unary',
  ':authority': 'echo',
  ':scheme': 'http',
  'content-type': 'application/grpc',
  te: 'trailers',
};
const entry = hop.startsWith('floor') ? F.out : P.clientOut;
let session;

/** One unary call: true when it came back with grpc-status 0 (within 30 s: a hop under callgrind is slow). */
function call() {
  return new Promise((resolve) => {
    if (!session || session.closed || session.destroyed) {
      session = http2.connect(`http://127.0.0.1:${entry}`);
      session.on('error', () => undefined);
    }
    let status;
    const req = session.request(headers);
    const timer = setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), 30_000);
    req.on('response', (h) => (status ??= h['grpc-status']));
    req.on('trailers', (t) => (status = t['grpc-status']));
    req.on('data', () => undefined);
    req.on('error', () => undefined);
    req.on('close', () => {
      clearTimeout(timer);
      resolve(status === '0');
    });
    req.end(message);
  });
}
/** `count` calls, 10 at a time: how many failed. */
async function calls(count) {
  let failed = 0;
  for (let i = 0; i < count; i += 10) failed += (await Promise.all(Array.from({ length: 10 }, call))).filter((ok) => !ok).length;
  return failed;
}
/**
 * callgrind_control's command to the measured process (`pid`: without one it goes to every
 * callgrind process of the machine, other benches' too), done: valgrind takes commands only while
 * the process runs, and a hop waiting for traffic does not run. One call at a time goes through
 * while it waits (a few of them land in the figures: a rounding error against the measured thousands).
 */
async function control(command, pid) {
  const c = spawn('callgrind_control', [command, String(pid)], { stdio: 'ignore' });
  let done = false;
  c.on('exit', () => (done = true));
  for (let i = 0; i < 600 && !done; i++) await Promise.race([call(), sleep(500)]);
  if (!done) throw new Error(`callgrind_control ${command} did not finish`);
}

/** The measured hop's process: the wrapper execs valgrind in it. */
let measuredPid;

await withProcesses(async (run) => {
  run('grpc-echo', node.path, [join(HERE, 'grpc-echo.mjs'), String(P.echo)]);
  if (hop.startsWith('floor')) {
    const c = makeChainCertificates(dir);
    const relay = (side, port, upstream, ...tls) =>
      run(`floor-${side}`, wrapper, [
        ...flags,
        join(HERE, 'h2-pipe-proxy.mjs'),
        String(port),
        String(upstream),
        ...tls,
        ...(hop === `floor-${side}` ? [MARK] : []),
      ]);
    const outRelay = relay('out', F.out, F.in, 'out', c.a.crt, c.a.key, c.ca, 'nginx-b');
    // `in` takes no server name: its place is filled so that the mark comes after it.
    const inRelay = relay('in', F.in, P.echo, 'in', c.b.crt, c.b.key, c.ca, '-');
    measuredPid = (hop === 'floor-out' ? outRelay : inRelay).pid;
  } else {
    const mesh = startMesh({
      name: 'grpc-instructions',
      root,
      dir,
      node: { ...node, path: wrapper },
      proxyFlags: flags,
      yaml: echoMeshYaml(),
      pushPort: P.push,
      monitoringPort: P.monitoring,
      start: run,
    });
    const echo = mesh.sidecar('echo-sidecar', {
      id: 'echo-1',
      app: 'echo',
      inboundPort: P.echoIn,
      appPort: P.echo,
      adminPort: P.echoAdmin,
    });
    const client = mesh.sidecar('client-sidecar', { id: 'client-1', app: 'client', outboundPort: P.clientOut, adminPort: P.clientAdmin });
    measuredPid = (hop === 'echo' ? echo : client).pid;
  }
  // Under callgrind a hop starts in tens of seconds: up to 5 minutes.
  let up = false;
  for (let i = 0; i < 600 && !up; i++) {
    up = await call();
    if (!up) await sleep(500);
  }
  if (!up) throw new Error('the chain never answered a call');
  const warmFailed = await calls(warm);
  await control('--zero', measuredPid);
  const failed = await calls(measured);
  await control('--dump', measuredPid);
  session?.destroy();
  // Another bench's callgrind_control without a pid reaches this process too: a dump more than ours says so.
  const dumps = readdirSync(out)
    .filter((f) => /^out\.\d+\.\d+$/.test(f))
    .sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
  const dump = dumps.at(-1);
  if (!dump) throw new Error('callgrind wrote no dump');
  if (dumps.length > 1)
    console.log(`WARNING: ${dumps.length} dumps: another process's callgrind_control reached this one (its --zero too, maybe)`);
  const { total, compiling } = counts(join(out, dump));
  const per = (n) => `${(n / measured / 1000).toFixed(1)} k`;
  console.log(
    `instructions per gRPC call, ${hop}: ${per(total - compiling)} without TurboFan's compiling, ${per(total)} in all (${measured} calls after ${warm}; ${warmFailed + failed} failed)`,
  );
});

/** The echo as a mesh service whose port is named `grpc`, its endpoint the echo's sidecar, labelled for Istio's auto mTLS. */
function echoMeshYaml() {
  return `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo.default.svc.cluster.local]
  ports: [{ number: 80, name: grpc, protocol: GRPC }]
  resolution: STATIC
  workloadSelector: { labels: { app: echo } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: echo-1, namespace: default }
spec: { address: 127.0.0.1, ports: { grpc: ${P.echoIn} }, labels: { app: echo, security.istio.io/tlsMode: istio } }
`;
}
