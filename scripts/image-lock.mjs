// Writes images/build/package-lock.json: the part of the repository's lockfile the images' bundle
// stage installs (the dependencies images/build/package.json names, and theirs), each package at the
// same path, version and integrity as the repository locks it, so an image bundles what the tests ran.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const repo = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages;
const manifestPath = join(root, 'images', 'build', 'package.json');
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));

/** Where npm finds `name` for the package at `from`: its own node_modules, then each parent's, then the top. */
function resolve(from, name) {
  for (let at = from; ; at = at.slice(0, Math.max(0, at.lastIndexOf('/node_modules/')))) {
    const path = `${at ? `${at}/` : ''}node_modules/${name}`;
    if (repo[path]) return path;
    if (!at) return undefined;
  }
}

const packages = { '': { name: manifest.name, version: manifest.version, dependencies: manifest.dependencies } };
const queue = Object.keys(manifest.dependencies).map((name) => ['', name, false]);
while (queue.length) {
  const [from, name, optional] = queue.shift();
  const path = resolve(from, name);
  if (!path) {
    if (optional) continue;
    throw new Error(`${name} (needed by ${from || 'images/build'}) is not in the repository's lockfile`);
  }
  if (packages[path]) continue;
  const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = repo[path];
  packages[path] = entry;
  for (const dep of Object.keys(entry.dependencies ?? {})) queue.push([path, dep, false]);
  for (const dep of Object.keys(entry.optionalDependencies ?? {})) queue.push([path, dep, true]);
}
const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
const lock = { name: manifest.name, version: manifest.version, lockfileVersion: 3, requires: true, packages: sorted };
writeFileSync(join(root, 'images', 'build', 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
console.log(`images/build/package-lock.json: ${Object.keys(sorted).length - 1} packages`);
