/**
 * What the unit guard (unit-guard.ts) replaced, kept for the whole worker: jest runs a file whose tests are
 * all skipped without its afterAll, and the next file of that worker (an integration test, in a run of
 * both projects) would find sockets and processes still forbidden. Each unit file and each
 * integration file first undoes whatever a previous file left.
 */
export type Patch = [object, string, unknown];

const KEY = Symbol.for('mast.test.unitGuard');

/**
 * The process-wide list of replaced functions with their originals, kept on node:net's module object:
 * each test file has a `process` (and globals) of its own, the core modules are the worker's.
 */
export function patches(): Patch[] {
  const holder = require('node:net') as Record<symbol, Patch[] | undefined>;
  let list = holder[KEY];
  if (!list) holder[KEY] = list = [];
  return list;
}

/** Every replaced function back as it was. */
export function restoreUnitGuard(): void {
  for (const [owner, name, original] of patches().splice(0).reverse()) (owner as Record<string, unknown>)[name] = original;
}
