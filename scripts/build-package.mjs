// Builds what the published package runs (npm run build:package, and npm pack's prepack):
// api/, constructs/, lib/, the runtime and the CLI compiled to out/ with declarations, plus the
// example's mesh YAML next to its compiled module (examples/bookinfo/bookinfo.ts reads it from there).
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
// tsc copies package.json (api/well-known.ts imports its version) to out/package.json: a second package
// named mast inside the package (jest's haste map collides on it). The compiled module reads the root's instead.
const wellKnown = join(OUT, 'api', 'well-known.js');
const compiled = readFileSync(wellKnown, 'utf8');
if (!compiled.includes('require("../package.json")')) {
  console.error(`${wellKnown} no longer requires ../package.json: update scripts/build-package.mjs`);
  process.exit(1);
}
writeFileSync(wellKnown, compiled.replace('require("../package.json")', 'require("../../package.json")'));
rmSync(join(OUT, 'package.json'));
console.log(`compiled the package into ${OUT}`);
