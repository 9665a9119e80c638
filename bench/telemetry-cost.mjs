// What telemetry costs per request (issue #25), in `npm run bench` (`--only-telemetry`: these rows
// alone): the gateway → backend sidecar path with mTLS (both proxies report Istio's metrics, always
// on), four meshes side by side that differ only in their telemetry: metrics alone; + the JSON
// access log (to a file) at both hops; + tracing at 1 % (Istio's default sampling); + tracing at
// 100 %, spans exported over OTLP/HTTP to a receiver that keeps up (otlp-sink.mjs). Prints each
// row's figures, then CPU per request and requests/s as ratios to the metrics-only row.
import { join } from 'node:path';
import { gatewayMeshYaml } from './gateway-mesh.mjs';
import { measureAll } from './measure.mjs';
import { startMesh } from './mesh-start.mjs';
import { writeBackendConfig } from './nginx-configs.mjs';
import { checkAlive, median, sleep, withProcesses } from './processes.mjs';

/** Fixed ports, 184xx (the other rows hold 181xx–183xx): the backend, the span receiver, then ten per mesh. */
const PORTS = { backend: 18400, sink: 18401, mesh: (i) => 18410 + 10 * i };

const VARIANTS = [
  { name: 'metrics', accessLog: false, sampling: undefined },
  { name: 'metrics+log', accessLog: true, sampling: undefined },
  { name: 'metrics+log+trace 1%', accessLog: true, sampling: 1 },
  { name: 'metrics+log+trace 100%', accessLog: true, sampling: 100 },
];

/** The mesh config (Istio's `istio` ConfigMap) that turns tracing on at `sampling` %, to the receiver. */
const tracingConfig = (sampling) => `
---
apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    extensionProviders:
    - name: otel
      opentelemetry: { service: 127.0.0.1, port: ${PORTS.sink}, http: { path: /v1/traces } }
    defaultProviders: { tracing: [otel] }
    defaultConfig: { tracing: { sampling: ${sampling} } }
`;

/** `o`: { root, dir, node, proxyFlags, rounds, slice, rate }. */
export function telemetryBench(o) {
  return withProcesses(async (run, started) => {
    writeBackendConfig(o.dir, 'telemetry-backend', PORTS.backend);
    run('telemetry-backend', 'nginx', ['-c', join(o.dir, 'telemetry-backend.conf')]);
    run('otlp-sink', o.node.path, [join(o.root, 'bench', 'otlp-sink.mjs'), String(PORTS.sink)]);
    const rows = [];
    for (const [i, v] of VARIANTS.entries()) {
      const base = PORTS.mesh(i);
      const p = {
        gateway: base,
        sidecarIn: base + 1,
        push: base + 2,
        monitoring: base + 3,
        gatewayAdmin: base + 4,
        sidecarAdmin: base + 5,
      };
      const yaml =
        gatewayMeshYaml({
          port: p.sidecarIn,
          portName: 'http',
          protocol: 'HTTP',
          trafficPolicy: '{ connectionPool: { tcp: { maxConnections: 1000 }, http: { http1MaxPendingRequests: 1000 } } }',
          tlsMode: 'istio',
        }) + (v.sampling === undefined ? '' : tracingConfig(v.sampling));
      const log = v.accessLog ? (name) => ['--access-log', join(o.dir, `${name}.log`)] : () => [];
      const mesh = startMesh({
        name: `telemetry${i}`,
        root: o.root,
        dir: o.dir,
        node: o.node,
        proxyFlags: o.proxyFlags,
        yaml,
        pushPort: p.push,
        monitoringPort: p.monitoring,
        start: run,
      });
      const sidecar = mesh.sidecar(`telemetry${i}-sidecar`, {
        id: 'backend-v1',
        app: 'backend',
        inboundPort: p.sidecarIn,
        appPort: PORTS.backend,
        adminPort: p.sidecarAdmin,
        extra: log(`telemetry${i}-sidecar`),
      });
      const gateway = mesh.gateway(`telemetry${i}-gateway`, {
        portMap: `80=${p.gateway}`,
        adminPort: p.gatewayAdmin,
        extra: log(`telemetry${i}-gateway`),
      });
      rows.push({ mesh, port: p.gateway, pids: [gateway.pid, sidecar.pid], name: v.name });
    }
    await sleep(800);
    await checkAlive(started);
    for (const r of rows) await r.mesh.ready(2);
    console.log(
      `\ntelemetry cost: the gateway → backend sidecar path with mTLS, wrk -t1 -c50 for rps and CPU (both proxies), then ${o.rate} req/s fixed rate, ${o.slice}s per row in ${o.rounds} round(s) taken in turn`,
    );
    const spansBefore = await spanCount();
    const results = await measureAll(rows, o);
    await checkAlive(started);
    const spans = (await spanCount()) - spansBefore;
    const base = results[0];
    const perRound = (a, f) => a[f].map((x, i) => x / base[f][i]);
    console.log('');
    const spread = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
    for (const r of results.slice(1))
      for (const [figure, field] of [
        ['cpu-per-request', 'cpuRounds'],
        ['rps', 'rounds'],
      ]) {
        const rounds = perRound(r, field);
        console.log(`ratio telemetry-${figure} ${r.name}/metrics ${median(rounds).toFixed(2)} (rounds ${spread(rounds)})`);
      }
    const us = (r) => `${r.name} ${r.cpuUsPerReq.toFixed(1)}`;
    console.log(`telemetry cpu per request µs (both proxies): ${results.map(us).join(', ')}`);
    console.log(`telemetry spans received by the collector during the rows: ${spans} (2 per sampled request)`);
    for (const r of results)
      if (r.non2xx || r.errors || r.ok < r.sent)
        console.log(`WARNING: ${r.name} had ${r.non2xx} non-2xx under load, ${r.errors} fixed-rate errors, ${r.sent - r.ok} unanswered`);
    return results;
  });
}

async function spanCount() {
  try {
    return Number(await (await fetch(`http://127.0.0.1:${PORTS.sink}/count`)).text());
  } catch {
    return Number.NaN;
  }
}
