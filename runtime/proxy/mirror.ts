/**
 * Traffic mirroring (VirtualService `mirror`): a fire-and-forget copy of a request sent to the
 * mirror cluster, its body copied chunk by chunk as the main request's streams; its response is
 * read (so the connection can be reused) and dropped. The shadow's answers are the mirror
 * target's to get wrong: none reaches the client. A copy never slows the request it copies: when
 * the mirror cannot take the body as fast as it comes (more than MAX_MIRROR_BUFFERED_BYTES held
 * for it), the copy is dropped, its connection closed, and `mast_mirror_dropped_total` counts it.
 */
import { BodyFraming } from './http/body';
import { headEnd, parseResponseHead } from './http/head';
import type { Metrics } from './metrics';
import type { MirrorBody } from './request/context';
import type { Cluster, Endpoint } from './upstream/cluster';
import type { UpstreamConn } from './upstream/conn';

/** Body bytes a mirror copy may hold: waiting for its connection, or unsent in its socket. */
export const MAX_MIRROR_BUFFERED_BYTES = 256 * 1024;

/** Sends the copy; with `withBody`, the body's chunks to come go to what it returns. */
export function mirror(
  cluster: Cluster | undefined,
  method: string,
  head: string,
  maxHeadBytes: number,
  metrics: Metrics,
  withBody = false,
): MirrorBody | undefined {
  const endpoint = cluster?.pick();
  if (!cluster || !endpoint) return undefined;
  metrics.inc('mast_mirror_requests_total');
  const copy = new MirrorCopy(cluster, endpoint, method, head, maxHeadBytes, metrics, withBody);
  cluster.acquire(endpoint, (r) => ('conn' in r ? copy.connected(r.conn) : copy.drop(false)));
  return withBody ? copy : undefined;
}

class MirrorCopy implements MirrorBody {
  private conn?: UpstreamConn;
  /** Body chunks that came before the connection. */
  private held: Buffer[] | null = [];
  private heldBytes = 0;
  private bodyDone: boolean;
  private over = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly endpoint: Endpoint,
    private readonly method: string,
    private readonly head: string,
    private readonly maxHeadBytes: number,
    private readonly metrics: Metrics,
    withBody: boolean,
  ) {
    this.bodyDone = !withBody;
  }

  /** A chunk of the main request's body, in order. */
  write(chunk: Buffer, last: boolean): void {
    if (this.over) return;
    if (last) this.bodyDone = true;
    const conn = this.conn;
    if (!conn) {
      this.heldBytes += chunk.length;
      if (this.heldBytes > MAX_MIRROR_BUFFERED_BYTES) return this.drop(true);
      this.held!.push(chunk);
      return;
    }
    // Unsent bytes pile up in the socket when the mirror reads slower than the client sends.
    if (conn.socket.writableLength + chunk.length > MAX_MIRROR_BUFFERED_BYTES) return this.drop(true);
    if (chunk.length) conn.socket.write(chunk);
  }

  connected(conn: UpstreamConn): void {
    // Dropped while it waited for a connection: unused, the connection goes back as it came.
    if (this.over) return this.cluster.release(this.endpoint, conn, true);
    this.conn = conn;
    let buf: Buffer | null = null;
    let framing: BodyFraming | undefined;
    conn.take({
      onData: (chunk) => {
        // A bad or endless head, bad chunked framing: all end this connection only (it was consumed outside any try once).
        try {
          while (!framing) {
            buf = buf ? Buffer.concat([buf, chunk]) : chunk;
            const end = headEnd(buf);
            if (end < 0) {
              if (buf.length > this.maxHeadBytes) this.release(false);
              return;
            }
            const head = parseResponseHead(buf, 0, end);
            chunk = buf.subarray(end);
            buf = null;
            // A 100 Continue (the copy carries the client's Expect) is not the answer: the final head follows.
            if (head.status >= 100 && head.status < 200 && head.status !== 101) {
              if (!chunk.length) return;
              continue;
            }
            framing = BodyFraming.forResponse(head, this.method);
          }
          framing.consume(chunk, 0, chunk.length);
        } catch {
          this.metrics.inc('mast_mirror_bad_responses_total');
          return this.release(false);
        }
        if (!framing.done) return;
        // Answered before the whole body was sent (an early 413, say): the rest is not sent, nor the connection reused.
        this.release(this.bodyDone && !framing.untilClose);
      },
      onEnd: () => this.release(false),
      onError: () => this.release(false),
    });
    const held = this.held!;
    this.held = null;
    conn.socket.write(this.head, 'latin1');
    for (const c of held) conn.socket.write(c);
  }

  abandon(): void {
    if (!this.bodyDone) this.drop(false);
  }

  /** The copy is given up: `overflow` when the mirror could not keep up (counted). */
  drop(overflow: boolean): void {
    if (this.over) return;
    if (overflow) this.metrics.inc('mast_mirror_dropped_total');
    if (this.conn) return this.release(false);
    this.over = true;
    this.held = null;
  }

  private release(reusable: boolean): void {
    if (this.over) return;
    this.over = true;
    this.held = null;
    const conn = this.conn!;
    conn.handler = undefined;
    this.cluster.release(this.endpoint, conn, reusable);
  }
}

/**
 * A copy of a body whose codec frames it itself (HTTP/2's DATA frames) sent to the mirror as
 * HTTP/1.1 chunked, its head saying `transfer-encoding: chunked`: each chunk framed, the last
 * chunk after the body's end.
 */
export function chunkedCopy(copy: MirrorBody): MirrorBody {
  return {
    write(chunk: Buffer, last: boolean): void {
      const parts: Buffer[] = [];
      if (chunk.length) parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'), chunk, CRLF);
      if (last) parts.push(LAST_CHUNK);
      copy.write(parts.length === 1 ? parts[0] : Buffer.concat(parts), last);
    },
    abandon: () => copy.abandon(),
  };
}

const CRLF = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
