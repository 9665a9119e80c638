/**
 * `mast local` runs the proxy and TypeScript apps as plain `node <file>` processes: each entry
 * point is bundled once per run with esbuild into a private directory (no races with
 * `npm run build` or another `mast local`, and a few hundred milliseconds, not a ts-node start per process).
 */
import { join, basename } from 'node:path';
import { build } from 'esbuild';

export const PROXY_ENTRY = join(__dirname, '..', 'proxy', 'main.ts');

export class Bundler {
  private readonly done = new Map<string, Promise<string>>();
  constructor(private readonly outDir: string) {}

  /** The runnable file for an entry point: `.js`/`.cjs`/`.mjs` as is, anything else bundled. */
  file(entry: string): Promise<string> {
    if (/\.[cm]?js$/.test(entry)) return Promise.resolve(entry);
    let out = this.done.get(entry);
    if (!out) {
      const outfile = join(this.outDir, `${this.done.size}-${basename(entry).replace(/\.[^.]+$/, '')}.js`);
      out = build({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        target: 'node20',
        outfile,
        logLevel: 'silent',
        sourcemap: 'inline',
        // Packages mast has (the example apps' @grpc/grpc-js) resolve for an app outside this project too, e.g. a copy of the example.
        nodePaths: [join(__dirname, '..', '..', 'node_modules')],
      }).then(
        () => outfile,
        (err: Error) => {
          this.done.delete(entry);
          throw new Error(`cannot bundle ${entry}: ${err.message.split('\n').slice(0, 3).join(' ')}`);
        },
      );
      this.done.set(entry, out);
    }
    return out;
  }
}
