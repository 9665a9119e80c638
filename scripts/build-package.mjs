// Builds what the published package runs (npm run build:package, and npm pack's prepack):
// api/, constructs/, lib/, the runtime and the CLI compiled to out/ with declarations, plus the
// example's mesh YAML next to its compiled module (examples/bookinfo/bookinfo.ts reads it from there).
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'out');
rmSync(OUT, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
cpSync(join(ROOT, 'examples', 'bookinfo', 'mesh'), join(OUT, 'examples', 'bookinfo', 'mesh'), { recursive: true });
console.log(`compiled the package into ${OUT}`);
