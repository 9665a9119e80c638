/**
 * The SO_ORIGINAL_DST addon that `mast local --intercept` hands its sidecars: found where
 * `npm run build` (scripts/build-addon.mjs) puts it, or built there on first use. The same code
 * serves this repository (runtime/local/ beside package.json) and the installed package (its
 * compiled copy in out/runtime/local/, one folder deeper, where tsc also leaves a copy of
 * package.json), so the root is looked up by the addon's source it holds, not assumed. The package ships the addon's source, not a binary: a binary is per platform and Node
 * ABI, and most users never intercept, so nothing is compiled at `npm install`.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Raised when `--intercept` cannot have its addon; `code` is stable. */
export class AddonError extends Error {
  readonly code = 'MAST_ADDON_UNAVAILABLE';
}

/** The addon's source, relative to the package root (shipped in the package's `files`). */
export const ADDON_SOURCE = join('runtime', 'proxy', 'native', 'binding.gyp');

/** The nearest folder at or above `from` holding the addon's source: the repository or the installed package. */
export function packageRoot(from: string, exists: (file: string) => boolean = existsSync): string {
  for (let dir = from, up = 0; up < 6; dir = dirname(dir), up++) if (exists(join(dir, ADDON_SOURCE))) return dir;
  throw new AddonError(`no ${ADDON_SOURCE} above ${from}: cannot locate mast's files`);
}

/** Where scripts/build-addon.mjs puts the addon, under the package root. */
export const builtAddon = (root: string): string => join(root, 'build', 'original_dst.node');

/** The addon, built if missing, copied into `dir` (readable by the sidecars' uid 1337); its path there. */
export function originalDstAddon(dir: string, root = packageRoot(__dirname)): string {
  const built = builtAddon(root);
  let why = '';
  if (!existsSync(built)) {
    const script = join(root, 'scripts', 'build-addon.mjs');
    // The script exits 0 when the build fails (the addon is optional for the proxy) and says why on stdout.
    const r = spawnSync(process.execPath, [script], { cwd: root, encoding: 'utf8' });
    why = `${r.error?.message ?? ''}${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  }
  if (!existsSync(built))
    throw new AddonError(
      `--intercept needs the SO_ORIGINAL_DST addon (${built}), and it could not be built here: ${why || 'no reason given'} ` +
        `(node-gyp, python3, make and a C compiler are needed; run \`node ${join(root, 'scripts', 'build-addon.mjs')}\` to retry)`,
    );
  const copy = join(dir, 'original_dst.node');
  copyFileSync(built, copy);
  chmodSync(copy, 0o755);
  return copy;
}
