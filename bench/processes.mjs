// The bench's child processes: started in their own process groups, stopped with them, checked
// alive, and their CPU and memory read from /proc. Shared by run.mjs and the HTTP/2 rows (h2.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Every process the bench started and has not stopped yet. */
export const children = [];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

export function start(name, cmd, args, opts = {}) {
  // Its own process group: nginx's workers must go with their master (they keep the port otherwise).
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, ...opts });
  child.name = name;
  child.stderrTail = '';
  child.stderr.on('data', (d) => {
    child.stderrTail = (child.stderrTail + d).slice(-500);
    if (process.env.BENCH_DEBUG) process.stderr.write(`[${name}] ${d}`);
  });
  children.push(child);
  return child;
}

/**
 * `body(run, started)`, where `run(name, cmd, args)` starts a process (as start does) and adds it to
 * `started`; whatever happens, the processes started so are stopped when `body` settles.
 */
export async function withProcesses(body) {
  const started = [];
  const run = (name, cmd, args) => {
    const c = start(name, cmd, args);
    started.push(c);
    return c;
  };
  try {
    return await body(run, started);
  } finally {
    stopAll(started);
  }
}

export function stop(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {}
}

/** Stops the given processes (all of them by default) and forgets them. */
export function stopAll(which = [...children]) {
  for (const c of which) {
    stop(c);
    const i = children.indexOf(c);
    if (i >= 0) children.splice(i, 1);
  }
}

/** Every server of the run is still up: one that exited (a port taken by a stray process, say) would have another process measured in its place. */
export async function checkAlive(which = children) {
  await sleep(100); // the loop must turn for exits to be seen: the measurements block it (execFileSync)
  const dead = which.filter((c) => c.exitCode !== null || c.signalCode !== null);
  if (dead.length)
    throw new Error(dead.map((c) => `${c.name} exited (${c.exitCode ?? c.signalCode}): ${c.stderrTail.trim() || 'no output'}`).join('; '));
}

const withChildren = (pid) => [
  pid,
  ...spawnSync('pgrep', ['-P', String(pid)])
    .stdout.toString()
    .split('\n')
    .filter(Boolean)
    .map(Number),
];

/** CPU seconds (user+system) of a process and its children, from /proc. */
export function cpuSeconds(pid) {
  let ticks = 0;
  for (const p of withChildren(pid)) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {}
  }
  return ticks / 100;
}

/**
 * Memory of a process and its children in MB, from /proc/PID/smaps_rollup: `rss` (resident),
 * `pss` (resident, each shared page divided among the processes mapping it), `anon` (Anonymous:
 * heap, JS heap, stacks; the figure that grows with the number of proxies) and `privateDirty`.
 * Not Private_Clean: the node binary's pages count as private there while one process maps them,
 * though every proxy of a node shares them (same image layer, same page cache).
 */
export function memoryMb(pid) {
  const kb = { rss: 0, pss: 0, anon: 0, privateDirty: 0 };
  const field = (text, name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  for (const p of withChildren(pid)) {
    try {
      const s = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      kb.rss += field(s, 'Rss');
      kb.pss += field(s, 'Pss');
      kb.anon += field(s, 'Anonymous');
      kb.privateDirty += field(s, 'Private_Dirty');
    } catch {}
  }
  return { rss: kb.rss / 1024, pss: kb.pss / 1024, anon: kb.anon / 1024, privateDirty: kb.privateDirty / 1024 };
}

/**
 * The established TCP connections of a process and its children (`ss`): `[{ local, peer }]`, each a
 * port on loopback. What a proxy holds when its memory is read: pooled connections stay open.
 */
export function connectionsOf(pid) {
  const pids = new Set(withChildren(pid));
  const out = spawnSync('ss', ['-tnpH', 'state', 'established']).stdout?.toString() ?? '';
  const held = [];
  for (const line of out.split('\n')) {
    const owner = /pid=(\d+)/.exec(line);
    if (!owner || !pids.has(Number(owner[1]))) continue;
    const ports = [...line.matchAll(/:(\d+)\s/g)].map((m) => Number(m[1]));
    if (ports.length >= 2) held.push({ local: ports[0], peer: ports[1] });
  }
  return held;
}
