/**
 * Where a test finds the runtime bundles (`mast-proxy.js`, `mastd.js`, `bookinfo.js`) and the
 * `original_dst.node` addon: the directory jest's global setup built them into for this run
 * (test/support/global-setup.ts). A test never builds into it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export function builtFile(name: string): string {
  const dir = process.env.MAST_TEST_BUILD;
  if (!dir) throw new Error('MAST_TEST_BUILD is not set: run the tests with jest (its global setup builds the bundles)');
  const file = join(dir, name);
  if (!existsSync(file)) throw new Error(`${file} was not built by the global setup`);
  return file;
}

/** The addon when it could be built on this machine (it is optional), else undefined. */
export function builtAddon(): string | undefined {
  const dir = process.env.MAST_TEST_BUILD;
  const file = dir ? join(dir, 'original_dst.node') : '';
  return file && existsSync(file) ? file : undefined;
}
