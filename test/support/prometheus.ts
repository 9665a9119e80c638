/**
 * A real Prometheus server for tests (Debian's `prometheus` package; .ci/run installs it when it
 * runs as root with apt): started on a loopback port the kernel chose, with its config and its
 * storage in a scratch directory, and asked through its HTTP API as Grafana asks it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../runtime/local/local-mesh';
import { until } from './poll';
import { tempDir } from './temp-dir';

/** Without the binary, a test that needs it is skipped, never passed. */
export const HAS_PROMETHEUS = !spawnSync('prometheus', ['--version'], { encoding: 'utf8' }).error;

export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

export interface RangeSeries {
  readonly metric: Record<string, string>;
  readonly values: number[];
}

export class Prometheus {
  private child?: ChildProcess;
  private log = '';
  port = 0;

  /** Starts it with `config` (a prometheus.yml) and waits until it answers ready. */
  async start(config: string): Promise<void> {
    const dir = tempDir('mast-prometheus-');
    writeFileSync(join(dir, 'prometheus.yml'), config);
    this.port = await freePort();
    this.child = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child.stderr!.on('data', (d) => (this.log = `${this.log}${d}`.slice(-20_000)));
    await until(
      'Prometheus ready',
      async () => (await fetch(`http://127.0.0.1:${this.port}/-/ready`).catch(() => undefined))?.ok,
      30_000,
      () => this.log,
    );
  }

  /** An instant query's answer (a vector; a scalar becomes one unlabelled sample). */
  async query(promql: string): Promise<Sample[]> {
    const res = await fetch(`http://127.0.0.1:${this.port}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: unknown };
    };
    if (body.status !== 'success') throw new Error(`Prometheus refused ${promql}: ${body.error}`);
    if (!body.data) throw new Error(`Prometheus answered ${promql} with no data`);
    if (body.data.resultType === 'scalar') return [{ metric: {}, value: Number((body.data.result as [number, string])[1]) }];
    return (body.data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((r) => ({
      metric: r.metric,
      value: Number(r.value[1]),
    }));
  }

  /** A range query's answer, as Grafana asks for a graph: each series with its value at every step (NaN: a gap). */
  async queryRange(promql: string, start: number, end: number, stepSeconds: number): Promise<RangeSeries[]> {
    const params = new URLSearchParams({ query: promql, start: String(start), end: String(end), step: String(stepSeconds) });
    const body = (await (await fetch(`http://127.0.0.1:${this.port}/api/v1/query_range?${params}`)).json()) as {
      status: string;
      error?: string;
      data?: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
    };
    if (body.status !== 'success' || !body.data) throw new Error(`Prometheus refused ${promql}: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, values: r.values.map(([, v]) => Number(v)) }));
  }

  /** A label's values, of the series `match` selects (all series without it), as Grafana's label_values() asks. */
  async labelValues(label: string, match?: string): Promise<string[]> {
    const query = match ? `?${new URLSearchParams({ 'match[]': match })}` : '';
    const body = (await (await fetch(`http://127.0.0.1:${this.port}/api/v1/label/${label}/values${query}`)).json()) as {
      status: string;
      error?: string;
      data?: string[];
    };
    if (body.status !== 'success' || !body.data) throw new Error(`Prometheus refused label_values(${match ?? ''} ${label}): ${body.error}`);
    return body.data;
  }

  /** Active targets, by scrape URL, with their health. */
  async targets(): Promise<Array<{ url: string; health: string; job: string }>> {
    const res = await fetch(`http://127.0.0.1:${this.port}/api/v1/targets?state=active`);
    const body = (await res.json()) as {
      data: { activeTargets: Array<{ scrapeUrl: string; health: string; labels: Record<string, string> }> };
    };
    return body.data.activeTargets.map((t) => ({ url: t.scrapeUrl, health: t.health, job: t.labels.job }));
  }

  logTail(): string {
    return this.log.slice(-3000);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      // It flushes its storage on SIGTERM; one that has not exited in 10 s is killed.
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
