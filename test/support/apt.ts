/** Tools some tests need and a fresh machine lacks: installed with apt-get when missing (root only). */
import { spawnSync } from 'node:child_process';

const has = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

/**
 * Makes `command` available, installing `pkg` if needed; returns why it could not. Test files run
 * in parallel, so apt waits for the dpkg lock instead of failing on it.
 */
export function ensureCommand(command: string, pkg: string): string | undefined {
  if (has(command)) return undefined;
  if (process.getuid?.() !== 0) return `${command} is not installed and installing ${pkg} needs root`;
  const r = spawnSync(
    'sh',
    [
      '-c',
      `apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq ${pkg} >/dev/null 2>&1`,
    ],
    { timeout: 600_000 },
  );
  return r.status === 0 && has(command) ? undefined : `${command} is not installed and apt-get could not install ${pkg}`;
}
