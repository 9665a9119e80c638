// Instructions per request of the two bare HTTP/2 relays, counted by valgrind's callgrind (a figure
// the machine's load does not move): the node:http2 floor (h2-pipe-proxy.mjs) and the relay on
// mast's JavaScript codec (h2-js-pipe.ts), each in turn under callgrind in front of the same h2c
// nginx, h2load -c5 -m10 for the warm-up and the measured requests, the counters zeroed between.
//   node bench/h2-instructions.mjs [--warm 2000] [--requests 2000]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { counts } from './callgrind.mjs';
import { imageNode } from './image-node.mjs';
import { writeBackendConfig } from './nginx-configs.mjs';
import { sleep, withProcesses } from './processes.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const warm = arg('--warm', 2000);
const measured = arg('--requests', 2000);
/** Ports 187xx: the other benches hold 181xx–186xx. */
const P = { backend: 18700, relay: 18701 };

if (spawnSync('sh', ['-c', 'command -v valgrind && command -v callgrind_control && command -v h2load']).status !== 0) {
  console.log('h2 instructions n/a: valgrind or h2load is not installed (Debian packages valgrind, nghttp2-client)');
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), 'mast-h2-instructions-'));
const node = imageNode(join(HERE, '..'));
const esbuild = join(HERE, '..', 'node_modules', '.bin', 'esbuild');
const jsPipe = join(dir, 'h2-js-pipe.js');
spawnSync(esbuild, [join(HERE, 'h2-js-pipe.ts'), '--bundle', '--platform=node', '--target=node20', `--outfile=${jsPipe}`], {
  stdio: 'inherit',
});

/** h2load's count of 2xx answers for `n` requests through the relay (`c` connections: h2load wants n ≥ c). */
function load(n, c = 5) {
  const r = spawnSync('h2load', ['-n', String(n), '-c', String(c), '-m', '10', `http://127.0.0.1:${P.relay}/`], { timeout: 600_000 });
  return Number(/status codes: (\d+) 2xx/.exec(r.stdout.toString())?.[1] ?? 0);
}

async function measure(run, name, script) {
  const out = join(dir, name);
  mkdirSync(out);
  const relay = run(name, 'valgrind', [
    '--tool=callgrind',
    `--callgrind-out-file=${out}/out.%p`,
    '--smc-check=all-non-file',
    node.path,
    script,
    String(P.relay),
    String(P.backend),
  ]);
  // Under callgrind node starts in seconds to minutes (a loaded machine): up to 5 minutes.
  let up = false;
  for (let i = 0; i < 600 && !up; i++) {
    up = load(1, 1) === 1;
    if (!up) await sleep(500);
  }
  if (!up) throw new Error(`${name} never answered`);
  const warmOk = load(warm);
  spawnSync('callgrind_control', ['--zero', String(relay.pid)]);
  const ok = load(measured);
  spawnSync('callgrind_control', ['--dump', String(relay.pid)]);
  await sleep(2000);
  relay.kill('SIGTERM');
  await sleep(1000);
  const dump = readdirSync(out).find((f) => /^out\.\d+\.\d+$/.test(f));
  if (!dump) throw new Error(`callgrind wrote no dump for ${name}`);
  const { total, compiling } = counts(join(out, dump));
  const per = (n) => n / measured;
  console.log(
    `${name.padEnd(16)} ${(per(total - compiling) / 1000).toFixed(1)} k instructions per request without TurboFan's compiling, ${(per(total) / 1000).toFixed(1)} k in all (${measured} after ${warm}; ${measured - ok + warm - warmOk} not 2xx)`,
  );
  return per(total - compiling);
}

await withProcesses(async (run) => {
  writeBackendConfig(dir, 'h2-backend', P.backend, 'http2');
  run('h2-backend', 'nginx', ['-c', join(dir, 'h2-backend.conf')]);
  await sleep(500);
  console.log(`HTTP/2 relays under callgrind, h2load -c5 -m10, node ${node.version}`);
  const floor = await measure(run, 'node-h2 floor', join(HERE, 'h2-pipe-proxy.mjs'));
  const js = await measure(run, 'js-codec pipe', jsPipe);
  console.log(`ratio h2-instructions-per-request js-codec-pipe/node-h2-floor ${(js / floor).toFixed(2)}`);
});
