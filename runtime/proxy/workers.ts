/**
 * A gateway on several cores: worker processes bind the same ports with SO_REUSEPORT (Node ≥
 * 22.12), the kernel spreads connections over them. The first process keeps the one stream to
 * mastd, the admin and status ports; it hands every config and workload certificate it applies to
 * the workers over IPC, and they send their metrics back every second, so /stats/prometheus
 * counts all of them. A worker that dies is started again; with the first process gone, the
 * workers drain and exit.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { ProxyConfig } from '../contract/proxy-config';
import type { MetricsSnapshot } from './metrics';
import type { MeshProxy, WorkloadCertificate } from './mesh-proxy';

/** Set in the environment of the worker processes. */
export const WORKER_ENV = 'MAST_PROXY_WORKER';

/** SO_REUSEPORT for `server.listen` arrived in Node 22.12 and 23.1. */
export function reusePortSupported(version = process.versions.node): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

type ToWorker =
  | { type: 'config'; config: ProxyConfig }
  | { type: 'certificate'; certificate: WorkloadCertificate }
  | { type: 'drain'; ms: number };
type FromWorker = { type: 'applied'; version: string; ok: boolean; error?: string } | { type: 'metrics'; metrics: MetricsSnapshot };

export class WorkerPool {
  private readonly workers: Array<{ child?: ChildProcess; metrics?: MetricsSnapshot }>;
  private stopping = false;
  private config?: ProxyConfig;
  private certificate?: WorkloadCertificate;

  constructor(
    proxy: MeshProxy,
    count: number,
    private readonly log: (line: string) => void,
    /** The command line the first process was started with (workers run the same). */
    private readonly argv = process.argv.slice(1),
  ) {
    this.workers = Array.from({ length: count }, () => ({}));
    proxy.reusePort = true;
    proxy.onApplied = (config) => {
      this.config = config;
      this.broadcast({ type: 'config', config });
    };
    proxy.onCertificate = (certificate) => {
      this.certificate = certificate;
      this.broadcast({ type: 'certificate', certificate });
    };
    proxy.peerMetrics = () => this.workers.flatMap((w, i) => (w.metrics ? [{ worker: i + 1, metrics: w.metrics }] : []));
    if (proxy.config) this.config = proxy.config;
    this.workers.forEach((_, i) => this.start(i));
  }

  private start(i: number): void {
    if (this.stopping) return;
    const [script, ...args] = this.argv;
    const child = fork(script, args, {
      env: { ...process.env, [WORKER_ENV]: String(i + 1) },
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const w = this.workers[i];
    w.child = child;
    child.on('message', (m: FromWorker) => {
      if (m.type === 'metrics') w.metrics = m.metrics;
      else if (m.type === 'applied' && !m.ok) this.log(`worker ${i + 1} rejected config ${m.version}: ${m.error}`);
    });
    child.on('exit', (code, signal) => {
      w.child = undefined;
      if (this.stopping) return;
      this.log(`worker ${i + 1} exited (${signal ?? code}); starting it again in 1 s`);
      setTimeout(() => this.start(i), 1000).unref();
    });
    if (this.certificate) child.send({ type: 'certificate', certificate: this.certificate } satisfies ToWorker);
    if (this.config) child.send({ type: 'config', config: this.config } satisfies ToWorker);
  }

  private broadcast(m: ToWorker): void {
    for (const w of this.workers) if (w.child?.connected) w.child.send(m);
  }

  /** Every worker drains (as the first process does) and exits; stragglers are killed after `ms`. */
  async drain(ms: number): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.workers.map(({ child }) => {
        if (!child || child.exitCode !== null) return undefined;
        return new Promise<void>((resolve) => {
          const kill = setTimeout(() => child.kill('SIGKILL'), ms + 1000);
          child.once('exit', () => (clearTimeout(kill), resolve()));
          if (child.connected) child.send({ type: 'drain', ms } satisfies ToWorker);
          else child.kill('SIGTERM');
        });
      }),
    );
  }
}

/** The worker side: apply what the first process sends, report metrics, drain when told or when it is gone. */
export function runWorker(proxy: MeshProxy, log: (line: string) => void): Promise<void> {
  proxy.reusePort = true;
  const send = (m: FromWorker) => process.connected && process.send!(m);
  const report = setInterval(() => send({ type: 'metrics', metrics: proxy.metrics.snapshot() }), 1000);
  return new Promise((resolve) => {
    let done = false;
    const finish = async (ms: number) => {
      if (done) return;
      done = true;
      clearInterval(report);
      send({ type: 'metrics', metrics: proxy.metrics.snapshot() });
      await proxy.drain(ms);
      process.disconnect?.();
      resolve();
    };
    process.on('message', (m: ToWorker) => {
      if (m.type === 'config')
        void proxy.apply(m.config).then((r) => {
          send({ type: 'applied', version: r.version, ok: r.ok, ...(r.ok ? {} : { error: r.error }) });
          if (r.ok) log(`worker ${process.env[WORKER_ENV]} serving config ${r.version}`);
        });
      else if (m.type === 'certificate') proxy.setCertificate(m.certificate);
      else if (m.type === 'drain') void finish(m.ms);
    });
    // The first process is gone (even killed): nobody gives this one configs any more.
    process.on('disconnect', () => void finish(1000));
    process.on('SIGTERM', () => void finish(5000));
  });
}
