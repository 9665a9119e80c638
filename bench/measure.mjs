// How a row of the HTTP/1.1 bench is measured (run.mjs's rows and the mesh path's): wrk for
// requests/s and CPU per request, then the fixed-rate client (fixed-rate.mjs) for latency, every
// target in turn for some rounds, each figure the median round, with its memory from /proc.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, median, memoryMb, sleep } from './processes.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PATH = '/api/v1/products';

/** Until `port` answers a GET with 200 (10 s at most). */
export async function waitPort(port, host = 'alpha.example.com') {
  for (let i = 0; i < 100; i++) {
    const r = spawnSync('curl', [
      '-s',
      '-m',
      '1',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-H',
      `Host: ${host}`,
      `http://127.0.0.1:${port}${PATH}`,
    ]);
    if (r.stdout.toString() === '200') return;
    await sleep(100);
  }
  throw new Error(`port ${port} never answered 200`);
}

/** wrk -t1 -c50 for `seconds`: { rps, requests, errors (non-2xx) }. */
export function wrk(port, host, seconds) {
  const out = execFileSync('wrk', ['-t1', '-c50', `-d${seconds}s`, '-H', `Host: ${host}`, `http://127.0.0.1:${port}${PATH}`], {
    timeout: (seconds + 20) * 1000,
  }).toString();
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const requests = Number(/(\d+) requests in/.exec(out)[1]);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  return { rps, requests, errors: Number(errors) };
}

/**
 * fixed-rate.mjs at `rate` requests/s for `seconds`: its JSON, and (`sample`) what `sample()`
 * returned half-way through the run, while the load is on.
 */
export function fixedRate(port, host, rate, seconds, sample) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(HERE, 'fixed-rate.mjs'), String(port), host, String(rate), String(seconds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: (seconds + 20) * 1000,
    });
    let out = '';
    let sampled;
    const timer = sample && setTimeout(() => (sampled = sample()), (seconds * 1000) / 2 + 200);
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`fixed-rate.mjs exited ${code}`));
      const r = JSON.parse(out);
      // No answer at all leaves no latency (JSON null): shown as NaN, and the run says so.
      for (const k of ['p50', 'p90', 'p99']) r[k] ??= NaN;
      resolve({ ...r, sampled });
    });
  });
}

/** Memory of a row's processes, summed: { rss, pss, anon, privateDirty } in MB. */
export function rowMemory(pids) {
  const sum = { rss: 0, pss: 0, anon: 0, privateDirty: 0 };
  for (const m of pids.map(memoryMb)) for (const k of Object.keys(sum)) sum[k] += m[k];
  return sum;
}

/**
 * Every target (`{ name, port, pids, host? }`) in turn, `rounds` times over (load, then latency),
 * each figure the median of its rounds: a burst of noise from the machine's neighbours lands on
 * one round of each target instead of on the whole measurement of one of them. `o`: { rounds,
 * slice (seconds per round and target), rate (fixed-rate requests/s) }. Memory is read at the end,
 * and half-way through each fixed-rate round (`loaded`: the median round's, per process).
 */
export async function measureAll(targets, o) {
  for (const t of targets) await waitPort(t.port, t.host);
  const host = (t) => t.host ?? 'alpha.example.com';
  const cpuOf = (t) => t.pids.reduce((s, p) => s + cpuSeconds(p), 0);
  const runs = targets.map(() => ({ rps: [], cpu: [], non2xx: 0, p50: [], p90: [], p99: [], sent: 0, ok: 0, errors: 0, loaded: [] }));
  for (const t of targets) wrk(t.port, host(t), o.slice); // untimed warm-up: JIT, pools
  for (let round = 0; round < o.rounds; round++) {
    targets.forEach((t, i) => {
      const cpu0 = cpuOf(t);
      const load = wrk(t.port, host(t), o.slice);
      runs[i].cpu.push(t.pids.length ? ((cpuOf(t) - cpu0) * 1e6) / load.requests : 0);
      runs[i].rps.push(load.rps);
      runs[i].non2xx += load.errors;
    });
  }
  for (let round = 0; round < o.rounds; round++) {
    for (const [i, t] of targets.entries()) {
      const f = await fixedRate(t.port, host(t), o.rate, o.slice, () => t.pids.map(memoryMb));
      for (const k of ['p50', 'p90', 'p99']) runs[i][k].push(f[k]);
      for (const k of ['sent', 'ok', 'errors']) runs[i][k] += f[k];
      runs[i].loaded.push(f.sampled);
    }
  }
  return targets.map((t, i) => {
    const x = runs[i];
    const mem = rowMemory(t.pids);
    // Per process, the round whose private memory was the median one.
    const loaded = t.pids.map((_, p) => {
      const byAnon = x.loaded.map((s) => s[p]).sort((a, b) => a.anon - b.anon);
      return byAnon[Math.floor((byAnon.length - 1) / 2)];
    });
    const r = {
      name: t.name,
      rounds: x.rps,
      rps: median(x.rps),
      non2xx: x.non2xx,
      cpuUsPerReq: median(x.cpu),
      cpuRounds: x.cpu,
      rssMb: mem.rss,
      anonMb: mem.anon,
      memory: mem,
      loaded,
      p50: median(x.p50),
      p90: median(x.p90),
      p99: median(x.p99),
      sent: x.sent,
      ok: x.ok,
      errors: x.errors,
    };
    console.log(
      `${t.name.padEnd(22)} rps ${r.rps.toFixed(0).padStart(7)}  cpu/req ${r.cpuUsPerReq.toFixed(1).padStart(6)} µs  p50 ${r.p50.toFixed(3)} ms  p90 ${r.p90.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  rss ${mem.rss.toFixed(1)} MB (private ${mem.anon.toFixed(1)})  (fixed-rate ok ${r.ok}/${r.sent})`,
    );
    return r;
  });
}
