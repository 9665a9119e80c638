/**
 * mast-proxy as users run it: the one-file bundle in its own process. An attack that stalls or
 * kills the process shows here as a stalled or dead child, where an in-process proxy would stall
 * or kill the test runner itself, or hide an exit behind jest's own handlers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROXY_NODE_FLAGS } from '../../runtime/contract/process';
import type { ProxyConfig } from '../../runtime/contract/proxy-config';
import { tempDir } from '../support/temp-dir';
import { builtFile } from '../support/build';

/** The bundles of this test run (built once by jest's global setup, test/support/build.ts). */
export async function bundleProxy(): Promise<string> {
  return builtFile('mast-proxy.js');
}

export async function bundleMastd(): Promise<string> {
  return builtFile('mastd.js');
}

export interface SpawnedProxy {
  readonly child: ChildProcess;
  /** Bound port of a listener, by name (from the proxy's ready line). */
  port(listener: string): number;
  /** Everything the proxy wrote to stderr so far. */
  stderr(): string;
  /** The exit code or signal once it exited, else undefined. */
  exited(): string | undefined;
  stop(): Promise<void>;
}

/** Starts the bundle on a config file (`--config`); resolves once it says it is ready. */
export async function spawnProxy(
  bundle: string,
  cfg: ProxyConfig,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<SpawnedProxy> {
  const file = join(tempDir('mast-security-config-'), 'config.json');
  writeFileSync(file, JSON.stringify(cfg));
  const argv = [...PROXY_NODE_FLAGS, bundle, '--config', file, '--mode', 'gateway', '--admin-port', '0', ...args];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  let exit: string | undefined;
  child.stderr!.on('data', (d) => (err += d));
  const ended = new Promise<void>((resolve) => child.once('exit', (code, signal) => ((exit = signal ?? String(code)), resolve())));
  const ready = await Promise.race([
    new Promise<RegExpExecArray>((resolve) => {
      const check = () => {
        const m = /ready: config \S+, listeners (.*), admin/.exec(err);
        if (m) resolve(m);
        else child.stderr!.once('data', check);
      };
      check();
    }),
    ended.then(() => undefined),
  ]);
  if (!ready) throw new Error(`mast-proxy exited ${exit} before it was ready: ${err}`);
  const ports = new Map(ready[1].split(' ').map((l) => [l.slice(0, l.lastIndexOf('@')), Number(l.slice(l.lastIndexOf('@') + 1))]));
  return {
    child,
    port: (listener) => ports.get(listener) ?? Number.NaN,
    stderr: () => err,
    exited: () => exit,
    async stop() {
      if (exit === undefined) child.kill('SIGKILL');
      await ended;
    },
  };
}
