// What the instruction benches (instructions.mjs, grpc-instructions.mjs, h2-instructions.mjs) share: the
// node wrapper that puts one process under callgrind, and what they read from its dump.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Callgrind's total instructions, and TurboFan's compiling among them (inclusive), of a dump. */
export function counts(file) {
  const total = Number(/^(?:summary|totals): (\d+)/m.exec(readFileSync(file, 'utf8'))?.[1] ?? 0);
  const annotated = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', '--auto=no', file], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  }).stdout;
  const compiling = /^\s*([\d,]+) \([^)]*\)\s+\S*v8::internal::Compiler::CompileOptimized/m.exec(annotated)?.[1];
  return { total, compiling: compiling ? Number(compiling.replace(/,/g, '')) : 0 };
}

/**
 * A node wrapper (`dir`/node.sh) that runs under callgrind the one process whose arguments include
 * `marker` (dumps into `dir`/callgrind/out.<pid>, `extraFlags` before its own) and every other as
 * plain `nodePath`: { wrapper, out }.
 */
export function callgrindNode(dir, nodePath, marker, extraFlags = '') {
  const out = join(dir, 'callgrind');
  mkdirSync(out);
  const wrapper = join(dir, 'node.sh');
  writeFileSync(
    wrapper,
    `#!/bin/sh\nfor a in "$@"; do [ "$a" = "${marker}" ] && exec valgrind --tool=callgrind --callgrind-out-file=${out}/out.%p --smc-check=all-non-file "${nodePath}" ${extraFlags}"$@"; done\nexec "${nodePath}" "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  return { wrapper, out };
}
