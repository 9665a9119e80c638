/** After the run: the bundles of test/support/global-setup.ts removed. */
import { rmSync } from 'node:fs';

export default function globalTeardown(): void {
  const dir = process.env.MAST_TEST_BUILD;
  if (dir) rmSync(dir, { recursive: true, force: true });
}
