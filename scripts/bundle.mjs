// Bundles the runtime entry points (one file each, for the images) with esbuild into build/
// (or `--outdir <dir>`: the tests bundle once per run into a directory of their own).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const at = process.argv.indexOf('--outdir');
const outDir = at > 0 ? process.argv[at + 1] : 'build';

const entries = {
  'mast-proxy': 'runtime/proxy/main.ts',
  mastd: 'runtime/control/main.ts',
  bookinfo: 'examples/bookinfo/app/server.ts',
};
const present = Object.entries(entries).filter(([, file]) => existsSync(file));
for (const [name, file] of present) {
  const outfile = join(outDir, `${name}.js`);
  // Whitespace and syntax minified (names kept, for stack traces; the source map has the rest):
  // a process keeps its script's source in memory for as long as it runs.
  await build({
    entryPoints: [file],
    bundle: true,
    platform: 'node',
    target: 'node20',
    outfile,
    minifyWhitespace: true,
    minifySyntax: true,
    charset: 'ascii',
    sourcemap: 'linked',
    legalComments: 'none',
  });
  // One character above U+00FF anywhere makes V8 hold the whole source as a two-byte string (twice the memory).
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range of one-byte characters, control characters included
  const wide = /[^\x00-\xff]/.exec(readFileSync(outfile, 'utf8'));
  if (wide)
    throw new Error(
      `${outfile}: character U+${wide[0].codePointAt(0).toString(16).padStart(4, '0')} at ${wide.index} would double the script's memory; escape it in the source`,
    );
  console.log(`bundled ${file} -> ${outfile}`);
}
if (present.length === 0) console.log('no runtime entry points yet (runtime/proxy/main.ts, runtime/control/main.ts): type-check only');
