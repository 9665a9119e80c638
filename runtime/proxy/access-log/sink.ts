/**
 * Where access log lines go: one sink per path (the proxy's stdout or stderr, or a file appended to),
 * shared by every log of the proxy writing there. Lines leave together: every flushMs or once 64 KiB
 * are buffered (Istio's ProxyConfig defaults, fileFlushInterval 1000 ms and fileFlushMinSizeKb 64, for
 * Envoy's file access logs), so a busy proxy writes a few times a second, not once per request; with
 * flushMs 0, once per turn of the loop. A sink that cannot keep up (a stdout pipe nobody reads, a slow
 * disk) costs log lines, counted, never the proxy's memory nor its requests' latency.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';

/** Access log bytes a sink may have queued (written, not yet taken) before lines are dropped. */
export const ACCESS_LOG_MAX_PENDING_BYTES = 1024 * 1024;
/** Buffered access log bytes that are written at once, without waiting for the timer (Envoy's minimum flush size). */
export const ACCESS_LOG_FLUSH_BYTES = 64 * 1024;

export class LogSink {
  private buffer: string[] = [];
  /** Characters in `buffer` (the lines are ASCII, mostly). */
  private bytes = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly out: Writable,
    private readonly flushMs: () => number,
    private readonly dropped: () => void,
  ) {}

  /** One line (without its newline), buffered; false when dropped. */
  push(line: string): boolean {
    if (this.out.writableLength + this.bytes > ACCESS_LOG_MAX_PENDING_BYTES) {
      this.dropped();
      return false;
    }
    this.buffer.push(line);
    this.bytes += line.length + 1;
    if (this.bytes >= ACCESS_LOG_FLUSH_BYTES) this.flush();
    else if (this.buffer.length === 1) {
      const ms = this.flushMs();
      if (ms > 0) (this.timer = setTimeout(() => this.flush(), ms)).unref();
      else setImmediate(() => this.flush());
    }
    return true;
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const lines = this.buffer;
    this.buffer = [];
    this.bytes = 0;
    this.out.write(`${lines.join('\n')}\n`);
  }
}

/** The stream of a path: the proxy's own stdout and stderr, or a file appended to (a file that cannot be written loses lines, not the proxy). */
export function streamOf(path: string): Writable {
  if (path === '/dev/stdout' || path === '-') return process.stdout;
  if (path === '/dev/stderr') return process.stderr;
  const file = createWriteStream(path, { flags: 'a' });
  file.on('error', (err) => console.error(`mast-proxy: access log ${path}: ${err.message}`));
  return file;
}
