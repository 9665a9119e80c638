/**
 * Plain TCP proxying: a connection to a TCP listener (a Gateway TCP server, a sidecar's
 * non-HTTP service port, an inbound connection that is not HTTP) is joined byte for byte to one
 * endpoint of its weighted destination; mTLS to a sidecar when the cluster says so.
 */
import * as net from 'node:net';
import { pickWeighted } from './routing';
import type { WeightedCluster } from '../contract/proxy-config';
import type { Cluster } from './upstream/cluster';
import type { Metrics } from './metrics';

export interface TcpContext {
  readonly metrics: Metrics;
  cluster(name: string): Cluster | undefined;
}

/** Joins two sockets both ways, counting bytes; either side closing closes both. */
function join(ctx: TcpContext, down: net.Socket, up: net.Socket, labels: string, first?: Buffer): void {
  ctx.metrics.inc(`istio_tcp_connections_opened_total${labels}`);
  down.setNoDelay(true);
  if (first) up.write(first);
  let sent = first?.length ?? 0;
  let received = 0;
  down.on('data', (c: Buffer) => (sent += c.length));
  up.on('data', (c: Buffer) => (received += c.length));
  down.pipe(up);
  up.pipe(down);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    down.destroy();
    up.destroy();
    ctx.metrics.inc(`istio_tcp_connections_closed_total${labels}`);
    ctx.metrics.inc(`istio_tcp_sent_bytes_total${labels}`, sent);
    ctx.metrics.inc(`istio_tcp_received_bytes_total${labels}`, received);
  };
  down.on('error', close).on('close', close);
  up.on('error', close).on('close', close);
}

/** A captured connection to somewhere outside the mesh, sent on where the app meant it to go (Istio's PassthroughCluster). */
export function passthroughTcp(ctx: TcpContext, down: net.Socket, dst: { address: string; port: number }): void {
  join(ctx, down, net.connect({ host: dst.address, port: dst.port }), '{reporter="source",destination_service="PassthroughCluster"}');
}

/** REGISTRY_ONLY: a captured connection to somewhere the mesh does not know is reset (Istio's BlackHoleCluster), never sent on. */
export function blackHoleTcp(ctx: TcpContext, down: net.Socket): void {
  ctx.metrics.inc('istio_tcp_connections_opened_total{reporter="source",destination_service="BlackHoleCluster"}');
  down.resetAndDestroy();
}

/** Joins `down` to an upstream; `first` holds bytes already read from it (a sniffed first chunk). */
export function proxyTcp(
  ctx: TcpContext,
  down: net.Socket,
  destinations: readonly WeightedCluster[],
  originalPort?: number,
  first?: Buffer,
): void {
  const dest = pickWeighted(destinations, Math.random());
  const cluster = dest && ctx.cluster(dest.cluster);
  const endpoint = cluster?.pick({ originalPort });
  const service = cluster?.config.host ?? 'unknown';
  if (!cluster || !endpoint) {
    ctx.metrics.inc(`istio_tcp_connections_refused_total{destination_service="${service}",response_flags="UH"}`);
    return void down.destroy();
  }
  join(ctx, down, cluster.connect(endpoint), `{reporter="source",destination_service="${service}"}`, first);
}

/** Whether the first bytes of a connection look like an HTTP/1 request line (a method, a space). */
export const looksLikeHttp = (first: Buffer): boolean => /^[A-Z]{3,10} /.test(first.subarray(0, 11).toString('latin1'));
