// Node flags for mast-proxy, A against B in one run (issue #26's memory work): two gateways of the
// mesh path's rows, one with the image's flags (A), one with more flags after them (B, the later
// flag wins), both in front of the same backend's sidecar. They take wrk rounds in turn (CPU per
// request from /proc, each round's B/A), their garbage collections timed by V8 (`--trace-gc`, µs per
// request in scavenges and in full collections: a cost CPU time on this shared machine cannot
// resolve), then a burst of 120 connections through each and their memory at 1,000 requests/s:
// private (smaps' Anonymous), V8's heap, its young generation, the connections held.
//   node bench/node-flags-ab.mjs [--flags "--max-semi-space-size=1"] [--rounds 8]
// Ports 183xx of the mesh rows (mesh-path.mjs) and 18320–18321: not beside `--only-mesh`.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageNode, proxyNodeFlags } from './image-node.mjs';
import { fixedRate, waitPort, wrk } from './measure.mjs';
import { MESH, startRows } from './mesh-path.mjs';
import { connectionsOf, cpuSeconds, median, memoryMb, withProcesses } from './processes.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const extra = arg('--flags', '--max-semi-space-size=1').split(' ').filter(Boolean);
const rounds = Number(arg('--rounds', '8'));
const B = { port: 18320, admin: 18321 };
const HOST = 'alpha.example.com';

const dir = mkdtempSync(join(tmpdir(), 'mast-flags-'));
for (const name of ['pipe-proxy', 'mtls-pipe-proxy'])
  execFileSync(join(ROOT, 'node_modules', '.bin', 'esbuild'), [
    join(ROOT, 'bench', `${name}.ts`),
    '--bundle',
    '--platform=node',
    '--target=node20',
    `--outfile=${join(dir, `${name}.js`)}`,
    '--log-level=warning',
  ]);
const flags = proxyNodeFlags(ROOT);
const node = imageNode(ROOT);
// The bench's processes keep no stdout: this wrapper keeps each one's (--trace-gc's lines) in a file named by its pid.
const out = join(dir, 'stdout');
mkdirSync(out);
const wrapper = join(dir, 'node-wrapper.sh');
writeFileSync(wrapper, `#!/bin/sh\nexec "${node.path}" "$@" > "${out}/$$"\n`);
chmodSync(wrapper, 0o755);

/** Scavenges and full collections in `text` (--trace-gc lines): { scavenges, scavengeMs, full, fullMs }. */
function collections(text) {
  const timed = (re) => [...text.matchAll(re)].map((m) => Number(m[1]));
  const s = timed(/Scavenge[^\n]*?([\d.]+) \/ [\d.]+ ms/g);
  const f = timed(/Mark-(?:Compact|Sweep)[^\n]*?([\d.]+) \/ [\d.]+ ms/g);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  return { scavenges: s.length, scavengeMs: sum(s), full: f.length, fullMs: sum(f) };
}

function adminMemory(port) {
  try {
    return JSON.parse(spawnSync('curl', ['-s', '-m', '2', `http://127.0.0.1:${port}/memory`]).stdout.toString());
  } catch {
    return {};
  }
}

const MB = (bytes) => (Number(bytes) / 1048576).toFixed(2);

await withProcesses(async (run, started) => {
  const nodeFlags = (name) => (name === 'mesh-gateway-b' ? [...extra, '--trace-gc'] : name === 'mesh-gateway' ? ['--trace-gc'] : []);
  const p = await startRows({ root: ROOT, dir, node: { ...node, path: wrapper }, proxyFlags: flags }, run, started, nodeFlags);
  const b = p.mesh.gateway('mesh-gateway-b', { portMap: `80=${B.port}`, adminPort: B.admin });
  started.push(b);
  const gateways = [
    { name: `A (${flags.join(' ')})`, port: MESH.gateway, admin: MESH.gatewayAdmin, pid: p.gateway.pid, cpu: [], requests: 0 },
    { name: `B (+ ${extra.join(' ')})`, port: B.port, admin: B.admin, pid: b.pid, cpu: [], requests: 0 },
  ];
  for (const g of gateways) await waitPort(g.port, HOST);
  for (const g of gateways) wrk(g.port, HOST, 3); // warm-up: JIT, pools
  const gcText = (g) => readFileSync(join(out, String(g.pid)), 'utf8');
  for (const g of gateways) g.gcFrom = gcText(g).length;
  for (let r = 0; r < rounds; r++)
    for (const g of r % 2 ? [...gateways].reverse() : gateways) {
      const cpu0 = cpuSeconds(g.pid);
      const load = wrk(g.port, HOST, 2);
      g.cpu.push(((cpuSeconds(g.pid) - cpu0) * 1e6) / load.requests);
      g.requests += load.requests;
    }
  for (const g of gateways) {
    const c = collections(gcText(g).slice(g.gcFrom));
    const us = (ms) => ((ms * 1000) / g.requests).toFixed(2);
    console.log(
      `${g.name}: ${g.requests} requests; scavenges ${c.scavenges}, ${us(c.scavengeMs)} µs per request; full collections ${c.full}, ${us(c.fullMs)} µs per request; CPU per request ${g.cpu.map((x) => x.toFixed(1)).join(' ')}`,
    );
  }
  const ratios = gateways[1].cpu.map((x, i) => x / gateways[0].cpu[i]);
  console.log(
    `ratio cpu-per-request B/A ${median(ratios).toFixed(3)} (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
  );
  for (const g of gateways)
    execFileSync('wrk', ['-t1', '-c120', '-d2s', '-H', `Host: ${HOST}`, `http://127.0.0.1:${g.port}/api/v1/products`]);
  for (let k = 0; k < 3; k++)
    for (const g of gateways) {
      const f = await fixedRate(g.port, HOST, 1000, 4, () => ({
        memory: memoryMb(g.pid),
        v8: adminMemory(g.admin),
        held: connectionsOf(g.pid).length,
      }));
      const s = f.sampled;
      console.log(
        `${g.name} at 1000 req/s: private ${s.memory.anon.toFixed(2)} MB holding ${s.held} connections; V8 heap ${MB(s.v8.v8_heap_committed)} committed (${MB(s.v8.v8_heap_used)} used, young generation ${MB(s.v8.v8_young_generation)})`,
      );
    }
});
