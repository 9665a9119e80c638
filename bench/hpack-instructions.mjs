// Instructions per HPACK operation (bench/hpack.ts's blocks), counted by valgrind's callgrind: a
// figure the machine's load does not move. Each operation runs in two processes that differ only in
// how many measured calls follow the same warm-up; the difference in instructions over the
// difference in calls is the cost of one call (start-up, warm-up and compiling cancel out).
//   node bench/hpack-instructions.mjs [--ops mast:decode:mesh,mast-plain:encode:mesh,...] [--calls 20000]
// With HPACK_JS=<dir of an installed hpack.js>, its ops (hpack.js:decode:mesh, …) are counted too.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const calls = Number(arg('--calls', '20000'));
const blocks = ['h2load', 'mesh', 'grpc-head', 'grpc-trailers'];
const codecs = ['mast', 'mast-plain', ...(process.env.HPACK_JS ? ['hpack.js'] : [])];
const ops = arg('--ops', '').split(',').filter(Boolean);
if (ops.length === 0)
  for (const b of blocks) for (const what of ['decode', 'encode']) for (const c of codecs) ops.push(`${c}:${what}:${b}`);

if (spawnSync('sh', ['-c', 'command -v valgrind']).status !== 0) {
  console.log('instructions n/a: valgrind is not installed (Debian package valgrind)');
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), 'hpack-instructions-'));
const bundle = join(dir, 'hpack.js');
await build({ entryPoints: [join(HERE, 'hpack.ts')], bundle: true, platform: 'node', outfile: bundle, logLevel: 'warning' });

/** Instructions of one process running `op` with `n` measured calls. */
function count(op, n) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'valgrind',
      ['--tool=callgrind', `--callgrind-out-file=${join(dir, 'cg.%p')}`, process.execPath, bundle, '--op', op, '--calls', String(n)],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: process.env,
      },
    );
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const m = /Collected : (\d+)/.exec(err);
      if (code !== 0 || !m) reject(new Error(`${op}: exit ${code}\n${err.slice(-2000)}`));
      else resolve(Number(m[1]));
    });
  });
}

for (const op of ops) {
  const [small, large] = await Promise.all([count(op, 0), count(op, calls)]);
  console.log(`${op.padEnd(32)} ${((large - small) / calls).toFixed(0).padStart(7)} instructions per call`);
}
