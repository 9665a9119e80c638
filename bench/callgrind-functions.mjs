// Instructions of their own by function in a callgrind dump, the JIT code (callgrind's `???:0x…`
// entries) named from the process's `--perf-basic-prof` map (/tmp/perf-PID.map: start, size and
// name of each piece of code V8 made). Used by instructions.mjs `--top`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** [start, end, name] of the map's code, by start. */
function codeRanges(mapFile) {
  if (!existsSync(mapFile)) return [];
  const ranges = [];
  for (const line of readFileSync(mapFile, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (m) ranges.push([parseInt(m[1], 16), parseInt(m[1], 16) + parseInt(m[2], 16), m[3]]);
  }
  return ranges.sort((a, b) => a[0] - b[0]);
}

/** The name of the code at `address`: the last range that starts at or before it, if it reaches it. */
function nameAt(ranges, address) {
  let lo = 0;
  let hi = ranges.length - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid][0] <= address) {
      at = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // Code made later may sit where older code was: the latest range that holds the address wins.
  for (let i = at; i >= 0 && i > at - 64; i--) if (address < ranges[i][1]) return ranges[i][2];
  return undefined;
}

/** [{ name, instructions }] most first: self cost by function, JIT code by its map name ('JIT ?' when unknown). */
export function functionCosts(dumpFile, mapFile) {
  const ranges = codeRanges(mapFile);
  const text = spawnSync('callgrind_annotate', ['--threshold=100', '--auto=no', dumpFile], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
  const byName = new Map();
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+) \([^)]*\)\s+(.*)$/.exec(line);
    if (!m || m[2].includes('PROGRAM TOTALS')) continue;
    const jit = /^\?\?\?:0x([0-9a-f]+) \[\?\?\?\]/.exec(m[2]);
    const name = jit ? `JIT ${nameAt(ranges, parseInt(jit[1], 16)) ?? '?'}` : m[2].replace(/ \[[^\]]*\]$/, '').replace(/^\?\?\?:/, '');
    byName.set(name, (byName.get(name) ?? 0) + Number(m[1].replace(/,/g, '')));
  }
  // The frames on the stack when the dump was taken (main, the event loop...) carry the whole count as their own: left out.
  const total = Math.max(0, ...byName.values());
  return [...byName]
    .filter(([, instructions]) => instructions < total)
    .map(([name, instructions]) => ({ name, instructions }))
    .sort((a, b) => b.instructions - a.instructions);
}
