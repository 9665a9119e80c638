// What the instruction benches (instructions.mjs, h2-instructions.mjs) read from a callgrind dump.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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
