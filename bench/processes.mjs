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

/** Resident MB of a process and its children: all of it, and the private part (RssAnon: not the pages of the binary, which every process running it shares). */
export function rssMb(pid) {
  let kb = 0;
  let anonKb = 0;
  for (const p of withChildren(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      kb += Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
      anonKb += Number(/RssAnon:\s+(\d+)/.exec(status)[1]);
    } catch {}
  }
  return { rss: kb / 1024, anon: anonKb / 1024 };
}
