/**
 * The processes a chaos scenario kills: mastd and mast-proxy as the bundles users run, and HTTP
 * backends, each in its own process so that SIGKILL is real, its memory its own (VmRSS), and its
 * death never the test runner's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROXY_NODE_FLAGS } from '../../runtime/contract/process';
import { freePort } from '../../runtime/local/local-mesh';
import { bundleMastd, bundleProxy } from '../security/spawned-proxy';
import { gatewayDoc, meshYaml, serviceEntryDoc } from '../support/mesh-yaml';
import { until } from '../support/proxy';

export interface Spawned {
  readonly child: ChildProcess;
  readonly pid: number;
  stderr(): string;
  /** The exit code or signal once it exited, else undefined. */
  exited(): string | undefined;
  /** SIGKILL (if still running) and wait for the exit. */
  kill(): Promise<void>;
}

function spawned(child: ChildProcess, what: string): Spawned {
  let err = '';
  let exit: string | undefined;
  child.stderr?.on('data', (d) => (err = (err + d).slice(-64 * 1024)));
  const ended = new Promise<void>((resolve) => child.once('exit', (code, signal) => ((exit = signal ?? String(code)), resolve())));
  if (child.pid === undefined) throw new Error(`${what} could not be started`);
  return {
    child,
    pid: child.pid,
    stderr: () => err,
    exited: () => exit,
    async kill() {
      if (exit === undefined) child.kill('SIGKILL');
      await ended;
    },
  };
}

/** Resolves when the process's stderr matches `ready`; fails (with its stderr) if it exits first or takes over `ms`. */
export async function startedWhen(p: Spawned, ready: RegExp, what: string, ms = 20_000): Promise<RegExpExecArray> {
  const m = await until(
    `${what} to say ${ready}`,
    () => {
      if (p.exited() !== undefined) throw new Error(`${what} exited ${p.exited()} before it was ready:\n${p.stderr()}`);
      return ready.exec(p.stderr()) ?? undefined;
    },
    ms,
  );
  return m!;
}

export interface MastdPorts {
  readonly push: number;
  readonly monitoring: number;
}

/** Fixed ports for a mastd that is killed and started again on them (proxies reconnect to the same address). */
export async function mastdPorts(): Promise<MastdPorts> {
  return { push: await freePort(), monitoring: await freePort() };
}

/** mastd.js on a directory of YAML, push and monitoring on `ports`, the push token in `dir`/token. */
export async function spawnMastd(meshDir: string, dir: string, ports: MastdPorts, extra: string[] = []): Promise<Spawned> {
  writeFileSync(join(dir, 'token'), 'chaos-token', { mode: 0o600 });
  const args = [
    '--watch',
    meshDir,
    '--push-port',
    String(ports.push),
    '--monitoring-port',
    String(ports.monitoring),
    '--token-file',
    join(dir, 'token'),
    '--debounce-ms',
    '50',
    ...extra,
  ];
  const p = spawned(spawn(process.execPath, [await bundleMastd(), ...args], { stdio: ['ignore', 'ignore', 'pipe'] }), 'mastd');
  await startedWhen(p, /mastd started/, 'mastd');
  return p;
}

export interface MeshGateway extends Spawned {
  readonly port: number;
  readonly admin: number;
  /** The config version it runs (its /config_dump), or null. */
  version(): Promise<string | null>;
}

/** A gateway mast-proxy.js taking its config from mastd; resolves once it runs a config. */
export async function spawnMeshGateway(ports: MastdPorts, dir: string): Promise<MeshGateway> {
  const [port, admin] = [await freePort(), await freePort()];
  const args = [
    ...PROXY_NODE_FLAGS,
    await bundleProxy(),
    '--control-plane',
    `127.0.0.1:${ports.push}`,
    '--token-file',
    join(dir, 'token'),
    '--port-map',
    `80=${port}`,
    '--admin-port',
    String(admin),
    '--id',
    `gw-${port}`,
    '--drain-seconds',
    '1',
  ];
  const p = spawned(spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] }), 'mast-proxy');
  await startedWhen(p, /started: admin/, 'mast-proxy');
  const g: MeshGateway = {
    ...p,
    port,
    admin,
    version: () => adminJson(admin, '/config_dump').then((d) => (d as { version: string | null }).version),
  };
  await until('the gateway to run a config from mastd', () => g.version(), 20_000);
  return g;
}

/** JSON from an admin port (null when it does not answer). */
export function adminJson(port: number, path: string): Promise<unknown> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          try {
            resolve(JSON.parse(body));
          } catch {
            resolve(null);
          }
        });
      })
      .on('error', () => resolve(null));
  });
}

/** GET for alpha.example.com on its own connection: the body, or '' on any failure. */
export function getText(port: number, path: string): Promise<string> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false, headers: { host: 'alpha.example.com' } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      })
      .on('error', () => resolve(''));
  });
}

/** An HTTP backend in its own process answering `name` (on `port`, or a free one); resolves once it listens. */
export async function spawnBackend(name: string, port = 0): Promise<Spawned & { port: number }> {
  const script = `require('http').createServer((q, s) => s.end(${JSON.stringify(name)})).listen(${port}, '127.0.0.1', function () { console.error('listening ' + this.address().port) })`;
  const p = spawned(spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] }), `backend ${name}`);
  const m = await startedWhen(p, /listening (\d+)/, `backend ${name}`);
  return { ...p, port: Number(m[1]) };
}

/** A mesh with one host, alpha.example.com on the ingress gateway, routed to `web` at `endpoints`. */
export function webMesh(endpoints: number[], extraRoutes = ''): string {
  return `${meshYaml(gatewayDoc(['alpha.example.com']), serviceEntryDoc({ name: 'web', endpoints }))}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [alpha.example.com]
  gateways: [edge]
  http:
${extraRoutes}    - route: [{ destination: { host: web.default.svc.cluster.local, port: { number: 80 } } }]
`;
}
