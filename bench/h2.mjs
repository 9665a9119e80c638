// The HTTP/2 and gRPC rows of `npm run bench` (issue #22's benchmark). h2load at 50 streams over
// 5 connections through a bare `node:http2` relay (the floor), nginx, mast's gateway and two mast
// sidecars with mTLS, and a bare relay on mast's JavaScript codec (h2-js-pipe.ts, the measure of
// whether that codec beats node:http2), taken in turn for some rounds (figures: the median round); then gRPC unary
// calls at a fixed rate through two mast sidecars with mTLS and through two nginx `grpc_pass`
// proxies with mTLS, and straight to the echo (what the chains add is measured against that).
// A row whose proxy cannot carry HTTP/2 prints `n/a (why)` and the run goes on; every step is
// bounded in time. `pipesOnly` (run.mjs --h2-pipes): the byte pipes and nginx only, no mast proxy.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gatewayMeshYaml, H2, makeChainCertificates, sidecarMeshYaml, writeNginxConfigs } from './h2-configs.mjs';
import { mtlsConnections, startMesh } from './mesh-start.mjs';
import { checkAlive, cpuSeconds, median, sleep, withProcesses } from './processes.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CONNECTIONS = 5;
const STREAMS_PER_CONNECTION = 10;
const GRPC_RATE = 500;
const PATH = '/api/v1/products';

/**
 * Runs the rows and prints them. `o`: { root, dir, node (imageNode's), proxyFlags, rounds, slice (seconds) }.
 * Throws only when what mast is compared with (nginx, the floor, the tools) cannot run.
 */
export async function h2Bench(o) {
  return withProcesses((run, started) => measure(o, run, started));
}

async function measure(o, run, started) {
  const { root, dir, node, proxyFlags, rounds, slice, pipesOnly } = o;
  const jsPipe = bundleJsPipe(root, dir);
  const certs = makeChainCertificates(dir);
  writeNginxConfigs(dir, certs);
  writeFileSync(join(dir, 'h2-gateway.yaml'), gatewayMeshYaml());
  const nginx = (name) => run(name, 'nginx', ['-c', join(dir, `${name}.conf`)]);
  const proxy = join(root, 'build', 'mast-proxy.js');
  const mast = (name, args) => run(name, node.path, [...proxyFlags, proxy, ...args]);

  const others = [
    nginx('h2-backend'),
    nginx('h2-nginx'),
    run('node-h2-floor', node.path, [join(HERE, 'h2-pipe-proxy.mjs'), String(H2.floor), String(H2.backend)]),
    run('grpc-echo', node.path, [join(HERE, 'grpc-echo.mjs'), String(H2.echo)]),
    nginx('grpc-a'),
    nginx('grpc-b'),
    // The gRPC chain's floor: two node:http2 relays with mTLS between them (nginx's chain's
    // certificates), on the image's node flags as the sidecars, so what mast adds is its own work.
    run('grpc-floor-a', node.path, [
      ...proxyFlags,
      join(HERE, 'h2-pipe-proxy.mjs'),
      String(H2.floorA),
      String(H2.floorB),
      'out',
      certs.a.crt,
      certs.a.key,
      certs.ca,
      'nginx-b',
    ]),
    run('grpc-floor-b', node.path, [
      ...proxyFlags,
      join(HERE, 'h2-pipe-proxy.mjs'),
      String(H2.floorB),
      String(H2.echo),
      'in',
      certs.b.crt,
      certs.b.key,
      certs.ca,
    ]),
  ];
  const [, ngx, floor, , grpcA, grpcB, floorA, floorB] = others;
  const js = jsPipe.path && run('h2-js-pipe', node.path, [jsPipe.path, String(H2.jsPipe), String(H2.backend)]);
  if (pipesOnly) return pipeRows(o, [...others, ...(js ? [js] : [])], floor, ngx, js, jsPipe.why);
  const gateway = mast('mast-h2-gateway', [
    '--mesh',
    join(dir, 'h2-gateway.yaml'),
    '--port-map',
    `80=${H2.gateway}`,
    '--admin-port',
    String(H2.gatewayAdmin),
  ]);
  const mesh = startMesh({
    name: 'h2',
    root,
    dir,
    node,
    proxyFlags,
    yaml: sidecarMeshYaml(),
    pushPort: H2.mastdPush,
    monitoringPort: H2.mastdMon,
    start: run,
  });
  const inbound = (id, app, inboundPort, appPort, adminPort) => ({ id, app, inboundPort, appPort, adminPort });
  const sideB = mesh.sidecar('mtls-h2-b', inbound('backend-1', 'backend', H2.mtlsIn, H2.backend, H2.mtlsAdmin));
  const sideEcho = mesh.sidecar('mtls-h2-echo', inbound('echo-1', 'echo', H2.echoIn, H2.echo, H2.echoAdmin));
  const sideA = mesh.sidecar('mtls-h2-a', { id: 'client-1', app: 'client', outboundPort: H2.mtlsOut, adminPort: H2.clientAdmin });
  await sleep(800);
  await checkAlive(others);

  // Each mast row is measured only when its processes are up and it answers over HTTP/2.
  const gatewayDown = deadReason([gateway]);
  const chainDown =
    deadReason([sideA, sideB, sideEcho]) ??
    (await mesh.ready(3).then(
      () => undefined,
      (err) => deadReason(started) ?? err.message,
    ));
  const targets = [
    ...pipeTargets(floor, ngx),
    { name: 'h2 mast gateway', port: H2.gateway, pids: [gateway.pid], authority: 'alpha.example.com', down: gatewayDown },
    { name: 'h2 mast 2 sidecars mTLS', port: H2.mtlsOut, pids: [sideA.pid, sideB.pid], authority: 'backend', down: chainDown },
    jsTarget(js, jsPipe.why),
  ];
  for (const t of targets) t.down ??= await h2Probe(t.port, t.authority ?? 'alpha.example.com');
  // Why a mast row cannot carry HTTP/2: the compiler did not mark its clusters h2, or the proxy did not take h2c.
  for (const [t, admins] of [
    [targets[3], [[H2.gatewayAdmin, 'backend']]],
    [
      targets[4],
      [
        [H2.clientAdmin, 'backend'],
        [H2.mtlsAdmin, 'inbound'],
      ],
    ],
  ])
    if (t.down && !deadReason(started)) t.down += `; ${admins.map(([a, name]) => clustersProtocol(a, name)).join(', ')}`;
  for (const t of targets.slice(0, 3)) if (t.down) throw new Error(`${t.name} does not answer over HTTP/2: ${t.down}`);

  const rows = h2loadRows(targets, rounds, slice);
  // HTTP/2 between the sidecars multiplexes: a count near the requests' would mean a connection per request.
  const mtls = rows[4].down ? 0 : mtlsConnections(H2.mtlsAdmin);
  if (!rows[4].down) console.log(`h2 sidecar chain: sidecar B accepted ${mtls} mTLS connections`);
  if (!rows[4].down && !mtls) console.log('WARNING: the h2 sidecar chain carried no mTLS connection (sidecar B counted none)');
  for (const r of rows.filter((r) => !r.down && r.failed)) console.log(`WARNING: ${r.name} had ${r.failed} failed requests under load`);

  console.log(
    `\ngRPC unary: ${GRPC_RATE} calls/s on 4 h2c connections for ${slice}s per target per round, ${rounds} rounds in turn, to a node:http2 echo`,
  );
  // CPU per call is both hops' (from /proc, children included: nginx's worker) over a round / its answered calls.
  const grpcTargets = [
    { name: 'grpc direct', port: H2.echo, authority: 'echo', pids: [] },
    { name: 'grpc nginx chain mTLS', port: H2.chainA, authority: 'echo', pids: [grpcA.pid, grpcB.pid] },
    { name: 'grpc node-h2 pipe chain mTLS', port: H2.floorA, authority: 'echo', pids: [floorA.pid, floorB.pid] },
    { name: 'grpc mast 2 sidecars mTLS', port: H2.mtlsOut, authority: 'echo', pids: [sideA.pid, sideEcho.pid], down: chainDown },
  ];
  for (const t of grpcTargets.filter((t) => !t.down)) {
    const w = grpcFixedRate(t, 0.5); // warm-up, and a check that calls get through
    if (!w.ok) t.down = `no call answered: ${w.firstError ?? 'no answer'}`;
  }
  for (const t of grpcTargets.slice(0, 3)) if (t.down) throw new Error(`${t.name}: ${t.down}`);
  const grpcRuns = new Map(grpcTargets.map((t) => [t, { p50: [], p90: [], p99: [], cpu: [], sent: 0, ok: 0, firstError: undefined }]));
  for (let round = 0; round < rounds; round++)
    for (const t of grpcTargets.filter((t) => !t.down)) {
      const cpu0 = cpuOf(t);
      const r = grpcFixedRate(t, slice);
      const x = grpcRuns.get(t);
      // A round with no call answered has no latency: it shows in ok/sent and the first error.
      if (r.ok) for (const k of ['p50', 'p90', 'p99']) x[k].push(r[k]);
      if (r.ok) x.cpu.push(((cpuOf(t) - cpu0) * 1e6) / r.ok);
      x.sent += r.sent;
      x.ok += r.ok;
      x.firstError ??= r.firstError;
    }
  const grpc = grpcTargets.map((t) => {
    const x = grpcRuns.get(t);
    const down = t.down ?? (x.p50.length ? undefined : `no call answered: ${x.firstError}`);
    const row = { name: t.name, down, p50: median(x.p50), p90: median(x.p90), p99: median(x.p99), cpu: x.cpu, sent: x.sent, ok: x.ok };
    const cpu = t.pids.length && x.cpu.length ? `  cpu/call ${median(x.cpu).toFixed(0).padStart(4)} µs` : '';
    console.log(
      row.down
        ? `${t.name.padEnd(29)} n/a (${row.down})`
        : `${t.name.padEnd(29)} p50 ${row.p50.toFixed(3)} ms  p90 ${row.p90.toFixed(3)} ms  p99 ${row.p99.toFixed(3)} ms${cpu}  (ok ${row.ok}/${row.sent}${x.firstError ? `, first error: ${x.firstError}` : ''})`,
    );
    return row;
  });

  const grpcMtls = grpc[3].down ? 0 : mtlsConnections(H2.echoAdmin);
  if (!grpc[3].down) console.log(`gRPC sidecar chain: the echo's sidecar accepted ${grpcMtls} mTLS connections`);
  if (!grpc[3].down && !grpcMtls)
    console.log("WARNING: the gRPC sidecar chain carried no mTLS connection (the echo's sidecar counted none)");
  for (const r of grpc.filter((r) => !r.down && r.ok < r.sent)) console.log(`WARNING: ${r.name} answered ${r.ok} of ${r.sent} calls`);
  printRatios(rows, grpc);
  printJsPipeRatios(rows);
  await checkAlive(others);
  return { rows, grpc };
}

/** The rows of h2-js-pipe.ts's decision alone: direct, the node:http2 floor, nginx and the JavaScript-codec pipe. */
async function pipeRows(o, procs, floor, ngx, js, why) {
  await sleep(800);
  await checkAlive(procs);
  const targets = [...pipeTargets(floor, ngx), jsTarget(js, why)];
  for (const t of targets) t.down ??= await h2Probe(t.port, 'alpha.example.com');
  for (const t of targets.slice(0, 3)) if (t.down) throw new Error(`${t.name} does not answer over HTTP/2: ${t.down}`);
  const rows = h2loadRows(targets, o.rounds, o.slice);
  printJsPipeRatios(rows);
  await checkAlive(procs);
  return { rows, grpc: [] };
}

const pipeTargets = (floor, ngx) => [
  { name: 'h2 direct', port: H2.backend, pids: [] },
  { name: 'h2 node-h2 floor', port: H2.floor, pids: [floor.pid] },
  { name: 'h2 nginx', port: H2.nginx, pids: [ngx.pid] },
];

const jsTarget = (js, why) => ({ name: 'h2 js-codec pipe', port: H2.jsPipe, pids: js ? [js.pid] : [], down: js ? undefined : why });

/** h2-js-pipe.ts bundled into the run's directory with esbuild: { path } or { why } it could not be. */
function bundleJsPipe(root, dir) {
  const esbuild = join(root, 'node_modules', '.bin', 'esbuild');
  const out = join(dir, 'h2-js-pipe.js');
  const r = existsSync(esbuild)
    ? spawnSync(esbuild, [
        join(HERE, 'h2-js-pipe.ts'),
        '--bundle',
        '--platform=node',
        '--target=node20',
        `--outfile=${out}`,
        '--log-level=error',
      ])
    : { status: 1, stderr: 'no esbuild in node_modules' };
  return r.status === 0 ? { path: out } : { why: `bundle failed: ${String(r.stderr).trim().split('\n')[0]}` };
}

/** Every live target in turn for `rounds` rounds of `slice` seconds, after an untimed warm-up; each figure the median round. */
function h2loadRows(targets, rounds, slice) {
  console.log(
    `\nHTTP/2: h2load -c${CONNECTIONS} -m${STREAMS_PER_CONNECTION} (${CONNECTIONS * STREAMS_PER_CONNECTION} streams) for rps and CPU, h2c to every target, h2 upstream; ${rounds} rounds of ${slice}s per target taken in turn (figures: the median round)`,
  );
  const live = targets.filter((t) => !t.down);
  for (const t of live) h2load(t, 2); // untimed warm-up: JIT, pools, handshakes
  const runs = new Map(targets.map((t) => [t, { rps: [], cpu: [], failed: 0 }]));
  for (let round = 0; round < rounds; round++)
    for (const t of live) {
      const cpu0 = cpuOf(t);
      const r = h2load(t, slice);
      const x = runs.get(t);
      x.rps.push(r.rps);
      x.cpu.push(t.pids.length && r.succeeded ? ((cpuOf(t) - cpu0) * 1e6) / r.succeeded : 0);
      x.failed += r.failed;
      if (!r.succeeded) t.down ??= `no request succeeded: ${r.why}`;
    }
  return targets.map((t) => {
    const x = runs.get(t);
    const row = {
      name: t.name,
      down: t.down,
      rps: median(x.rps),
      cpuUsPerReq: median(x.cpu),
      failed: x.failed,
      rounds: x.rps,
      cpuRounds: x.cpu,
    };
    console.log(
      row.down
        ? `${t.name.padEnd(24)} n/a (${row.down})`
        : `${t.name.padEnd(24)} rps ${row.rps.toFixed(0).padStart(7)}  cpu/req ${row.cpuUsPerReq.toFixed(1).padStart(6)} µs  failed ${row.failed}  rounds ${row.rounds.map((r) => r.toFixed(0)).join(' ')}`,
    );
    return row;
  });
}

/** The JavaScript-codec pipe against the node:http2 floor and nginx, with its paired rounds. */
function printJsPipeRatios(rows) {
  const floor = rows.find((r) => r.name === 'h2 node-h2 floor');
  const nginx = rows.find((r) => r.name === 'h2 nginx');
  const js = rows.find((r) => r.name === 'h2 js-codec pipe');
  if (!js || js.down) return console.log(`ratio h2-rps js-codec-pipe/node-h2-floor n/a (${js?.down ?? 'no row'})`);
  console.log(`ratio h2-rps js-codec-pipe/node-h2-floor ${(js.rps / floor.rps).toFixed(2)}`);
  console.log(`ratio h2-rps js-codec-pipe/nginx ${(js.rps / nginx.rps).toFixed(2)}`);
  console.log(`ratio h2-cpu-per-request js-codec-pipe/node-h2-floor ${(js.cpuUsPerReq / floor.cpuUsPerReq).toFixed(2)}`);
  console.log(`ratio h2-cpu-per-request js-codec-pipe/nginx ${(js.cpuUsPerReq / nginx.cpuUsPerReq).toFixed(2)}`);
  const paired = (k) => js[k].map((x, i) => (x / floor[k][i]).toFixed(2)).join(' ');
  console.log(`rounds h2-rps js-codec-pipe/node-h2-floor ${paired('rounds')}; cpu/req ${paired('cpuRounds')}`);
}

/** Why one of `procs` is not running (it exited, with the end of its output), or undefined. */
function deadReason(procs) {
  const dead = procs.find((c) => c.exitCode !== null || c.signalCode !== null);
  return dead && `${dead.name} exited: ${dead.stderrTail.trim().split('\n').pop() || dead.exitCode}`;
}

const cpuOf = (t) => t.pids.reduce((s, p) => s + cpuSeconds(p), 0);

/** Why a GET over h2c with prior knowledge does not get a 200 (within about 5 s), or undefined. */
async function h2Probe(port, authority) {
  let why = '';
  for (let i = 0; i < 25; i++) {
    const r = spawnSync(
      'curl',
      [
        '-sS',
        '-m',
        '1',
        '--http2-prior-knowledge',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code} %{http_version}',
        '-H',
        `host: ${authority}`,
        `http://127.0.0.1:${port}${PATH}`,
      ],
      { timeout: 3000 },
    );
    const [code, version] = r.stdout.toString().split(' ');
    if (code === '200' && version === '2') return undefined;
    why =
      code !== '000'
        ? `HTTP/${version} ${code} to an h2c request`
        : `no HTTP/2 answer (curl: ${
            r.stderr
              .toString()
              .trim()
              .replace(/^curl: /, '') || `exit ${r.status}`
          })`;
    await sleep(200);
  }
  return why;
}

/** h2load for `seconds` against a target: { rps, succeeded, failed, why }. */
function h2load(t, seconds) {
  const args = ['-c', String(CONNECTIONS), '-m', String(STREAMS_PER_CONNECTION), '-t', '1', '-D', String(seconds)];
  args.push('-H', `:authority: ${t.authority ?? 'alpha.example.com'}`, `http://127.0.0.1:${t.port}${PATH}`);
  const r = spawnSync('h2load', args, { timeout: (seconds + 10) * 1000 });
  const out = r.stdout.toString();
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? 0);
  const done = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: (\d+) 2xx/.exec(out);
  const succeeded = Math.min(Number(done?.[1] ?? 0), Number(codes?.[1] ?? 0));
  const failed = Number(done?.[2] ?? 0) + Number(done?.[3] ?? 0) + Number(done?.[4] ?? 0) + Number(done?.[1] ?? 0) - succeeded;
  const why = r.error ? r.error.message : (out.split('\n').find((l) => /error|failed|No protocol/i.test(l)) ?? `h2load exit ${r.status}`);
  return { rps: succeeded ? rps * (succeeded / Number(done[1])) : 0, succeeded, failed, why };
}

/** grpc-fixed-rate.mjs for `seconds` against a target: its JSON. */
function grpcFixedRate(t, seconds) {
  const args = [join(HERE, 'grpc-fixed-rate.mjs'), String(t.port), t.authority, String(GRPC_RATE), String(seconds)];
  try {
    return JSON.parse(
      execFileSync(process.execPath, args, { timeout: (seconds + 10) * 1000, stdio: ['ignore', 'pipe', 'ignore'] }).toString(),
    );
  } catch (err) {
    // One row's client failing (or stuck past its bound) takes that row's round, not the other rows.
    return { sent: 0, ok: 0, errors: 1, firstError: `client failed: ${err.message.split('\n')[0]}`, p50: null, p90: null, p99: null };
  }
}

/** How a proxy's clusters whose name holds `service` go upstream, from its /config_dump: `name: h2`, `name: HTTP/1.1` or by port. */
function clustersProtocol(adminPort, service) {
  const r = spawnSync('curl', ['-s', '-m', '2', `http://127.0.0.1:${adminPort}/config_dump`]);
  try {
    const clusters = JSON.parse(r.stdout.toString()).config.clusters.filter((c) => c.name.includes(service));
    if (!clusters.length) return `no cluster to ${service} at admin ${adminPort}`;
    const protocol = (c) =>
      c.upstreamProtocolByPort ? `by port ${JSON.stringify(c.upstreamProtocolByPort)}` : (c.upstreamProtocol ?? 'HTTP/1.1');
    return clusters.map((c) => `${c.name}: ${protocol(c)}`).join(', ');
  } catch {
    return `no config at admin ${adminPort}`;
  }
}

function printRatios(rows, grpc) {
  const [, floor, nginx, gateway, chain] = rows;
  // The reason is on the row's own line above.
  const na = (...rs) => rs.find((r) => r.down)?.name;
  /** a/b by `f`; n/a when a, b or a row the figures depend on (`also`) has none. */
  const ratio = (label, a, b, f, also = []) => {
    const missing = na(a, b, ...also);
    console.log(`${label} ${missing ? `n/a (no figure for ${missing})` : (f(a) / f(b)).toFixed(2)}`);
  };
  const rps = (r) => r.rps;
  const cpu = (r) => r.cpuUsPerReq;
  console.log('');
  ratio('ratio h2-rps mast/nginx', gateway, nginx, rps);
  ratio('ratio h2-rps mast/node-h2-floor', gateway, floor, rps);
  ratio('ratio h2-rps node-h2-floor/nginx', floor, nginx, rps);
  ratio('ratio h2-cpu-per-request mast/nginx', gateway, nginx, cpu);
  ratio('ratio h2-cpu-per-request node-h2-floor/nginx', floor, nginx, cpu);
  const us = (r) => (r.down ? 'n/a' : `${r.cpuUsPerReq.toFixed(1)}`);
  console.log(
    `h2 cpu per request µs: nginx ${us(nginx)}, node-h2 floor ${us(floor)}, mast gateway ${us(gateway)}, mast 2 sidecars mTLS ${us(chain)}`,
  );
  if (!gateway.down) console.log(`rounds h2-rps mast/nginx ${gateway.rounds.map((x, i) => (x / nginx.rounds[i]).toFixed(2)).join(' ')}`);
  const [direct, ngxChain, floorChain, mastChain] = grpc;
  const added = (r) => (r.down || direct.down ? 'n/a' : ['p50', 'p90', 'p99'].map((k) => (r[k] - direct[k]).toFixed(3)).join('/'));
  console.log(
    `grpc unary added ms p50/p90/p99 at ${GRPC_RATE}/s: nginx grpc_pass chain mTLS ${added(ngxChain)}; node-h2 pipe chain mTLS ${added(floorChain)}; mast 2 sidecars mTLS ${added(mastChain)}`,
  );
  const p90 = (r) => Math.max(r.p90 - direct.p90, 0.001);
  ratio('ratio grpc-added-p90 mast/nginx', mastChain, ngxChain, p90, [direct]);
  ratio('ratio grpc-added-p90 mast/node-h2-floor', mastChain, floorChain, p90, [direct]);
  // CPU per call: the median round of each chain, and the median of the rounds' ratios (each round takes both within seconds).
  const perCall = (r) => (r.down ? 'n/a' : median(r.cpu).toFixed(0));
  console.log(
    `grpc cpu per call µs (both hops): nginx chain ${perCall(ngxChain)}, node-h2 pipe chain ${perCall(floorChain)}, mast 2 sidecars ${perCall(mastChain)}`,
  );
  const roundsRatio = (a, b) => median(a.cpu.map((x, i) => x / b.cpu[i]).filter(Number.isFinite));
  for (const [label, a, b] of [
    ['mast/node-h2-floor', mastChain, floorChain],
    ['node-h2-floor/nginx', floorChain, ngxChain],
  ])
    console.log(
      `ratio grpc-cpu-per-call ${label} ${na(a, b) || a.cpu.length !== b.cpu.length ? `n/a (no figure for ${na(a, b) ?? 'every round'})` : roundsRatio(a, b).toFixed(2)}`,
    );
}
