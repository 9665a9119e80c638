/**
 * The processes `mast local` runs. Each child gets a pipe as stdin and the
 * MAST_STOP_WITH_PARENT flag, so it stops when this process goes away however it dies;
 * stopping one sends SIGTERM, then SIGKILL after a grace period. Output lines are
 * prefixed with the child's name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { STOP_WITH_PARENT_ENV } from '../shared/process';

export interface ChildSpec {
  readonly name: string;
  /** @default node (this process's) */
  readonly command?: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
  readonly cwd?: string;
}

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  stopping: boolean;
}

export class Supervisor {
  private readonly running = new Map<string, Running>();
  private readonly killAll = () => this.running.forEach((r) => r.child.kill('SIGKILL'));

  constructor(private readonly log: (line: string) => void) {
    process.once('exit', this.killAll);
  }

  names(): string[] {
    return [...this.running.keys()];
  }

  start(spec: ChildSpec): void {
    if (this.running.has(spec.name)) throw new Error(`${spec.name} is already running`);
    // Its own process group: a terminal's Ctrl-C reaches only `mast local`, which then stops
    // the children in order (gateway first) instead of all of them at once.
    const child = spawn(spec.command ?? process.execPath, [...spec.args], { cwd: spec.cwd, env: { ...process.env, ...spec.env, [STOP_WITH_PARENT_ENV]: '1' }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const entry: Running = { child, stopping: false, exited: new Promise((r) => child.once('exit', () => r())) };
    for (const stream of [child.stdout!, child.stderr!]) {
      let partial = '';
      stream.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop()!;
        for (const line of lines) if (line) this.log(`[${spec.name}] ${line}`);
      });
    }
    child.once('exit', (code, signal) => {
      if (this.running.get(spec.name) === entry) this.running.delete(spec.name);
      if (!entry.stopping) this.log(`${spec.name} exited unexpectedly (${signal ?? `code ${code}`})`);
    });
    child.on('error', (err) => this.log(`${spec.name} could not start: ${err.message}`));
    this.running.set(spec.name, entry);
  }

  async stop(name: string, graceMs = 3000): Promise<void> {
    const entry = this.running.get(name);
    if (!entry) return;
    entry.stopping = true;
    entry.child.kill('SIGTERM');
    const timer = setTimeout(() => entry.child.kill('SIGKILL'), graceMs);
    await entry.exited;
    clearTimeout(timer);
  }

  async stopAll(graceMs = 3000): Promise<void> {
    await Promise.all(this.names().map((n) => this.stop(n, graceMs)));
    process.removeListener('exit', this.killAll);
  }
}
