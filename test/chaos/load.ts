/**
 * Bounded open-loop load on loopback: `rate` requests a second over a keep-alive pool until
 * stopped or `maxRequests` are sent, each with a deadline. Every request is counted: an answer
 * `ok` accepts, or a failure with its reason (status and response flag, or the socket error).
 */
import * as http from 'node:http';

export interface LoadOptions {
  readonly port: number;
  readonly rate: number;
  /** The load stops by itself after this many requests (bounded whatever happens to stop()). */
  readonly maxRequests: number;
  readonly host?: string;
  readonly path?: string | ((i: number) => string);
  /** @default 16 */
  readonly sockets?: number;
  /** A request not answered in this long counts as failed. @default 10_000 */
  readonly timeoutMs?: number;
  /** @default status 200 */
  readonly ok?: (res: http.IncomingMessage, body: string) => boolean;
}

export interface LoadResult {
  readonly requests: number;
  readonly failed: string[];
  readonly latenciesMs: number[];
  readonly p99Ms: number;
}

/** The value below which `q` (0..1) of the samples lie (nearest rank), rounded to 0.1 ms. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] * 10) / 10;
}

export class Load {
  private readonly agent: http.Agent;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly failed: string[] = [];
  private readonly latencies: number[] = [];
  private sent = 0;
  private timer?: NodeJS.Timeout;
  private t0 = 0;
  private finished!: () => void;
  private readonly done = new Promise<void>((r) => (this.finished = r));

  constructor(private readonly o: LoadOptions) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: o.sockets ?? 16 });
  }

  start(): this {
    this.t0 = performance.now();
    // Ticks every 5 ms send what is due since the start: the rate holds even when a tick is late.
    this.timer = setInterval(() => {
      const due = Math.min(this.o.maxRequests, Math.floor(((performance.now() - this.t0) * this.o.rate) / 1000));
      while (this.sent < due) this.send(this.sent++);
      if (this.sent >= this.o.maxRequests) this.halt();
    }, 5);
    return this;
  }

  /** Requests sent so far and failures so far (while running). */
  get progress(): { sent: number; failed: number } {
    return { sent: this.sent, failed: this.failed.length };
  }

  private halt(): void {
    clearInterval(this.timer);
    this.finished();
  }

  /** Stops sending, waits for every request in flight, and tells what happened to each. */
  async stop(): Promise<LoadResult> {
    this.halt();
    await this.done;
    await Promise.all(this.inFlight);
    this.agent.destroy();
    return { requests: this.sent, failed: this.failed, latenciesMs: this.latencies, p99Ms: quantile(this.latencies, 0.99) };
  }

  /** Runs until maxRequests are sent (maxRequests / rate seconds), then as stop(). */
  async completed(): Promise<LoadResult> {
    await this.done;
    return this.stop();
  }

  private send(i: number): void {
    const { port, host = 'alpha.example.com', timeoutMs = 10_000 } = this.o;
    const path = typeof this.o.path === 'function' ? this.o.path(i) : (this.o.path ?? '/');
    const ok = this.o.ok ?? ((res) => res.statusCode === 200);
    const started = performance.now();
    const p = new Promise<void>((resolve) => {
      let settled = false;
      const settle = (failure?: string) => {
        if (settled) return;
        settled = true;
        if (failure) this.failed.push(failure);
        else this.latencies.push(performance.now() - started);
        resolve();
      };
      const req = http.get({ host: '127.0.0.1', port, path, agent: this.agent, headers: { host } }, (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (d: string) => (body += d.length < 4096 ? d : ''));
        res.on('end', () => settle(ok(res, body) ? undefined : `${res.statusCode} ${res.headers['x-envoy-response-flags'] ?? ''}`.trim()));
        res.on('error', (err) => settle(`response ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      });
      req.setTimeout(timeoutMs, () => (req.destroy(), settle('timeout')));
      req.on('error', (err) => settle((err as NodeJS.ErrnoException).code ?? err.message));
    });
    this.inFlight.add(p);
    void p.then(() => this.inFlight.delete(p));
  }
}

/** What keep-alive clients saw: the 200s (and their latencies), the answers that said `Connection: close`, the errors. */
export interface KeepAliveOutcome {
  ok: number;
  closeSaid: number;
  errors: string[];
  latencies: number[];
}

/**
 * One keep-alive client sending requests one after another, each to the port `target()` names at
 * `path()`, until `until` (epoch ms); with `timeoutMs`, a request not answered by then is an error.
 */
export async function keepAliveClient(
  target: () => number,
  path: () => string,
  until: number,
  out: KeepAliveOutcome,
  timeoutMs?: number,
): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    while (Date.now() < until) {
      const started = performance.now();
      await new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: target(), path: path(), agent, headers: { host: 'alpha.example.com' } }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) out.ok++, out.latencies.push(performance.now() - started);
            else out.errors.push(`status ${res.statusCode}`);
            if (res.headers.connection === 'close') out.closeSaid++;
            resolve();
          });
        });
        if (timeoutMs !== undefined) req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
        req.on('error', (err) => (out.errors.push((err as NodeJS.ErrnoException).code ?? err.message), resolve()));
      });
    }
  } finally {
    agent.destroy();
  }
}

/** Failures grouped by reason, for a readable assertion message. */
export function reasons(failed: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of failed) out[f] = (out[f] ?? 0) + 1;
  return out;
}
