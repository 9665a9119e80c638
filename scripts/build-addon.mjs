// Builds the SO_ORIGINAL_DST addon (runtime/proxy/native) with node-gyp and puts it next to the
// bundle (build/original_dst.node, or `--outdir <dir>`). Optional: without it the proxy routes captured traffic by Host.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(ROOT, 'runtime', 'proxy', 'native');
const at = process.argv.indexOf('--outdir');
const outDir = at > 0 ? process.argv[at + 1] : join(ROOT, 'build');
const npmDir = spawnSync('npm', ['prefix', '-g'], { encoding: 'utf8' }).stdout.trim();
const gyp = [
  join(npmDir, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].find(existsSync);
if (!gyp) {
  console.log('original_dst addon not built: node-gyp (bundled with npm) not found; captured traffic will be routed by Host');
  process.exit(0);
}
// Build offline against this Node's own headers when they are installed beside it.
const localHeaders = join(dirname(process.execPath), '..');
const nodedir =
  process.env.npm_config_nodedir || (existsSync(join(localHeaders, 'include', 'node', 'node_api.h')) ? localHeaders : undefined);
const r = spawnSync(process.execPath, [gyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])], { cwd: dir, encoding: 'utf8' });
if (r.status !== 0) {
  console.log(`original_dst addon not built (node-gyp failed): ${(r.stderr || r.stdout).split('\n').slice(-3).join(' ')}`);
  process.exit(0);
}
mkdirSync(outDir, { recursive: true });
copyFileSync(join(dir, 'build', 'Release', 'original_dst.node'), join(outDir, 'original_dst.node'));
console.log(`built ${join(outDir, 'original_dst.node')}`);
