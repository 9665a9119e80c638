/**
 * Plain TCP proxying: a connection to a TCP listener (a Gateway TCP server, a sidecar's
 * non-HTTP service port, an inbound connection that is not HTTP) is joined byte for byte to one
 * endpoint of its weighted destination; mTLS to a sidecar when the cluster says so. Each
 * connection counts in Istio's TCP metrics, under the labels of its series (metric-context.ts).
 */
import * as net from 'node:net';
import { pickWeighted } from './routing';
import type { ClusterConfig, WeightedCluster } from '../contract/proxy-config';
import type { Cluster } from './upstream/cluster';
import type { Metrics, TcpSeries } from './metrics';
import { labelContext, type MetricOwner } from './metric-context';

export interface TcpContext extends MetricOwner {
  readonly metrics: Metrics;
  cluster(name: string): Cluster | undefined;
}

/** An inbound connection's verified client (a sidecar's inbound: reporter="destination"). */
export interface TcpPeer {
  readonly principal?: string;
}

/** Where a passthrough connection goes, as the metrics see it: the same object always, so its series is looked up, not labelled, per connection. */
const PASSTHROUGH: ClusterConfig = {
  name: 'PassthroughCluster',
  host: '',
  port: 0,
  endpoints: [],
  lb: { kind: 'passthrough' },
  connectTimeoutMs: 0,
};

/** Where a REGISTRY_ONLY sidecar's connections to unknown destinations go: nowhere, counted as Istio counts its BlackHoleCluster. */
const BLACKHOLE: ClusterConfig = { ...PASSTHROUGH, name: 'BlackHoleCluster' };

/** Joins two sockets both ways, counting bytes in `series` (sent: to the client; received: from it); either side closing closes both. */
function join(series: TcpSeries, down: net.Socket, up: net.Socket, first?: Buffer): void {
  series.opened++;
  down.setNoDelay(true);
  if (first) up.write(first);
  series.received += first?.length ?? 0;
  down.on('data', (c: Buffer) => (series.received += c.length));
  up.on('data', (c: Buffer) => (series.sent += c.length));
  down.pipe(up);
  up.pipe(down);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    down.destroy();
    up.destroy();
    series.closed++;
  };
  down.on('error', close).on('close', close);
  up.on('error', close).on('close', close);
}

/** The series of a connection to `cluster`'s endpoint `upstream` (or none), as its reporter sees it. */
function seriesFor(ctx: TcpContext, cluster: ClusterConfig | undefined, upstream: string | undefined, peer?: TcpPeer): TcpSeries {
  const labels = labelContext(ctx);
  const group = cluster ?? PASSTHROUGH;
  if (peer) {
    const principal = peer.principal;
    return ctx.metrics.tcpSeries(group, `in|${principal ?? ''}`, () => ({
      ...labels.destination(principal, labels.serviceIndex('')),
      responseFlags: '-',
    }));
  }
  return ctx.metrics.tcpSeries(group, upstream ?? '', () => ({ ...labels.source(cluster, upstream), responseFlags: '-' }));
}

/** A captured connection to somewhere outside the mesh, sent on where the app meant it to go (Istio's PassthroughCluster). */
export function passthroughTcp(ctx: TcpContext, down: net.Socket, dst: { address: string; port: number }): void {
  join(seriesFor(ctx, PASSTHROUGH, undefined), down, net.connect({ host: dst.address, port: dst.port }));
}

/** REGISTRY_ONLY: a captured connection to somewhere the mesh does not know is reset (Istio's BlackHoleCluster), never sent on. */
export function blackHoleTcp(ctx: TcpContext, down: net.Socket): void {
  const series = seriesFor(ctx, BLACKHOLE, undefined);
  series.opened++;
  series.closed++;
  down.resetAndDestroy();
}

/**
 * Joins `down` to an upstream; `original`: where a captured connection was sent (a passthrough
 * cluster's endpoint); `first` holds bytes already read from it (a sniffed first chunk); `peer` for
 * a sidecar's inbound.
 */
export function proxyTcp(
  ctx: TcpContext,
  down: net.Socket,
  destinations: readonly WeightedCluster[],
  original?: { readonly port?: number; readonly address?: string },
  first?: Buffer,
  peer?: TcpPeer,
): void {
  const dest = pickWeighted(destinations, Math.random());
  const cluster = dest && ctx.cluster(dest.cluster);
  const endpoint = cluster?.pick({ originalPort: original?.port, originalAddress: original?.address });
  if (!cluster || !endpoint) {
    const service = cluster?.config.host ?? 'unknown';
    ctx.metrics.inc(`mast_tcp_connections_refused_total{destination_service="${service}",response_flags="UH"}`);
    return void down.destroy();
  }
  join(seriesFor(ctx, cluster.config, endpoint.key, peer), down, cluster.connect(endpoint), first);
}

/** Whether the first bytes of a connection look like an HTTP/1 request line (a method, a space). */
export const looksLikeHttp = (first: Buffer): boolean => /^[A-Z]{3,10} /.test(first.subarray(0, 11).toString('latin1'));
