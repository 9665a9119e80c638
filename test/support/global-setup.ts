/**
 * Once per `jest` run, before any test file: the runtime bundles and the SO_ORIGINAL_DST addon
 * built into a directory of this run's own, which no test writes to. (Test files used to run
 * scripts/bundle.mjs into the shared build/ from parallel workers: one could load a bundle while
 * another was rewriting it.) Workers inherit the directory through MAST_TEST_BUILD.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function globalSetup(): void {
  const root = join(__dirname, '..', '..');
  const dir = mkdtempSync(join(tmpdir(), 'mast-test-build-'));
  chmodSync(dir, 0o755); // readable by the proxy the netns tests run as uid 1337
  execFileSync(process.execPath, [join(root, 'scripts', 'bundle.mjs'), '--outdir', dir], { cwd: root, stdio: 'ignore' });
  execFileSync(process.execPath, [join(root, 'scripts', 'build-addon.mjs'), '--outdir', dir], { cwd: root, stdio: 'ignore' });
  process.env.MAST_TEST_BUILD = dir;
}
