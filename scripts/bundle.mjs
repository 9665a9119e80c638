// Bundles the runtime entry points (one file each, for the images) with esbuild into build/
// (or `--outdir <dir>`: the tests bundle once per run into a directory of their own).
// The proxy's rarely used parts are files of their own beside mast-proxy.js (mast-proxy-*.js),
// required only when a config or a command needs them: a process keeps the source of every script
// it loads, so a sidecar that never meets a CEL filter does not hold CEL's.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const at = process.argv.indexOf('--outdir');
const outDir = at > 0 ? process.argv[at + 1] : 'build';

const entries = {
  'mast-proxy': 'runtime/proxy/main.ts',
  mastd: 'runtime/control/main.ts',
  bookinfo: 'examples/bookinfo/app/server.ts',
};

/**
 * mast-proxy's parts: the file name after `mast-proxy-`, what the proxy's sources `require` (or
 * `import()`) lazily to get it, and what it is. Each is imported by the sources only inside the
 * function that needs it, so the proxy loads the file on first use.
 */
const PROXY_PARTS = [
  { name: 'cel', module: '@bufbuild/cel', what: 'CEL, for access-log filters' },
  { name: 're2', module: 're2js', what: 'RE2 regular expressions, for regex matches and rewrites' },
  { name: 'protobuf', module: '@bufbuild/protobuf/wire', what: 'the protobuf writer, for OTLP exports' },
  { name: 'yaml', module: 'yaml', what: 'the YAML parser, for a mesh config given as YAML' },
  { name: 'x509', file: 'runtime/contract/x509.ts', what: "the X.509 library, for the workload certificate's request" },
  { name: 'mesh', file: 'runtime/proxy/mesh-file.ts', what: 'the validator and compiler, for --mesh (a short-lived process)' },
];

/** Rewrites a part's import, from the proxy's own sources, into a require of its file (a bundle's require is relative to it). */
function partsPlugin(self) {
  const others = PROXY_PARTS.filter((p) => p !== self);
  return {
    name: 'mast-proxy-parts',
    setup(b) {
      b.onResolve({ filter: /./ }, (args) => {
        if (args.importer.includes('node_modules') || args.kind === 'entry-point') return undefined;
        const abs = args.path.startsWith('.') ? resolve(args.resolveDir, args.path) : undefined;
        const part = others.find((p) =>
          p.module ? p.module === args.path : abs && resolve(p.file).replace(/\.ts$/, '') === abs.replace(/\.ts$/, ''),
        );
        return part ? { path: `./mast-proxy-${part.name}.js`, external: true } : undefined;
      });
    },
  };
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Whitespace and syntax minified (names kept, for stack traces; the source map has the rest):
  // a process keeps its script's source in memory for as long as it runs.
  minifyWhitespace: true,
  minifySyntax: true,
  charset: 'ascii',
  sourcemap: 'linked',
  legalComments: 'none',
};

const builds = Object.entries(entries)
  .filter(([, file]) => existsSync(file))
  .map(([name, file]) => ({ name, file, options: { entryPoints: [file] } }));
if (builds.some((b) => b.name === 'mast-proxy')) {
  const proxy = builds.find((b) => b.name === 'mast-proxy');
  // `import()` of a part as a `require` (a dynamic import would start Node's ES module loader).
  proxy.options = { ...proxy.options, plugins: [partsPlugin()], supported: { 'dynamic-import': false } };
  for (const part of PROXY_PARTS)
    builds.push({
      name: `mast-proxy-${part.name}`,
      file: part.module ?? part.file,
      options: {
        ...(part.module
          ? {
              stdin: {
                contents: `module.exports = require(${JSON.stringify(part.module)});`,
                resolveDir: process.cwd(),
                sourcefile: `${part.name}.js`,
              },
            }
          : { entryPoints: [part.file] }),
        plugins: [partsPlugin(part)],
        supported: { 'dynamic-import': false },
      },
    });
}

for (const { name, file, options } of builds) {
  const outfile = join(outDir, `${name}.js`);
  await build({ ...common, ...options, outfile });
  // One character above U+00FF anywhere makes V8 hold the whole source as a two-byte string (twice the memory).
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range of one-byte characters, control characters included
  const wide = /[^\x00-\xff]/.exec(readFileSync(outfile, 'utf8'));
  if (wide)
    throw new Error(
      `${outfile}: character U+${wide[0].codePointAt(0).toString(16).padStart(4, '0')} at ${wide.index} would double the script's memory; escape it in the source`,
    );
  console.log(`bundled ${file} -> ${outfile}`);
}
if (builds.length === 0) console.log('no runtime entry points yet (runtime/proxy/main.ts, runtime/control/main.ts): type-check only');
