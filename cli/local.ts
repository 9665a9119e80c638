/**
 * `mast local -f <file|dir> [--gateway-port 8080] [--admin-port 15000]`: the whole mesh on this
 * machine. Prints one line containing `ready` once traffic can flow; Ctrl-C / SIGTERM drains
 * and stops every process it started.
 */
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import type { Gateway } from '../api';
import { LocalAdmin } from '../runtime/local/admin';
import { GATEWAY_LABELS, LocalMesh } from '../runtime/local/local-mesh';
import { untilSignal } from '../runtime/contract/process';
import { FILE_OPTION, parse, requireFiles, UsageError } from './args';
import { PORTS } from '../api/well-known';
import { USAGE as USAGES } from './usage';

const USAGE = USAGES.local;

function portFlag(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`--${name} must be a port number (0 picks a free one), not "${value}"`);
  return n;
}

/** Fails early, and clearly, when a port we were told to use is taken. */
function checkFree(port: number, flag: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(new UsageError(`--${flag} ${port} is not available (${err.code}); pick another port or 0 for any`)),
    );
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}

/** The host to curl with: the first named host of a Gateway the local gateway serves. */
function exampleHost(mesh: LocalMesh): string | undefined {
  const gateways = (mesh.mastd.snapshot?.objects ?? []).filter((o) => o.kind === 'Gateway') as unknown as Gateway[];
  const hosts = gateways
    .filter((g) => Object.entries(g.spec.selector ?? {}).every(([k, v]) => GATEWAY_LABELS[k as 'istio'] === v))
    .flatMap((g) => g.spec.servers.flatMap((s) => s.hosts));
  return hosts.map((h) => h.split('/').pop()!).find((h) => !h.includes('*'));
}

export async function runLocal(args: string[]): Promise<number> {
  let opts;
  let files: string[];
  let gatewayPort: number;
  let adminPort: number;
  try {
    opts = parse(
      args,
      {
        file: FILE_OPTION,
        'gateway-port': { type: 'string', default: '8080' },
        'admin-port': { type: 'string', default: String(PORTS.proxyAdmin) },
        'access-log': { type: 'boolean', default: false },
        'ready-timeout': { type: 'string', default: '60' },
        intercept: { type: 'boolean', default: false },
      },
      USAGE,
    );
    files = requireFiles(opts.file, USAGE);
    const missing = files.find((f) => !existsSync(f));
    if (missing) throw new UsageError(`no such file or directory: ${missing}`);
    gatewayPort = portFlag('gateway-port', opts['gateway-port']);
    adminPort = portFlag('admin-port', opts['admin-port']);
    await checkFree(gatewayPort, 'gateway-port');
    await checkFree(adminPort, 'admin-port');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`mast local: ${err.message}`);
    return 2;
  }
  // Interrupted while starting, it exits at once, as before, but first removes what it made.
  // Listening before the mesh is made: making it creates its scratch directory.
  let mesh: LocalMesh | undefined;
  const abort = (signal: NodeJS.Signals) => {
    mesh?.discard();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  try {
    mesh = new LocalMesh({ paths: files, gatewayPort, adminPort, accessLog: opts['access-log'], intercept: opts.intercept });
  } catch (err) {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
    console.error(`mast local: ${(err as Error).message}`);
    return 2;
  }
  const admin = new LocalAdmin(mesh);
  const stop = async () => {
    console.error('mast local: stopping (draining the gateway, then the workloads)');
    await admin.close();
    await mesh.stop();
  };
  try {
    const port = await mesh.start();
    const adminAt = await admin.listen(adminPort);
    await mesh.ready(Number(opts['ready-timeout']) * 1000);
    const host = exampleHost(mesh);
    // One write, so whoever reads the output up to "ready" also has the example request.
    const ports = Object.entries(mesh.gatewayPorts)
      .map(([server, local]) => `${server}→${local}`)
      .join(', ');
    const ready = `mast local ready: gateway http://127.0.0.1:${port}, admin http://127.0.0.1:${adminAt}/ (service graph, /stats/prometheus, /prometheus.yml, /debug/syncz), ${mesh.workloads.size} workloads, gateway ports ${ports}`;
    console.log(host ? `${ready}\ntry: curl -H 'Host: ${host}' http://127.0.0.1:${port}/` : ready);
  } catch (err) {
    console.error(`mast local: ${(err as Error).message}`);
    await stop();
    return 1;
  } finally {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
  await untilSignal(stop);
  return 0;
}
