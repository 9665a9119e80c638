/** `mast local` as a user runs it: a process that prints `ready`, serves, and leaves nothing behind. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../runtime/local/local-mesh';
import { EXAMPLE, request } from './support';
import { gatewayDoc, gatewayRouteDoc, meshYaml, serviceEntryDoc, workloadEntryDoc } from '../support/mesh-yaml';
import { eventually } from '../support/poll';
import { alive } from '../support/process';

const MAST = join(__dirname, '..', '..', 'bin', 'mast');
const dir = mkdtempSync(join(tmpdir(), 'mast-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function writeMesh(): Promise<string> {
  const file = join(dir, `mesh-${Date.now()}.yaml`);
  writeFileSync(
    file,
    `${meshYaml(
      gatewayDoc(['hello.example.com']),
      gatewayRouteDoc('edge', ['hello.example.com'], 'hello'),
      serviceEntryDoc({ name: 'hello', port: 9080, internal: false }),
      workloadEntryDoc({ app: 'hello', version: 'v1', port: await freePort(), run: join(EXAMPLE, 'app', 'server.ts') }),
    )}---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: remote, namespace: default }
spec: { address: 192.0.2.10, ports: { http: 80 }, labels: { app: elsewhere } }
`,
  );
  return file;
}

/** Direct children, and theirs, of a process (from /proc). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e)))
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone meanwhile */
    }
  const out: number[] = [];
  for (let frontier = [pid]; frontier.length; ) {
    frontier = [...parentOf].filter(([, ppid]) => frontier.includes(ppid)).map(([p]) => p);
    out.push(...frontier);
  }
  return out;
}

async function startCli(gatewayPort: number): Promise<{ child: ChildProcess; out: () => string; file: string }> {
  const file = await writeMesh();
  const child = spawn(process.execPath, [MAST, 'local', '-f', file, '--gateway-port', String(gatewayPort), '--admin-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const ready = await eventually(() => /ready/.test(out) || child.exitCode !== null, 45_000);
  if (!ready || child.exitCode !== null) {
    child.kill('SIGKILL');
    throw new Error(`mast local did not get ready:\n${out}`);
  }
  return { child, out: () => out, file };
}

describe('mast local (the command)', () => {
  test('prints ready with the gateway URL and ports, serves, serves a Gateway port added while it runs, and Ctrl-C stops every process it started', async () => {
    const port = await freePort();
    const { child, out, file } = await startCli(port);
    try {
      expect(out()).toMatch(new RegExp(`mast local ready: gateway http://127.0.0.1:${port}, admin http://127.0.0.1:\\d+/`));
      // Every gateway port, the Gateway's number → where it is served here.
      expect(out()).toMatch(new RegExp(`workloads, gateway ports (\\d+→\\d+, )*\\d+→${port}\\b`));
      expect(out()).toContain(`try: curl -H 'Host: hello.example.com' http://127.0.0.1:${port}/`);
      // The WorkloadEntry that is not on this machine is said to be reached directly.
      expect(out()).toMatch(/WorkloadEntry default\/remote: address "192.0.2.10" is not a loopback address/);
      const page = await request(port, '/hi', { host: 'hello.example.com' });
      expect(page).toMatchObject({ status: 200, body: { service: 'hello', version: 'v1', path: '/hi' } });
      // A Gateway with a new port written while it runs: the port is served (and said where), then answers.
      appendFileSync(
        file,
        `---\n${gatewayDoc(['hello.example.com'], 'edge-8080').replace('number: 80, name: http', 'number: 8080, name: http-alt')}\n---\n${gatewayRouteDoc('hello-alt', ['hello.example.com'], 'hello', 'edge-8080')}\n`,
      );
      const served = /gateway: port 8080 is served on 127\.0\.0\.1:(\d+)/;
      expect(await eventually(() => served.test(out()), 15_000)).toBe(true);
      const alt = Number(served.exec(out())![1]);
      const answers = async () => (await request(alt, '/alt', { host: 'hello.example.com' }).catch(() => undefined))?.status === 200;
      expect(await eventually(answers, 15_000)).toBe(true);
      const children = descendants(child.pid!);
      expect(children.length).toBeGreaterThanOrEqual(3); // gateway, sidecar, app
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(await eventually(() => children.every((p) => !alive(p)), 5000)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('Ctrl-C while it is still starting: it exits at once and leaves no scratch directory or process behind', async () => {
    const tmp = mkdtempSync(join(dir, 'tmp-'));
    const file = await writeMesh();
    const child = spawn(process.execPath, [MAST, 'local', '-f', file, '--gateway-port', '0', '--admin-port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: tmp },
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    try {
      // Its scratch directory appears as the mesh is made, before anything is started.
      const scratch = () => readdirSync(tmp).filter((f) => f.startsWith('mast-local-'));
      expect(await eventually(() => scratch().length > 0 || child.exitCode !== null, 30_000)).toBe(true);
      expect(out).not.toMatch(/ready/);
      const children = descendants(child.pid!);
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(scratch()).toEqual([]);
      expect(await eventually(() => children.every((p) => !alive(p)), 8000)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('killed outright (SIGKILL), it still leaves no process behind', async () => {
    const { child } = await startCli(0);
    const children = descendants(child.pid!);
    expect(children.length).toBeGreaterThanOrEqual(3);
    child.kill('SIGKILL');
    expect(await eventually(() => children.every((p) => !alive(p)), 8000)).toBe(true);
  });

  test('bad usage: a missing input or a taken port is one clear line and exit 2', async () => {
    const missing = spawnSync(process.execPath, [MAST, 'local', '-f', join(dir, 'nope')], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`mast local: no such file or directory: ${join(dir, 'nope')}`);
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const taken = (busy.address() as net.AddressInfo).port;
    const file = await writeMesh();
    const result = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = spawn(process.execPath, [MAST, 'local', '-f', file, '--gateway-port', String(taken), '--admin-port', '0']);
      let err = '';
      c.stderr.on('data', (d) => (err += d));
      c.on('exit', (code) => resolve({ code, err }));
    });
    busy.close();
    expect(result.code).toBe(2);
    expect(result.err).toContain(`mast local: --gateway-port ${taken} is not available (EADDRINUSE)`);
  });
});
