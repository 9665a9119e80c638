/**
 * Traffic mirroring (VirtualService `mirror`): a fire-and-forget copy of a bodiless request sent
 * to the mirror cluster; its response is read (so the connection can be reused) and dropped.
 * The shadow's answers are the mirror target's to get wrong: none reaches the client.
 */
import { BodyFraming } from './http/body';
import { headEnd, parseResponseHead } from './http/head';
import type { Metrics } from './metrics';
import type { Cluster } from './upstream/cluster';

export function mirror(cluster: Cluster | undefined, method: string, head: string, maxHeadBytes: number, metrics: Metrics): void {
  const endpoint = cluster?.pick();
  if (!cluster || !endpoint) return;
  metrics.inc('mast_mirror_requests_total');
  cluster.acquire(endpoint, (r) => {
    if (!('conn' in r)) return;
    let buf: Buffer | null = null;
    let framing: BodyFraming | undefined;
    const release = (ok: boolean) => {
      r.conn.handler = undefined;
      cluster.release(endpoint, r.conn, ok);
    };
    r.conn.take({
      onData: (chunk) => {
        // A bad or endless head, bad chunked framing: all end this connection only (it was consumed outside any try once).
        try {
          if (!framing) {
            buf = buf ? Buffer.concat([buf, chunk]) : chunk;
            const end = headEnd(buf);
            if (end < 0) {
              if (buf.length > maxHeadBytes) release(false);
              return;
            }
            framing = BodyFraming.forResponse(parseResponseHead(buf, 0, end), method);
            chunk = buf.subarray(end);
          }
          framing.consume(chunk, 0, chunk.length);
        } catch {
          metrics.inc('mast_mirror_bad_responses_total');
          return release(false);
        }
        if (framing.done) release(!framing.untilClose);
      },
      onEnd: () => release(false),
      onError: () => undefined,
    });
    r.conn.socket.write(head, 'latin1');
  });
}
