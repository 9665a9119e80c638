/**
 * Plain TCP proxying: a connection to a TCP listener (a Gateway TCP server, a sidecar's
 * non-HTTP service port, an inbound connection that is not HTTP) is joined byte for byte to one
 * endpoint of its weighted destination; mTLS to a sidecar when the cluster says so. Each
 * connection counts in Istio's TCP metrics, under the labels of its series (metric-context.ts), and
 * leaves one record when it closes or is refused (tcp-record.ts: the access log's line).
 */
import * as net from 'node:net';
import { failureReason } from './failure-reason';
import { pickWeighted } from './routing';
import type { ClusterConfig, WeightedCluster } from '../contract/proxy-config';
import type { Cluster } from './upstream/cluster';
import type { Metrics, TcpSeries } from './metrics';
import { labelContext, type MetricOwner } from './metric-context';
import { tcpLabelPairs } from './metric-labels';
import { connectionAttributes, evaluate, groupOf, metricPlan, peerAttribute, shapeConnection, upstreamPeer } from './metric-overrides';
import { type ConnectionRecord, connectionClosed } from './tcp-record';

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

/** What a connection's record knows before it is joined: who it is for and what the client asked for. */
interface Opening {
  readonly owner: object;
  readonly inbound: boolean;
  readonly cluster: string;
  readonly upstream?: string;
  readonly local?: string;
  readonly principal?: string;
  readonly serverName?: string;
  /** The client as a PROXY header named it (`address:port`), when one came before the connection's bytes. */
  readonly remote?: string;
}

/** The record's client addresses: the PROXY header's source when there was one, the socket's peer beside it. */
function remotes(down: net.Socket, remote: string | undefined): { remote: string; directRemote?: string } {
  const direct = hostPort(down.remoteAddress, down.remotePort) ?? '';
  return remote === undefined || remote === direct ? { remote: direct } : { remote, directRemote: direct };
}

const hostPort = (address: string | undefined, port: number | undefined) => (address === undefined ? undefined : `${address}:${port ?? 0}`);

/** Where the client connected: where capture found it was sent, else the socket's own address (a port alone: on that address). */
function localOf(down: net.Socket, original: Downstream | undefined): string | undefined {
  if (original?.address !== undefined && original.port !== undefined) return `${original.address}:${original.port}`;
  return hostPort(down.localAddress, original?.port ?? down.localPort);
}

/**
 * A connection refused before any upstream (UH, NR, a BlackHoleCluster reset; an L4 authorization
 * denial, with its termination details): its record, with nothing sent either way.
 */
export function publishRefused(
  down: net.Socket,
  opening: Omit<Opening, 'cluster'> & { readonly cluster?: string; readonly terminationDetails?: string },
  flags: string,
): void {
  if (!connectionClosed.hasSubscribers) return;
  const record: ConnectionRecord = {
    ...opening,
    start: Date.now(),
    ms: 0,
    bytesIn: 0,
    bytesOut: 0,
    flags,
    ...remotes(down, opening.remote),
  };
  connectionClosed.publish(record);
}

/**
 * Joins two sockets both ways, counting bytes in `series` (sent: to the client; received: from it)
 * and in the connection's own record; either side closing closes both, and the record is published.
 * An upstream that fails before it connects is Envoy's UF.
 */
function join(series: TcpSeries, down: net.Socket, up: net.Socket, opening: Opening, first?: Buffer): void {
  series.opened++;
  const start = Date.now();
  // Read now: a destroyed socket has no addresses left to read at close.
  const clients = remotes(down, opening.remote);
  let upstreamLocal: string | undefined;
  let connected = false;
  let transportFailure: string | undefined;
  // An mTLS upstream is up once its handshake is done (a refused certificate is a connect failure, UF, as in Envoy).
  up.once((up as { encrypted?: boolean }).encrypted ? 'secureConnect' : 'connect', () => {
    connected = true;
    upstreamLocal = hostPort(up.localAddress, up.localPort);
  });
  up.once('error', (err) => {
    if (!connected) transportFailure = failureReason(err);
  });
  down.setNoDelay(true);
  if (first) up.write(first);
  let received = first?.length ?? 0;
  let sent = 0;
  series.received += received;
  down.on('data', (c: Buffer) => {
    series.received += c.length;
    received += c.length;
  });
  up.on('data', (c: Buffer) => {
    series.sent += c.length;
    sent += c.length;
  });
  down.pipe(up);
  up.pipe(down);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    down.destroy();
    up.destroy();
    series.closed++;
    if (!connectionClosed.hasSubscribers) return;
    const record: ConnectionRecord = {
      ...opening,
      start,
      ms: Date.now() - start,
      bytesIn: received,
      bytesOut: sent,
      flags: connected ? '-' : 'UF',
      upstreamLocal,
      ...clients,
      ...(transportFailure ? { transportFailure } : {}),
    };
    connectionClosed.publish(record);
  };
  down.on('error', close).on('close', close);
  up.on('error', close).on('close', close);
}

/** The series of a connection to `cluster`'s endpoint `upstream` (or none), as its reporter sees it. */
function seriesFor(ctx: TcpContext, cluster: ClusterConfig | undefined, upstream: string | undefined, peer?: TcpPeer): TcpSeries {
  const labels = labelContext(ctx);
  const group = cluster ?? PASSTHROUGH;
  const overrides = ctx.config?.metrics;
  const plan = overrides && (peer ? metricPlan(overrides).server : metricPlan(overrides).client);
  if (plan?.off) return unreported();
  const principal = peer?.principal;
  const key = peer ? `in|${principal ?? ''}` : (upstream ?? '');
  const series = () => ({
    ...(peer ? labels.destination(principal, labels.serviceIndex('')) : labels.source(cluster, upstream)),
    responseFlags: '-',
  });
  if (!plan) return ctx.metrics.tcpSeries(group, key, series);
  // A Telemetry's overrides: its expressions see what is known as the connection opens (the cluster,
  // the endpoint, the verified client, the peers; no bytes yet).
  let values: string[] = [];
  if (plan.expressions.length) {
    const opening: ConnectionRecord = {
      owner: ctx,
      inbound: peer !== undefined,
      cluster: group.name,
      upstream,
      principal,
      start: 0,
      ms: 0,
      bytesIn: 0,
      bytesOut: 0,
      flags: '-',
      remote: '',
    };
    const peers = peer
      ? { downstream: plan.roots.includes('downstream_peer') ? peerAttribute(labels.peerOf(principal)) : undefined }
      : { upstream: plan.roots.includes('upstream_peer') && upstream ? upstreamPeer(group, upstream) : undefined };
    values = evaluate(plan, connectionAttributes(plan, opening, peers));
  }
  return ctx.metrics.tcpSeries(groupOf(plan, group), values.length ? `${key}\0${values.join('\0')}` : key, () =>
    shapeConnection(plan, tcpLabelPairs(series()), values),
  );
}

/** Counts no Istio metric has (a side whose metrics a Telemetry turned off). */
const unreported = (): TcpSeries => ({ labels: '', opened: 0, closed: 0, sent: 0, received: 0 });

/** A captured connection to somewhere outside the mesh, sent on where the app meant it to go (Istio's PassthroughCluster). */
export function passthroughTcp(ctx: TcpContext, down: net.Socket, dst: { address: string; port: number }, serverName?: string): void {
  const target = `${dst.address}:${dst.port}`;
  const opening = { owner: ctx, inbound: false, cluster: PASSTHROUGH.name, upstream: target, local: target, serverName };
  join(seriesFor(ctx, PASSTHROUGH, undefined), down, net.connect({ host: dst.address, port: dst.port }), opening);
}

/** REGISTRY_ONLY: a captured connection to somewhere the mesh does not know is reset (Istio's BlackHoleCluster), never sent on. */
export function blackHoleTcp(ctx: TcpContext, down: net.Socket, dst?: { address: string; port: number }, serverName?: string): void {
  const series = seriesFor(ctx, BLACKHOLE, undefined);
  series.opened++;
  series.closed++;
  // Envoy's BlackHoleCluster has no hosts: its tcp_proxy logs the connection as UH.
  publishRefused(down, { owner: ctx, inbound: false, cluster: BLACKHOLE.name, local: localOf(down, dst), serverName }, 'UH');
  down.resetAndDestroy();
}

/** A connection no filter chain takes (a gateway TLS port with no server for its name): Envoy's listener log, NR. */
export function noFilterChainTcp(ctx: TcpContext, down: net.Socket, serverName?: string): void {
  ctx.metrics.inc(`mast_tcp_connections_refused_total{destination_service="unknown",response_flags="NR"}`);
  publishRefused(down, { owner: ctx, inbound: false, local: localOf(down, undefined), serverName }, 'NR');
  down.destroy();
}

/** What the client asked for: where a captured connection was sent, the TLS server name it gave; who it is behind a PROXY-protocol balancer. */
export interface Downstream {
  readonly port?: number;
  readonly address?: string;
  readonly serverName?: string;
  /** The PROXY header's source, `address:port`. */
  readonly remote?: string;
}

/**
 * Joins `down` to an upstream; `original`: where a captured connection was sent (a passthrough
 * cluster's endpoint) and its server name; `first` holds bytes already read from it (a sniffed
 * first chunk); `peer` for a sidecar's inbound.
 */
export function proxyTcp(
  ctx: TcpContext,
  down: net.Socket,
  destinations: readonly WeightedCluster[],
  original?: Downstream,
  first?: Buffer,
  peer?: TcpPeer,
): void {
  const dest = pickWeighted(destinations, Math.random());
  const cluster = dest && ctx.cluster(dest.cluster);
  const endpoint = cluster?.pick({ originalPort: original?.port, originalAddress: original?.address });
  const opening = {
    owner: ctx,
    inbound: peer !== undefined,
    local: localOf(down, original),
    principal: peer?.principal,
    serverName: original?.serverName,
    remote: original?.remote,
  };
  if (!cluster || !endpoint) {
    const service = cluster?.config.host ?? 'unknown';
    ctx.metrics.inc(`mast_tcp_connections_refused_total{destination_service="${service}",response_flags="UH"}`);
    publishRefused(down, { ...opening, cluster: cluster?.config.name }, 'UH');
    return void down.destroy();
  }
  const upstream = endpoint.key;
  join(
    seriesFor(ctx, cluster.config, upstream, peer),
    down,
    cluster.connect(endpoint),
    { ...opening, cluster: cluster.config.name, upstream },
    first,
  );
}

/** Whether the first bytes of a connection look like an HTTP/1 request line (a method, a space). */
export const looksLikeHttp = (first: Buffer): boolean => /^[A-Z]{3,10} /.test(first.subarray(0, 11).toString('latin1'));
