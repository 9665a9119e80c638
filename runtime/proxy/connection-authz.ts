/**
 * L4 authorization: a connection that is not HTTP (a sidecar's inbound TCP, a gateway's TCP or TLS
 * passthrough port) is checked against its listener's AuthorizationPolicies before a byte of it
 * goes upstream; a denied one is closed, counted and access-logged. On a listener behind a load balancer that
 * sends PROXY protocol, the header is read (and taken off the stream) first: its source is the
 * original client that `remoteIpBlocks` match.
 */
import type * as net from 'node:net';
import { authorizeConnection, type AuthzConfig, type AuthzConnection, rbacDeniedDetails } from '../contract/authz';
import { dryRun } from '../contract/authz-dry-run';
import type { ListenerConfig } from '../contract/proxy-config';
import { dryRunCounter } from './dry-run-report';
import { parseProxyV2 } from './http/proxy-protocol';
import { containPeerInput } from './contain';
import type { Metrics } from './metrics';
import { publishRefused } from './tcp';

export interface GateContext {
  readonly metrics: Metrics;
  readonly limits: { readonly headerTimeoutMs: number };
}

/** What a denied connection's access log record says beside the socket's own addresses. */
export interface DeniedConnection {
  /** Where the client connected (a captured original destination), `address:port`. */
  readonly local?: string;
  /** The client as a PROXY header named it, `address:port`. */
  readonly remote?: string;
  readonly serverName?: string;
}

/**
 * Whether the connection may go on; a denied one is destroyed here (and its TLS layer with it),
 * counted, and access-logged as Envoy's network RBAC filter leaves it: no upstream, flags `-`,
 * `connection_termination_details` `rbac_access_denied_matched_policy[...]`. The dry-run policies'
 * outcomes are counted first, as that filter's shadow rules (`inbound`: a sidecar's inbound
 * listener, for the counter's name and the log's side).
 */
export function admitConnection(
  ctx: GateContext,
  sockets: readonly net.Socket[],
  authz: AuthzConfig | undefined,
  c: AuthzConnection,
  inbound = false,
  denied: DeniedConnection = {},
): boolean {
  if (!authz) return true;
  for (const result of dryRun(authz, c, 'tcp') ?? []) ctx.metrics.inc(dryRunCounter('tcp', inbound, c.port, result));
  const decision = authorizeConnection(authz, c);
  if (decision.allowed) return true;
  ctx.metrics.inc(`mast_tcp_connections_denied_total{destination_port="${c.port}",policy="${decision.policy}"}`);
  // The TCP socket (the last: under a TLS layer) has the addresses.
  const raw = sockets[sockets.length - 1];
  publishRefused(
    raw,
    {
      owner: ctx,
      inbound,
      local: denied.local ?? (raw.localAddress === undefined ? undefined : `${raw.localAddress}:${raw.localPort}`),
      ...(denied.remote ? { remote: denied.remote } : {}),
      ...(denied.serverName ? { serverName: denied.serverName } : {}),
      ...(c.principal ? { principal: c.principal } : {}),
      terminationDetails: rbacDeniedDetails(decision.policy),
    },
    '-',
  );
  for (const s of sockets) s.destroy();
  return false;
}

/**
 * The port AuthorizationPolicy `ports` and `destination.port` name: at a gateway the port the proxy
 * listens on (the Service's targetPort, e.g. 8080 for 80: Envoy's listener port, which is what
 * Istio-written policies say), elsewhere the port the connection was sent to (an inbound app port).
 * A gateway listener on an unspecified port (0: tests) has only its Gateway port to offer.
 */
export const authzPort = (listener: ListenerConfig | undefined, port: number): number =>
  listener && !listener.trafficDirection && listener.port > 0 ? listener.port : port;

/**
 * A gateway's TCP-level listener: the PROXY header when one is expected, then authorization;
 * `then` gets the bytes read past the header (the socket is paused, its consumer resumes it) and
 * the header's source as `address:port` (the client the access log names).
 */
export function gateConnection(
  ctx: GateContext,
  socket: net.Socket,
  config: ListenerConfig | undefined,
  port: number,
  then: (first?: Buffer, remote?: string) => void,
): void {
  const peer = socket.remoteAddress ?? '';
  const check = (client: string, first?: Buffer, remote?: string) => {
    const c = { port: authzPort(config, port), sourceIp: peer, remoteIp: client };
    if (admitConnection(ctx, [socket], config?.authz, c, false, remote ? { remote } : {})) then(first, remote);
  };
  if (!config?.proxyProtocol) return check(peer);
  readProxyHeader(ctx, socket, (source, rest, sourcePort) =>
    check(source ?? peer, rest, source === undefined ? undefined : `${source}:${sourcePort ?? 0}`),
  );
}

/** Reads a PROXY protocol v2 header off `socket`; a connection without one is refused (as on HTTP ports). */
export function readProxyHeader(
  ctx: GateContext,
  socket: net.Socket,
  then: (source: string | undefined, rest: Buffer | undefined, sourcePort?: number) => void,
): void {
  let buf = Buffer.alloc(0);
  socket.setTimeout(ctx.limits.headerTimeoutMs, () => socket.destroy());
  const fail = () => {
    ctx.metrics.inc('mast_downstream_rejected_total{reason="proxy_protocol"}');
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    let header: ReturnType<typeof parseProxyV2>;
    try {
      header = parseProxyV2(buf);
    } catch {
      // Not a header (ProxyProtocolError), or anything else a peer's bytes provoke: this connection only.
      socket.off('data', onData);
      return fail();
    }
    if (!header.done) return;
    socket.off('data', onData);
    socket.pause();
    socket.setTimeout(0);
    const rest = header.length < buf.length ? buf.subarray(header.length) : undefined;
    // What follows (authorization, the first bytes' routing) runs on the peer's bytes too (contain.ts).
    containPeerInput(
      'accept',
      () => socket.destroy(),
      () => then(header.source?.address, rest, header.source?.port),
    );
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
}
