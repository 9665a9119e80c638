// Bundles the runtime entry points (one file each, for the images) with esbuild into build/.
import { existsSync } from 'node:fs';
import { build } from 'esbuild';

const entries = {
  'mast-proxy': 'runtime/proxy/main.ts',
  mastd: 'runtime/control/main.ts',
  bookinfo: 'examples/bookinfo/app/server.ts',
};
const present = Object.entries(entries).filter(([, file]) => existsSync(file));
for (const [name, file] of present) {
  await build({ entryPoints: [file], bundle: true, platform: 'node', target: 'node20', outfile: `build/${name}.js`, minify: false, sourcemap: 'linked', legalComments: 'none' });
  console.log(`bundled ${file} -> build/${name}.js`);
}
if (present.length === 0) console.log('no runtime entry points yet (runtime/proxy/main.ts, runtime/control/main.ts): type-check only');
