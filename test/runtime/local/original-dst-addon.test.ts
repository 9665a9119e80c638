import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADDON_SOURCE, AddonError, builtAddon, originalDstAddon, packageRoot } from '../../../runtime/local/original-dst-addon';
import { tempDir } from '../../support/temp-dir';

describe('the SO_ORIGINAL_DST addon for mast local --intercept', () => {
  test('the package root is found from the source tree and from the compiled copy in out/ alike', () => {
    // tsc copies package.json into out/ too: the root is where the addon's source is.
    const files = new Set(
      ['/repo', '/app/node_modules/mast']
        .flatMap((root) => [`${root}/package.json`, `${root}/${ADDON_SOURCE}`])
        .concat('/app/node_modules/mast/out/package.json'),
    );
    const has = (f: string) => files.has(f);
    expect(packageRoot('/repo/runtime/local', has)).toBe('/repo');
    expect(packageRoot('/app/node_modules/mast/out/runtime/local', has)).toBe('/app/node_modules/mast');
    expect(() => packageRoot('/elsewhere/a/b', has)).toThrow(AddonError);
  });

  test('an addon already built is copied where the sidecars (uid 1337) can read it', () => {
    const root = tempDir('mast-addon-root-');
    mkdirSync(join(root, 'build'));
    writeFileSync(builtAddon(root), 'not really a shared object');
    const dir = tempDir('mast-addon-run-');
    const copy = originalDstAddon(dir, root);
    expect(copy).toBe(join(dir, 'original_dst.node'));
    expect(existsSync(copy)).toBe(true);
  });

  test('when it cannot be built, a typed error says why and how to retry', () => {
    // A root without scripts/build-addon.mjs: node fails to start the script, and says so.
    const root = tempDir('mast-addon-empty-');
    let error: unknown;
    try {
      originalDstAddon(tempDir('mast-addon-run-'), root);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AddonError);
    expect((error as AddonError).code).toBe('MAST_ADDON_UNAVAILABLE');
    expect((error as Error).message).toMatch(/could not be built here: .*Cannot find module .*build-addon\.mjs/s);
    expect((error as Error).message).toContain(`node ${join(root, 'scripts', 'build-addon.mjs')}`);
  });

  test('in this repository it builds (or finds) the real addon, and the addon loads', () => {
    const copy = originalDstAddon(tempDir('mast-addon-run-'));
    const addon = require(copy) as { originalDst(fd: number): unknown };
    // No socket behind fd -1: the addon answers null rather than throwing.
    expect(addon.originalDst(-1)).toBeNull();
  });
});
