/**
 * `mast local` runs the proxy and the apps as plain `node <file>` processes. A TypeScript entry
 * point is bundled once per run with esbuild into a private directory (no races with
 * `npm run build` or another `mast local`, and a few hundred milliseconds, not a ts-node start per
 * process); a JavaScript one runs as is. From the installed package the proxy is the compiled
 * out/runtime/proxy/main.js, so the mesh runs with no bundler: esbuild (an optional peer
 * dependency) is loaded only when an app's entry point is TypeScript.
 */
import { existsSync } from 'node:fs';
import { join, basename } from 'node:path';

/** The proxy's entry point: the TypeScript source in this repository, the compiled file in the package. */
export const PROXY_ENTRY = proxyEntry(join(__dirname, '..', 'proxy'));

export function proxyEntry(dir: string, exists: (file: string) => boolean = existsSync): string {
  const source = join(dir, 'main.ts');
  return exists(source) ? source : join(dir, 'main.js');
}

/** Raised when a TypeScript entry point cannot be bundled; `code` is stable. */
export class BundleError extends Error {
  constructor(
    readonly code: 'MAST_BUNDLER_MISSING' | 'MAST_BUNDLE_FAILED',
    message: string,
  ) {
    super(message);
  }
}

type Build = typeof import('esbuild').build;

async function loadEsbuild(entry: string): Promise<Build> {
  try {
    return (await import('esbuild')).build;
  } catch {
    throw new BundleError(
      'MAST_BUNDLER_MISSING',
      `cannot run ${entry}: TypeScript entry points are bundled with esbuild, which is not installed (npm install --save-dev esbuild), or point at a .js file`,
    );
  }
}

export class Bundler {
  private readonly done = new Map<string, Promise<string>>();
  constructor(private readonly outDir: string) {}

  /** The runnable file for an entry point: `.js`/`.cjs`/`.mjs` as is, anything else bundled. */
  file(entry: string): Promise<string> {
    if (/\.[cm]?js$/.test(entry)) return Promise.resolve(entry);
    let out = this.done.get(entry);
    if (!out) {
      const outfile = join(this.outDir, `${this.done.size}-${basename(entry).replace(/\.[^.]+$/, '')}.js`);
      out = loadEsbuild(entry)
        .then((build) =>
          build({
            entryPoints: [entry],
            bundle: true,
            platform: 'node',
            target: 'node20',
            outfile,
            logLevel: 'silent',
            // A process keeps its script's whole text: the source map beside it (inline, the proxy's
            // was 10 MB of every proxy's memory), no comments, and escapes for characters above
            // U+00FF (one makes V8 hold the whole script as two-byte), as scripts/bundle.mjs.
            sourcemap: 'linked',
            minifyWhitespace: true,
            legalComments: 'none',
            charset: 'ascii',
            // Packages mast has (the example apps' @grpc/grpc-js) resolve for an app outside this project too, e.g. a copy of the example.
            nodePaths: [join(__dirname, '..', '..', 'node_modules')],
          }).catch((err: Error) => {
            throw new BundleError('MAST_BUNDLE_FAILED', `cannot bundle ${entry}: ${err.message.split('\n').slice(0, 3).join(' ')}`);
          }),
        )
        .then(
          () => outfile,
          (err: Error) => {
            this.done.delete(entry);
            throw err;
          },
        );
      this.done.set(entry, out);
    }
    return out;
  }
}
