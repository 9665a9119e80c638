/** A Node.js binary of at least a given version for tests of features older Node lacks: this one, or one installed from the npm registry (the `node` package) into a cache. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function nodeAtLeast(version: string, enough: (v: string) => boolean): { node: string } | { why: string } {
  if (enough(process.versions.node)) return { node: process.execPath };
  const dir = join(homedir(), '.cache', 'mast-tests', `node-${version}`);
  const node = join(dir, 'node_modules', '.bin', 'node');
  if (!existsSync(node)) {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync('npm', ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', '--silent', `node@${version}`], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (r.status !== 0)
      return {
        why: `this is Node ${process.versions.node} and node@${version} could not be installed from the npm registry: ${(r.stderr || r.error?.message || '').trim().slice(0, 200)}`,
      };
  }
  const v = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout?.trim().replace(/^v/, '');
  return v && enough(v) ? { node } : { why: `node@${version} from npm did not run (${v || 'no version'})` };
}
