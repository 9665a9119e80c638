// The top self-time functions of V8 CPU profiles (`node --cpu-prof`'s .cpuprofile files): where a
// process spent its samples, by function, with its share of all samples. mesh-path.mjs prints it
// for each mast proxy after `--profile`; by hand: node bench/profile-summary.mjs <file|dir>... [--top N] [--callers NAME [--depth N]]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The .cpuprofile files of `path` (itself, or those in the directory). */
function profileFiles(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(path, f));
}

/** A function's name as a line of the summary: name, file and line (1-based). */
function frameName(f) {
  const where = f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

/**
 * Self time by function over the profiles of `paths`: [{ name, ms, share }] most first. A sample
 * is charged to the node it was taken in; `(idle)` (the process waiting) is left out of the shares,
 * `(garbage collector)` and `(program)` (native work outside JavaScript: the TLS and socket code
 * among it) are kept.
 */
export function selfTimes(paths) {
  const byName = new Map();
  let total = 0;
  for (const file of paths.flatMap(profileFiles)) {
    const p = JSON.parse(readFileSync(file, 'utf8'));
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    // timeDeltas[i] is the time before sample i: charge it to that sample's node.
    for (let i = 0; i < p.samples.length; i++) {
      const node = nodes.get(p.samples[i]);
      const us = p.timeDeltas[i] ?? 0;
      if (!node || node.callFrame.functionName === '(idle)') continue;
      const name = frameName(node.callFrame);
      byName.set(name, (byName.get(name) ?? 0) + us);
      total += us;
    }
  }
  return [...byName.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000, share: total ? us / total : 0 }));
}

/** What kind of code a frame is: native (no script: writes, TLS, syscalls), gc, program, Node's own JavaScript, or the process's. */
function kindOf(f) {
  if (f.functionName === '(garbage collector)') return 'gc';
  if (f.functionName === '(program)') return 'program';
  if (!f.url) return 'native';
  return f.url.startsWith('node:') ? 'node js' : 'own js';
}

/** Self time by kind of code (kindOf) over the profiles of `path`: [{ kind, share }] most first, `(idle)` left out. */
export function sampleKinds(path) {
  const byKind = new Map();
  let total = 0;
  for (const file of profileFiles(path)) {
    const p = JSON.parse(readFileSync(file, 'utf8'));
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < p.samples.length; i++) {
      const f = nodes.get(p.samples[i])?.callFrame;
      const us = p.timeDeltas[i] ?? 0;
      if (!f || f.functionName === '(idle)') continue;
      byKind.set(kindOf(f), (byKind.get(kindOf(f)) ?? 0) + us);
      total += us;
    }
  }
  return [...byKind.entries()].sort((a, b) => b[1] - a[1]).map(([kind, us]) => ({ kind, share: total ? us / total : 0 }));
}

/**
 * Who calls `name` (a function name as the profile has it): its self time by the chain of its
 * `depth` nearest callers, most first, as [{ chain, ms }].
 */
export function callers(paths, name, depth = 3) {
  const byChain = new Map();
  for (const file of paths.flatMap(profileFiles)) {
    const p = JSON.parse(readFileSync(file, 'utf8'));
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const self = new Map();
    for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
    for (const [id, us] of self) {
      if (nodes.get(id).callFrame.functionName !== name) continue;
      const chain = [];
      for (let up = parent.get(id); up !== undefined && chain.length < depth; up = parent.get(up))
        chain.push(frameName(nodes.get(up).callFrame));
      const key = chain.join(' < ');
      byChain.set(key, (byChain.get(key) ?? 0) + us);
    }
  }
  return [...byChain.entries()].sort((a, b) => b[1] - a[1]).map(([chain, us]) => ({ chain, ms: us / 1000 }));
}

/** The `top` heaviest as printable lines. */
export function summarise(path, top = 20) {
  return selfTimes([path])
    .slice(0, top)
    .map((f) => `${(f.share * 100).toFixed(1).padStart(5)} %  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const t = args.indexOf('--top');
  const top = t >= 0 ? Number(args.splice(t, 2)[1]) : 20;
  const c = args.indexOf('--callers');
  const of = c >= 0 ? args.splice(c, 2)[1] : undefined;
  const d = args.indexOf('--depth');
  const depth = d >= 0 ? Number(args.splice(d, 2)[1]) : 3;
  for (const path of args) {
    if (of) {
      console.log(`${path}: callers of ${of}`);
      for (const x of callers([path], of, depth).slice(0, top)) console.log(`  ${x.ms.toFixed(0).padStart(6)} ms  ${x.chain}`);
      continue;
    }
    console.log(`${path}:`);
    for (const line of summarise(path, top)) console.log(`  ${line}`);
  }
}
