/**
 * A try over HTTP/1.1 for an HTTP/2 stream's request (the common browser → gateway → app case):
 * a pooled keep-alive connection from the cluster, the head written in one string, the body
 * chunked unless its length is known, the response head parsed and its body unframed (chunked
 * or by length) into the stream. The connection goes back to the pool when the response ended
 * cleanly.
 */
import { failureReason } from '../failure-reason';
import { BodyFraming } from '../http/body';
import { headEnd, parseResponseHead } from '../http/head';
import type { Cluster, Endpoint } from '../upstream/cluster';
import type { ConnHandler, UpstreamConn } from '../upstream/conn';
import { Dechunker } from './dechunk';
import { HOP_BY_HOP, type HeaderList, type UpstreamRequest } from './headers';
import type { TryOwner, UpstreamTry } from './upstream-try';

/** The request head for an HTTP/1.1 upstream (or a mirror's copy); `length`, the body's length when the client said it. */
export function requestHead(r: UpstreamRequest, hasBody: boolean, length: string | undefined): string {
  let head = `${r.method} ${r.path} HTTP/1.1\r\nhost: ${r.authority}\r\n`;
  for (const [n, v] of r.headers) if (n !== 'content-length') head += `${n}: ${v}\r\n`;
  // The one TE an HTTP/1.1 upstream is told too (Envoy keeps `te: trailers`): gRPC's.
  if (r.teTrailers) head += 'te: trailers\r\n';
  if (length !== undefined) head += `content-length: ${length}\r\n`;
  else if (hasBody) head += 'transfer-encoding: chunked\r\n';
  return `${head}\r\n`;
}

/** Fields that never travel as trailers across the codecs: connection-specific, framing, routing and payload ones (RFC 9113 §8.2.2, RFC 9110 §6.5.1). */
const NOT_TRAILERS: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'content-length', 'content-type', 'content-encoding']);

/** The trailer fields that may cross a hop (those of NOT_TRAILERS left out). */
export const trailerFields = (list: HeaderList): HeaderList => list.filter(([n]) => !NOT_TRAILERS.has(n));

export class H1Try implements UpstreamTry, ConnHandler {
  onDrain?: () => void;
  private conn?: UpstreamConn;
  private buf: Buffer | null = null;
  private framing?: BodyFraming;
  private dechunk?: Dechunker;
  private done = false;
  private bodyEnded = false;
  private readonly chunked: boolean;

  constructor(
    private readonly cluster: Cluster,
    private readonly endpoint: Endpoint,
    private readonly owner: TryOwner,
    private readonly req: UpstreamRequest,
    private readonly hasBody: boolean,
    private readonly length: string | undefined,
    /** No connection could be had: no endpoint (UH), or the pool is full (UO). */
    private readonly refused: (flag: 'UH' | 'UO') => void,
  ) {
    this.chunked = hasBody && length === undefined;
  }

  get endpointKey(): string {
    return this.endpoint.key;
  }

  /** A pooled connection (at once when one is idle), or an answer from the cluster that none can be had. */
  start(): void {
    const idle = this.cluster.takeIdle(this.endpoint);
    if (idle) return this.send(idle);
    this.cluster.acquire(this.endpoint, (r) => {
      if (this.done) {
        if ('conn' in r) this.cluster.release(r.endpoint, r.conn, true);
        return;
      }
      if ('error' in r) return this.refused(r.error === 'overflow' ? 'UO' : 'UH');
      this.send(r.conn);
    });
  }

  private send(conn: UpstreamConn): void {
    this.conn = conn;
    this.endpoint.active++;
    this.endpoint.requests++;
    conn.take(this);
    conn.socket.write(requestHead(this.req, this.hasBody, this.length), 'latin1');
    conn.socket.on('drain', this.drained);
    this.owner.ready();
  }

  private readonly drained = () => this.onDrain?.();

  write(chunk: Buffer): boolean {
    const socket = this.conn!.socket;
    if (!this.chunked) return socket.write(chunk);
    if (chunk.length === 0) return true;
    socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    socket.write(chunk);
    return socket.write('\r\n', 'latin1');
  }

  endBody(trailers?: HeaderList): void {
    if (this.bodyEnded) return;
    this.bodyEnded = true;
    if (!this.chunked) return;
    // The client's trailers as chunked trailer fields (a body sent with a length has no place for them: dropped, as Envoy does).
    let last = '0\r\n';
    for (const [n, v] of trailerFields(trailers ?? [])) last += `${n}: ${v}\r\n`;
    this.conn?.socket.write(`${last}\r\n`, 'latin1');
  }

  /** The response is chunked: trailers may follow its body. */
  get mayHaveTrailers(): boolean {
    return this.dechunk !== undefined;
  }

  resume(): void {
    this.conn?.socket.resume();
  }

  onData(chunk: Buffer): void {
    if (this.framing) return this.body(chunk, 0);
    const buf = (this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk);
    const end = headEnd(buf);
    if (end < 0) return buf.length > 64 * 1024 ? this.fail('UC', 502, 'reset') : undefined;
    let head: ReturnType<typeof parseResponseHead>;
    try {
      head = parseResponseHead(buf, 0, end);
    } catch {
      return this.fail('UC', 502, 'reset');
    }
    this.buf = null;
    // 1xx (100 Continue): HTTP/2 has its own; the stream's response is the final one.
    if (head.status < 200) {
      if (head.status === 101) return this.fail('UC', 502, 'reset');
      return end < buf.length ? this.onData(buf.subarray(end)) : undefined;
    }
    const framing = (this.framing = BodyFraming.forResponse(head, this.req.method));
    if (head.chunked) this.dechunk = new Dechunker();
    const pairs: HeaderList = [];
    for (let i = 0; i < head.headers.length; i += 2) {
      const n = head.headers[i];
      if (n !== 'connection' && n !== 'keep-alive' && n !== 'transfer-encoding' && n !== 'proxy-connection' && n !== 'upgrade')
        pairs.push([n, head.headers[i + 1]]);
    }
    this.keepAlive = head.keepAlive;
    if (!this.owner.head(head.status, pairs, framing.done)) return;
    if (framing.done) return this.finish(end === buf.length);
    if (end < buf.length) this.body(buf, end);
  }

  private keepAlive = false;

  private body(buf: Buffer, start: number): void {
    const framing = this.framing!;
    let end: number;
    try {
      end = framing.consume(buf, start, buf.length);
    } catch {
      return this.fail('UC', 502, 'reset');
    }
    const bytes = framing.forwarded(buf, start, end);
    let more = true;
    if (this.dechunk) for (const part of this.dechunk.take(bytes)) more = this.owner.data(part) && more;
    else if (bytes.length) more = this.owner.data(bytes);
    if (this.done) return;
    if (!more) this.conn?.socket.pause();
    if (!framing.done) return;
    const trailers = framing.trailers;
    if (trailers) this.owner.trailers(trailerFields(trailers));
    this.finish(end === buf.length);
  }

  private finish(clean: boolean): void {
    this.release(clean && this.keepAlive && this.bodyEnded);
    this.owner.end();
  }

  onEnd(): void {
    if (this.framing?.untilClose && !this.done) this.finish(false);
  }

  onError(err: Error, connected: boolean): void {
    if (this.done) return;
    if (this.framing?.untilClose) return this.finish(false);
    const code = (err as NodeJS.ErrnoException).code;
    const connectFailure = code === 'ECONNREFUSED' || !connected;
    if (connectFailure) this.fail('UF', 503, 'connect-failure', failureReason(err));
    else this.fail('UC', 503, 'reset');
  }

  private fail(flag: 'UC' | 'UF', status: number, reason: 'reset' | 'connect-failure', transportFailure?: string): void {
    this.release(false);
    this.owner.failed(flag, status, reason, transportFailure);
  }

  cancel(): void {
    this.release(false);
  }

  private release(reusable: boolean): void {
    if (this.done) return;
    this.done = true;
    const conn = this.conn;
    if (!conn) return;
    this.conn = undefined;
    conn.socket.off('drain', this.drained);
    this.endpoint.active--;
    conn.handler = undefined;
    this.cluster.release(this.endpoint, conn, reusable);
  }
}
