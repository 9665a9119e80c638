/**
 * Scratch directories for a test file, removed when its tests are done (a synthesized assembly or
 * a bundled proxy is megabytes; left in /tmp, every run adds them up). Jest evaluates this module
 * once per test file, so the hook below belongs to the file that imports it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A new empty directory under the system's temporary directory, its name starting with `prefix`. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
