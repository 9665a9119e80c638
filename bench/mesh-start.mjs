// A mesh as `mast local` runs it, for the bench: mastd (the bundle) watching a directory with one
// YAML file, and mast-proxy processes fed by it (sidecars with the workload certificates mastd
// issues, so auto mTLS applies between them; a gateway). Shared by the HTTP/1.1 rows' sidecar
// chain (run.mjs), the mesh path (mesh-path.mjs) and the HTTP/2 sidecars (h2.mjs).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, start as startChild } from './processes.mjs';

/**
 * Starts mastd on `yaml` and returns how to start its proxies and wait for them. `o`: { name (its
 * files in `dir`), root, dir, node (imageNode's), proxyFlags (the image's node flags), yaml,
 * pushPort, monitoringPort, start? (processes.mjs's start, or a caller's that also tracks them),
 * nodeFlags? (more node flags for the proxies, e.g. --cpu-prof) }.
 */
export function startMesh(o) {
  const start = o.start ?? startChild;
  const watch = join(o.dir, `${o.name}-mesh`);
  mkdirSync(watch);
  writeFileSync(join(watch, 'mesh.yaml'), o.yaml);
  // The push token in a file, never on a command line (mastd and mast-proxy refuse --token).
  const tokenFile = join(o.dir, `${o.name}-push-token`);
  writeFileSync(tokenFile, `bench-${o.name}`, { mode: 0o600 });
  const mastd = start(`mastd-${o.name}`, o.node.path, [
    join(o.root, 'build', 'mastd.js'),
    '--watch',
    watch,
    '--push-port',
    String(o.pushPort),
    '--monitoring-port',
    String(o.monitoringPort),
    '--token-file',
    tokenFile,
  ]);
  const proxy = (name, args) =>
    start(name, o.node.path, [
      ...o.proxyFlags,
      ...(o.nodeFlags?.(name) ?? []),
      join(o.root, 'build', 'mast-proxy.js'),
      '--control-plane',
      `127.0.0.1:${o.pushPort}`,
      '--token-file',
      tokenFile,
      ...args,
    ]);
  return {
    mastd,
    /**
     * A sidecar: `id`, `app` (its label), `adminPort`; with `inboundPort` and `appPort` the pod's
     * inbound, with `outboundPort` its outbound (0: none); `extra`: more mast-proxy flags.
     */
    sidecar(name, s) {
      return proxy(name, [
        '--mode',
        'sidecar',
        '--namespace',
        'default',
        '--id',
        s.id,
        '--labels',
        `app=${s.app}`,
        ...(s.inboundPort ? ['--inbound-port', String(s.inboundPort), '--app-port', String(s.appPort)] : []),
        '--outbound-port',
        String(s.outboundPort ?? 0),
        '--admin-port',
        String(s.adminPort ?? 0),
        ...(s.extra ?? []),
      ]);
    },
    /** The ingress gateway (istio: ingressgateway): `portMap` as `--port-map` takes it, `adminPort`; `extra`: more flags. */
    gateway(name, g) {
      return proxy(name, [
        '--mode',
        'gateway',
        '--id',
        name,
        '--port-map',
        g.portMap,
        '--admin-port',
        String(g.adminPort ?? 0),
        ...(g.extra ?? []),
      ]);
    },
    /** Until `n` proxies hold a certificate and have acknowledged their config (mastd's /debug/syncz; 10 s at most). */
    async ready(n) {
      for (let i = 0; i < 100; i++) {
        const r = spawnSync('curl', ['-s', '-m', '1', `http://127.0.0.1:${o.monitoringPort}/debug/syncz`]);
        try {
          const proxies = JSON.parse(r.stdout.toString()).proxies;
          if (proxies.length === n && proxies.every((p) => p.certificateExpires && p.acked && p.acked === p.sent)) return;
        } catch {}
        await sleep(100);
      }
      throw new Error(`the ${o.name} mesh's ${n} proxies never all got their certificates and config from mastd`);
    },
  };
}

/** The mTLS connections a sidecar accepted (its admin port's metrics). */
export function mtlsConnections(adminPort) {
  const r = spawnSync('curl', ['-s', '-m', '2', `http://127.0.0.1:${adminPort}/stats/prometheus`]);
  return Number(/mast_inbound_mtls_connections_total (\d+)/.exec(r.stdout.toString())?.[1] ?? 0);
}

/** A proxy's admin `/memory` (runtime/proxy/memory-report.ts) in MB: where its private memory is. */
export function memoryBreakdown(adminPort) {
  const r = spawnSync('curl', ['-s', '-m', '2', `http://127.0.0.1:${adminPort}/memory`]);
  try {
    const m = JSON.parse(r.stdout.toString());
    const mb = (k) => (Number(m[k]) / 1048576).toFixed(1);
    const outside = (Number(m.anonymous) - Number(m.v8_heap_committed)) / 1048576;
    return `anonymous ${mb('anonymous')} MB: V8 heap ${mb('v8_heap_committed')} committed (${mb('v8_heap_used')} used, code ${mb('v8_code')}, young generation ${mb('v8_young_generation')}), outside it ${outside.toFixed(1)} (external ${mb('external')})`;
  } catch {
    return 'n/a';
  }
}
