/**
 * Telemetry items (spans, access log records) leave the proxy in batches, off the request path: a
 * bounded queue (an item that finds it full is dropped and counted), a batch sent when it reaches its
 * size or when the flush interval passes, one export in flight at a time. A collector that is down,
 * slow or refusing costs items (counted), never a request's latency nor the proxy's memory.
 */

export interface ExporterOptions {
  /** Items held at most; more are dropped. @default 2048 */
  readonly maxQueue?: number;
  /** Items per export request; a full batch is sent at once. @default 256 */
  readonly batchSize?: number;
  /** A partial batch waits at most this long. @default 1000 (Envoy's OpenTelemetry access logger's buffer_flush_interval is 1 s) */
  readonly flushMs?: number;
}

/** Counters named as the proxy's other metrics (`metrics.inc`). */
export type Count = (name: string, by: number) => void;

/** The counter names of one exporter: items the collector took, and items dropped by reason. */
export interface BatchCounters {
  readonly exported: string;
  readonly queueFull: string;
  readonly exportFailed: string;
}

/** Sends one encoded batch; calls back whether the collector took it. Never throws. */
export type Send<B> = ((body: B, done: (ok: boolean) => void) => void) & { close?: () => void };

/** `done` called once at most, whichever of a transport's outcomes (its answer, an error, a timeout) comes first. */
export function answerOnce(done: (ok: boolean) => void): (ok: boolean) => void {
  let answered = false;
  return (ok) => {
    if (answered) return;
    answered = true;
    done(ok);
  };
}

export class BatchExporter<T, B> {
  private queue: T[] = [];
  private inFlight = false;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly maxQueue: number;
  private readonly batchSize: number;
  private readonly flushMs: number;

  constructor(
    private readonly encode: (batch: readonly T[]) => B,
    private readonly send: Send<B>,
    private readonly count: Count,
    private readonly counters: BatchCounters,
    o: ExporterOptions = {},
  ) {
    this.maxQueue = o.maxQueue ?? 2048;
    this.batchSize = o.batchSize ?? 256;
    this.flushMs = o.flushMs ?? 1000;
  }

  /** Items waiting to be sent. */
  get pending(): number {
    return this.queue.length;
  }

  add(item: T): void {
    if (this.closed) return;
    if (this.queue.length >= this.maxQueue) return this.count(this.counters.queueFull, 1);
    this.queue.push(item);
    if (this.queue.length >= this.batchSize) this.flush();
    else this.arm();
  }

  /** The flush timer, unless one is set or a batch is in flight (its answer sends what follows). */
  private arm(): void {
    if (this.timer || this.inFlight) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.flushMs);
    // A pending batch never keeps a process alive (a drained proxy exits; close() sends what is left).
    this.timer.unref();
  }

  /** One batch out, if none is in flight; the rest follows when it is answered. */
  flush(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batch = this.queue.length <= this.batchSize ? this.queue : this.queue.slice(0, this.batchSize);
    this.queue = batch === this.queue ? [] : this.queue.slice(this.batchSize);
    this.inFlight = true;
    let body: B;
    try {
      body = this.encode(batch);
    } catch {
      return this.answered(batch.length, false);
    }
    this.send(body, (ok) => this.answered(batch.length, ok));
  }

  private answered(n: number, ok: boolean): void {
    this.inFlight = false;
    this.count(ok ? this.counters.exported : this.counters.exportFailed, n);
    if (this.queue.length >= this.batchSize || (this.closed && this.queue.length)) this.flush();
    else if (this.queue.length) this.arm();
    else if (this.closed) this.send.close?.();
  }

  /** No more items taken; what is queued is sent (best effort). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
    // Its connection goes once the last batch is answered.
    if (!this.inFlight) this.send.close?.();
  }
}
