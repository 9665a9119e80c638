/**
 * The processes `mast local` runs. Each child gets a pipe as stdin and the
 * MAST_STOP_WITH_PARENT flag, so it stops when this process goes away however it dies;
 * stopping one sends SIGTERM, then SIGKILL after a grace period. Output lines are
 * prefixed with the child's name. A child started with `restart` is started again after it
 * dies, with a back-off, as kubelet restarts a pod's container.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { STOP_WITH_PARENT_ENV } from '../contract/process';

export interface ChildSpec {
  readonly name: string;
  /** @default node (this process's) */
  readonly command?: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /**
   * Start it again when it exits without being stopped, after RESTART_BACKOFF (doubling up to its
   * cap; back to the base once a run lasted STEADY_MS), as kubelet's restartPolicy Always. @default false
   */
  readonly restart?: boolean;
  /** Told when it exits without being stopped (before any restart). */
  readonly onExit?: (how: string) => void;
  /** Told when it was started again after such an exit. */
  readonly onRestart?: () => void;
}

/** Back-off before a restart: base, doubling to the cap (kubelet's is 10 s to 5 min; a laptop's mesh wants its apps back sooner). */
export const RESTART_BACKOFF = { baseMs: 1000, capMs: 30_000 } as const;
/** A run this long resets the back-off. */
const STEADY_MS = 10_000;

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  stopping: boolean;
}

export class Supervisor {
  private readonly running = new Map<string, Running>();
  /** Children waiting out their back-off before a restart, by name. */
  private readonly restarting = new Map<string, NodeJS.Timeout>();
  private readonly backoff = new Map<string, number>();
  private readonly killAll = () => this.running.forEach((r) => r.child.kill('SIGKILL'));

  constructor(private readonly log: (line: string) => void) {
    process.once('exit', this.killAll);
  }

  pid(name: string): number | undefined {
    return this.running.get(name)?.child.pid;
  }

  names(): string[] {
    return [...this.running.keys()];
  }

  start(spec: ChildSpec): void {
    if (this.running.has(spec.name)) throw new Error(`${spec.name} is already running`);
    // Its own process group: a terminal's Ctrl-C reaches only `mast local`, which then stops
    // the children in order (gateway first) instead of all of them at once.
    const child = spawn(spec.command ?? process.execPath, [...spec.args], {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env, [STOP_WITH_PARENT_ENV]: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const entry: Running = { child, stopping: false, exited: new Promise((r) => child.once('exit', () => r())) };
    const startedAt = Date.now();
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
      if (entry.stopping) return;
      const how = signal ?? `code ${code}`;
      spec.onExit?.(how);
      if (!spec.restart) return this.log(`${spec.name} exited unexpectedly (${how})`);
      const delay = Date.now() - startedAt >= STEADY_MS ? RESTART_BACKOFF.baseMs : (this.backoff.get(spec.name) ?? RESTART_BACKOFF.baseMs);
      this.backoff.set(spec.name, Math.min(delay * 2, RESTART_BACKOFF.capMs));
      this.log(`${spec.name} exited unexpectedly (${how}); restarting in ${delay / 1000} s`);
      this.restarting.set(
        spec.name,
        setTimeout(() => {
          this.restarting.delete(spec.name);
          this.start(spec);
          spec.onRestart?.();
        }, delay),
      );
    });
    child.on('error', (err) => this.log(`${spec.name} could not start: ${err.message}`));
    this.running.set(spec.name, entry);
  }

  async stop(name: string, graceMs = 3000): Promise<void> {
    clearTimeout(this.restarting.get(name));
    this.restarting.delete(name);
    this.backoff.delete(name);
    const entry = this.running.get(name);
    if (!entry) return;
    entry.stopping = true;
    entry.child.kill('SIGTERM');
    const timer = setTimeout(() => entry.child.kill('SIGKILL'), graceMs);
    await entry.exited;
    clearTimeout(timer);
  }

  async stopAll(graceMs = 3000): Promise<void> {
    for (const name of [...this.restarting.keys()]) await this.stop(name, graceMs);
    await Promise.all(this.names().map((n) => this.stop(n, graceMs)));
    process.removeListener('exit', this.killAll);
  }
}
