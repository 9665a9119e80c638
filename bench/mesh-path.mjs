// The mesh path of `npm run bench` (issue #26): a request through two proxies with mTLS between
// them, mast against nginx doing the same work in the same run. Rows: straight to the backend;
// two nginx chained with mTLS (hop 1 presents a client certificate, hop 2 verifies it against the
// CA and hop 1 verifies hop 2's, TLS 1.3, session reuse, kept-alive upstreams at both hops);
// mast's gateway → the backend's inbound sidecar (auto mTLS, certificates and config from mastd,
// as `mast local` runs them); mast's two sidecars (the client's outbound → the backend's inbound);
// the Node byte pipe (bench/pipe-proxy.ts), one hop; and two Node byte pipes chained with mTLS as
// the nginx chain (bench/mtls-pipe-proxy.ts), the floor of a Node mesh path and the memory baseline
// of each mast proxy (mesh-memory.mjs: the same transport, the same connections held); the pipes run
// with the proxies' node flags. Prints the ratios to the nginx chain, the added latency at a fixed
// rate, and each proxy's memory idle and under load. `--profile`: the mast rows under wrk with `--cpu-prof` instead, summarised by
// profile-summary.mjs.
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gatewayMeshYaml } from './gateway-mesh.mjs';
import { measureAll, waitPort, wrk } from './measure.mjs';
import { likeForLike, likeForLikeLines } from './mesh-memory.mjs';
import { memoryBreakdown, mtlsConnections, startMesh } from './mesh-start.mjs';
import { makeCertificates, NGINX_HTTP, nginxHead, nginxUpstream, writeBackendConfig } from './nginx-configs.mjs';
import { checkAlive, cpuSeconds, median, memoryMb, sleep, withProcesses } from './processes.mjs';
import { sampleKinds, summarise } from './profile-summary.mjs';

/** Fixed ports, 183xx: the HTTP/1.1 rows hold 181xx, the HTTP/2 rows 182xx. */
export const MESH = {
  backend: 18300,
  hop1: 18301,
  hop2: 18302,
  gateway: 18303,
  sidecarIn: 18304,
  sidecarOut: 18305,
  mastdPush: 18306,
  mastdMon: 18307,
  gatewayAdmin: 18308,
  sidecarInAdmin: 18309,
  sidecarOutAdmin: 18310,
  pipe: 18311,
  mtlsPipeOut: 18312,
  mtlsPipeIn: 18313,
};

/** The nginx chain: hop 1 (plain HTTP in, mTLS out with its client certificate) → hop 2 (mTLS in, verified; plain to the backend). */
function writeChainConfigs(dir, certs) {
  writeFileSync(
    join(dir, 'mesh-hop1.conf'),
    `${nginxHead(dir, 'mesh-hop1')} http { ${NGINX_HTTP} ${nginxUpstream('hop2', MESH.hop2)}
server { listen 127.0.0.1:${MESH.hop1}; location / { proxy_pass https://hop2; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host;
  proxy_ssl_certificate ${certs.hop1.crt}; proxy_ssl_certificate_key ${certs.hop1.key}; proxy_ssl_trusted_certificate ${certs.ca};
  proxy_ssl_verify on; proxy_ssl_name hop2; proxy_ssl_protocols TLSv1.3; proxy_ssl_session_reuse on; } } }`,
  );
  writeFileSync(
    join(dir, 'mesh-hop2.conf'),
    `${nginxHead(dir, 'mesh-hop2')} http { ${NGINX_HTTP} ${nginxUpstream('backend', MESH.backend)}
server { listen 127.0.0.1:${MESH.hop2} ssl; ssl_certificate ${certs.hop2.crt}; ssl_certificate_key ${certs.hop2.key}; ssl_protocols TLSv1.3;
  ssl_client_certificate ${certs.ca}; ssl_verify_client on; ssl_session_cache shared:mesh:1m;
  location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; } } }`,
  );
}

/**
 * The mesh mastd serves: the gateway rows' table of 5 rules (the request matches the last) to the
 * backend, whose endpoints are the backend's inbound sidecar, labelled for Istio's auto mTLS.
 */
function meshYaml() {
  return gatewayMeshYaml({
    port: MESH.sidecarIn,
    portName: 'http',
    protocol: 'HTTP',
    trafficPolicy:
      '{ loadBalancer: { simple: LEAST_REQUEST }, connectionPool: { tcp: { maxConnections: 1000 }, http: { http1MaxPendingRequests: 1000 } } }',
    tlsMode: 'istio',
  });
}

/**
 * Runs the rows and prints them. `o`: { root, dir, node (imageNode's), proxyFlags, rounds, slice,
 * rate, profile (seconds of wrk per mast row under --cpu-prof, instead of the measurement) }.
 */
export async function meshPathBench(o) {
  return withProcesses((run, started) => (o.profile ? profile(o, run, started) : measure(o, run, started)));
}

/** Starts the processes of every row: { backend, hop1, hop2, pipe, gateway, sidecarIn, sidecarOut, mesh } (exported for a look by hand). */
export async function startRows(o, run, started, nodeFlags) {
  const { dir } = o;
  writeBackendConfig(dir, 'mesh-backend', MESH.backend);
  const certs = makeCertificates(dir, 'mesh-certs', { hop1: 'clientAuth', hop2: 'serverAuth' });
  writeChainConfigs(dir, certs);
  const nginx = (name) => run(name, 'nginx', ['-c', join(dir, `${name}.conf`)]);
  const backend = nginx('mesh-backend');
  const hop1 = nginx('mesh-hop1');
  const hop2 = nginx('mesh-hop2');
  // The byte pipes run with the proxies' node flags (the young generation's size, V8's threads): memory like for like.
  const pipe = run('mesh-node-pipe', o.node.path, [...o.proxyFlags, join(dir, 'pipe-proxy.js'), String(MESH.pipe), String(MESH.backend)]);
  const mtlsPipe = (name, args) =>
    run(name, o.node.path, [...o.proxyFlags, ...(nodeFlags?.(name) ?? []), join(dir, 'mtls-pipe-proxy.js'), ...args.map(String)]);
  const { hop1: c1, hop2: c2, ca } = certs;
  const pipeOut = mtlsPipe('mesh-mtls-pipe-out', ['out', MESH.mtlsPipeOut, MESH.mtlsPipeIn, c1.crt, c1.key, ca, 'hop2']);
  const pipeIn = mtlsPipe('mesh-mtls-pipe-in', ['in', MESH.mtlsPipeIn, MESH.backend, c2.crt, c2.key, ca]);
  const mesh = startMesh({
    name: 'meshpath',
    root: o.root,
    dir,
    node: o.node,
    proxyFlags: o.proxyFlags,
    yaml: meshYaml(),
    pushPort: MESH.mastdPush,
    monitoringPort: MESH.mastdMon,
    start: run,
    nodeFlags,
  });
  const sidecarIn = mesh.sidecar('mesh-sidecar-in', {
    id: 'backend-v1',
    app: 'backend',
    inboundPort: MESH.sidecarIn,
    appPort: MESH.backend,
    adminPort: MESH.sidecarInAdmin,
  });
  const gateway = mesh.gateway('mesh-gateway', { portMap: `80=${MESH.gateway}`, adminPort: MESH.gatewayAdmin });
  const sidecarOut = mesh.sidecar('mesh-sidecar-out', {
    id: 'client-1',
    app: 'client',
    outboundPort: MESH.sidecarOut,
    adminPort: MESH.sidecarOutAdmin,
  });
  await sleep(800);
  await checkAlive(started);
  await mesh.ready(3);
  return { backend, hop1, hop2, pipe, pipeOut, pipeIn, gateway, sidecarIn, sidecarOut, mesh };
}

async function measure(o, run, started) {
  const p = await startRows(o, run, started);
  const rows = [
    { name: 'direct', port: MESH.backend, pids: [] },
    { name: 'node pipe (1 hop)', port: MESH.pipe, pids: [p.pipe.pid] },
    { name: 'nginx mTLS chain', port: MESH.hop1, pids: [p.hop1.pid, p.hop2.pid] },
    { name: 'node mTLS pipe chain', port: MESH.mtlsPipeOut, pids: [p.pipeOut.pid, p.pipeIn.pid] },
    { name: 'mast gateway→sidecar', port: MESH.gateway, pids: [p.gateway.pid, p.sidecarIn.pid] },
    { name: 'mast 2 sidecars mTLS', port: MESH.sidecarOut, pids: [p.sidecarOut.pid, p.sidecarIn.pid], host: 'backend' },
  ];
  for (const r of rows) await waitPort(r.port, r.host);
  // Idle: up, config and certificate in hand, one request through each row (every lazy module loaded).
  const idle = {
    pipe: memoryMb(p.pipe.pid),
    mtlsPipeOut: memoryMb(p.pipeOut.pid),
    mtlsPipe: memoryMb(p.pipeIn.pid),
    gateway: memoryMb(p.gateway.pid),
    sidecar: memoryMb(p.sidecarIn.pid),
  };
  console.log(
    `\nmesh path: wrk -t1 -c50 for rps and CPU (CPU: both hops' processes), then ${o.rate} req/s fixed rate for latency, ${o.slice}s of each per target in ${o.rounds} round(s) taken in turn (figures: the median round); mast on node ${o.node.version}`,
  );
  const [direct, pipe, chain, floor, gw, sidecars] = await measureAll(rows, o);
  await checkAlive(started);
  const inbound = mtlsConnections(MESH.sidecarInAdmin);
  console.log(`the backend's sidecar accepted ${inbound} mTLS connections`);
  if (!inbound) console.log("WARNING: the mast rows carried no mTLS connection (the backend's sidecar counted none)");
  for (const r of [pipe, chain, floor, gw, sidecars])
    if (r.non2xx || r.errors || r.ok < r.sent)
      console.log(`WARNING: ${r.name} had ${r.non2xx} non-2xx under load, ${r.errors} fixed-rate errors, ${r.sent - r.ok} unanswered`);

  const spread = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
  const perRound = (a, b, f) => a[f].map((x, i) => x / b[f][i]);
  const ratioLine = (label, a, b, f) => {
    const rounds = perRound(a, b, f);
    console.log(`${label} ${median(rounds).toFixed(2)} (rounds ${spread(rounds)})`);
  };
  console.log('');
  ratioLine('ratio mesh-rps mast/nginx-mtls-chain', gw, chain, 'rounds');
  ratioLine('ratio mesh-cpu-per-request mast/nginx-mtls-chain', gw, chain, 'cpuRounds');
  ratioLine('ratio mesh-rps mast-2-sidecars/nginx-mtls-chain', sidecars, chain, 'rounds');
  ratioLine('ratio mesh-cpu-per-request mast-2-sidecars/nginx-mtls-chain', sidecars, chain, 'cpuRounds');
  // The Node floor: what two processes that only pipe bytes over mTLS reach beside nginx, and mast beside them.
  ratioLine('ratio mesh-rps node-mtls-pipe-chain/nginx-mtls-chain', floor, chain, 'rounds');
  ratioLine('ratio mesh-cpu-per-request node-mtls-pipe-chain/nginx-mtls-chain', floor, chain, 'cpuRounds');
  ratioLine('ratio mesh-rps mast/node-mtls-pipe-chain', gw, floor, 'rounds');
  ratioLine('ratio mesh-cpu-per-request mast/node-mtls-pipe-chain', gw, floor, 'cpuRounds');
  const us = (r) => r.cpuUsPerReq.toFixed(1);
  console.log(
    `mesh cpu per request µs (both hops): nginx chain ${us(chain)}, node mTLS pipe chain ${us(floor)}, mast gateway→sidecar ${us(gw)}, mast 2 sidecars ${us(sidecars)}`,
  );
  const added = (r) => ['p50', 'p90', 'p99'].map((k) => (r[k] - direct[k]).toFixed(3)).join('/');
  console.log(
    `mesh added ms p50/p90/p99 at ${o.rate}/s: nginx mTLS chain ${added(chain)}; node mTLS pipe chain ${added(floor)}; mast gateway→sidecar ${added(gw)}; mast 2 sidecars ${added(sidecars)}`,
  );
  const p90 = (r) => Math.max(r.p90 - direct.p90, 0.001);
  console.log(`ratio mesh-added-p90 mast/nginx-mtls-chain ${(p90(gw) / p90(chain)).toFixed(2)}`);
  console.log(`ratio mesh-added-p90 mast-2-sidecars/nginx-mtls-chain ${(p90(sidecars) / p90(chain)).toFixed(2)}`);

  // Memory per proxy: the private (Anonymous) figure first, the one that grows with the pods.
  const mb = (m) =>
    `private ${m.anon.toFixed(1)} MB (dirty ${m.privateDirty.toFixed(1)}), rss ${m.rss.toFixed(1)}, pss ${m.pss.toFixed(1)}`;
  const loaded = {
    pipe: pipe.loaded[0],
    mtlsPipeOut: floor.loaded[0],
    mtlsPipe: floor.loaded[1],
    gateway: gw.loaded[0],
    sidecar: gw.loaded[1],
  };
  console.log(`\nmemory per proxy, idle | at ${o.rate} req/s during its row (smaps_rollup: private = Anonymous):`);
  const label = {
    pipe: 'node pipe',
    mtlsPipeOut: 'node mTLS out',
    mtlsPipe: 'node mTLS in',
    gateway: 'mast gateway',
    sidecar: 'mast sidecar',
  };
  for (const k of Object.keys(label)) console.log(`  ${label[k].padEnd(13)} ${mb(idle[k])} | ${mb(loaded[k])}`);
  // Unlike things, kept for the figures before: mast's proxies do mTLS, the plain pipe does not, and
  // the backend's sidecar holds both mast rows' connections while each pipe holds its own row's.
  for (const k of ['gateway', 'sidecar'])
    console.log(
      `memory private-over-plain-pipe ${k} MB ${(loaded[k].anon - loaded.pipe.anon).toFixed(1)} at ${o.rate} req/s, ${(idle[k].anon - idle.pipe.anon).toFixed(1)} idle (mTLS against plain: not like for like)`,
    );
  console.log(`after the rows, gateway: ${memoryBreakdown(MESH.gatewayAdmin)}`);
  console.log(`after the rows, backend's sidecar: ${memoryBreakdown(MESH.sidecarInAdmin)}`);
  // Like for like, the headline: the same transport and the same connections held (mesh-memory.mjs).
  const fair = await likeForLike(p, MESH, o.rate);
  for (const line of likeForLikeLines(fair, o.rate)) console.log(line);
  const idleOver = (k, pk) => (idle[k].anon - idle[pk].anon).toFixed(1);
  console.log(
    `memory like-for-like idle MB: gateway ${idleOver('gateway', 'mtlsPipeOut')} over the mTLS pipe's client side, sidecar ${idleOver('sidecar', 'mtlsPipe')} over its accepting side`,
  );
  await checkAlive(started);
  return { direct, pipe, chain, floor, gw, sidecars, idle, loaded, fair };
}

/**
 * The mast rows, and the Node mTLS pipe chain beside them, under `o.profile` seconds of wrk each,
 * with --cpu-prof; then each proxy's CPU per request (from /proc, over its rows' requests), its
 * samples by kind and its top self-time functions.
 */
async function profile(o, run, started) {
  const profDir = join(o.dir, 'profiles');
  const nodeFlags = (name) => ['--cpu-prof', '--cpu-prof-dir', join(profDir, name)];
  const p = await startRows(o, run, started, nodeFlags);
  const proxies = [p.gateway, p.sidecarIn, p.sidecarOut, p.pipeOut, p.pipeIn];
  const requests = new Map(proxies.map((c) => [c, 0]));
  const cpu = new Map(proxies.map((c) => [c, 0]));
  for (const [port, host, through] of [
    [MESH.gateway, 'alpha.example.com', [p.gateway, p.sidecarIn]],
    [MESH.sidecarOut, 'backend', [p.sidecarOut, p.sidecarIn]],
    [MESH.mtlsPipeOut, 'backend', [p.pipeOut, p.pipeIn]],
  ]) {
    await waitPort(port, host);
    const before = through.map((c) => cpuSeconds(c.pid));
    const r = wrk(port, host, o.profile);
    through.forEach((c, i) => {
      requests.set(c, requests.get(c) + r.requests);
      cpu.set(c, cpu.get(c) + cpuSeconds(c.pid) - before[i]);
    });
    console.log(`wrk through ${through.map((c) => c.name).join(' → ')}: ${r.requests} requests, ${r.rps.toFixed(0)} rps`);
  }
  // --cpu-prof writes the profile as the process exits: SIGTERM, no drain, then wait for the exit.
  for (const c of proxies) process.kill(c.pid, 'SIGTERM');
  for (let i = 0; i < 100 && proxies.some((c) => c.exitCode === null && c.signalCode === null); i++) await sleep(100);
  for (const c of proxies) {
    const n = requests.get(c);
    const us = (cpu.get(c) * 1e6) / n;
    console.log(`\n${c.name}: ${us.toFixed(1)} CPU-µs per request (/proc, over ${n} requests); samples by kind:`);
    const kinds = sampleKinds(join(profDir, c.name));
    console.log(`  ${kinds.map((k) => `${k.kind} ${(k.share * 100).toFixed(1)} %`).join(', ')}`);
    console.log(`  top self time (${o.profile}s of wrk through each of its rows):`);
    for (const line of summarise(join(profDir, c.name), 15)) console.log(`  ${line}`);
  }
  // The run's directory goes at its end: MESH_PROFILE_OUT keeps the profiles (for a flame graph in Chrome's DevTools).
  if (process.env.MESH_PROFILE_OUT) {
    cpSync(profDir, process.env.MESH_PROFILE_OUT, { recursive: true });
    console.log(`\nprofiles copied to ${process.env.MESH_PROFILE_OUT}`);
  }
}
