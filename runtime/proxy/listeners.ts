/**
 * Bound ports. A port serves one listener config, or several (a sidecar's outbound port: one per
 * destination port, told apart by each request's destination port); what kind of port it is
 * (TLS, passthrough by SNI, TCP, a sidecar's inbound or outbound) is worked out once per config,
 * not per connection.
 */
import * as net from 'node:net';
import type { ListenerConfig } from '../contract/proxy-config';
import type { ListenerEntry } from './request/route';
import { compileRouteTable } from './routing';
import type { FileTlsChain, ServingChain, TerminatedChain } from './tls-chains';

/** A listener config as applied: its route table, and for a gateway's TLS port its filter chains (tls-chains.ts). */
export type ListenerSetup = ListenerEntry & { readonly chains?: ServingChain[] };

export class ListenerRuntime {
  private byMatchPort = new Map<number, ListenerEntry>();
  server?: net.Server;
  /**
   * A gateway's TLS port: its terminated servers and PASSTHROUGH routes, one picked per connection
   * by the ClientHello's server name (server-names.ts), certificates loaded when the config was applied.
   */
  chains?: ServingChain[];
  /**
   * A sidecar's inbound: the chains of its Sidecar ingress listeners that terminate TLS, by listener
   * port (a pod's inbound port serves them all, each connection by the port it was sent to).
   */
  private inboundChains = new Map<number, ServingChain[]>();
  /** A pod's inbound port with Sidecar ingress listeners beside it: what serves the ports none of them has. */
  private inboundDefault?: ListenerEntry;
  /** The terminated servers by name: a connection's requests take their routes from its own server's current config. */
  private servers = new Map<string, ListenerEntry>();
  /** Some destination port here is proxied as TCP. */
  hasTcp = false;
  /** A sidecar's inbound listener. */
  inbound = false;
  /** Connections to destination ports nothing here knows go on to their original destination. */
  passthrough = false;
  /** REGISTRY_ONLY: connections to destination ports nothing here knows are reset. */
  blackHole = false;
  /**
   * A sidecar's outbound: a proxy request (not captured) for a destination port nothing here knows
   * is routed by no table, so the outbound policy decides: passed through (ALLOW_ANY) or refused 502 (REGISTRY_ONLY).
   */
  private unknownPort?: ListenerEntry;
  /** Connections here were redirected by iptables (a sidecar's): their original destination picks the routes. */
  captured = false;
  configs: ListenerConfig[] = [];
  /** The port requests are matched against when a request names none. */
  defaultPort = 80;
  /** The one entry, when there is one (it serves every destination port). */
  private only?: ListenerEntry;
  /**
   * Removed by a config push: it accepts nothing more, and its connections finish what they have
   * in flight, each told `Connection: close` (listener-drain.ts).
   */
  draining = false;
  /**
   * Sockets accepted here and still open, for a drain's last word. A plain HTTP connection's
   * socket leaves at once (its handle moves to one reading through the shared buffer,
   * read-buffer.ts): the proxy tracks that connection itself.
   */
  readonly sockets = new Set<net.Socket>();

  constructor(readonly port: number) {}

  set(entries: ListenerSetup[]): void {
    this.byMatchPort = new Map(entries.map((e) => [e.config.matchPort, e]));
    // Read on every request: worked out once per config.
    this.configs = [...this.byMatchPort.values()].map((e) => e.config);
    this.only = this.byMatchPort.size === 1 ? this.byMatchPort.values().next().value : undefined;
    this.defaultPort = this.only ? this.only.config.matchPort : 80;
    this.inbound = entries.some((e) => e.config.trafficDirection === 'INBOUND');
    const chained = entries.filter((e) => e.chains);
    // An inbound port's chains are each its own listener port's (acceptInbound picks them); a gateway port's serve the whole port.
    this.chains = this.inbound ? undefined : chained[0]?.chains;
    this.inboundChains = new Map(this.inbound ? chained.map((e) => [e.config.matchPort, e.chains!] as const) : []);
    this.inboundDefault = this.inbound ? this.byMatchPort.get(0) : undefined;
    this.servers = new Map(
      chained
        .flatMap((e) => e.chains!)
        .filter((c): c is TerminatedChain => c.kind === 'terminate')
        .map((c) => [c.name, c.entry] as const),
    );
    this.hasTcp = entries.some((e) => e.config.protocol === 'tcp');
    this.passthrough = entries.some((e) => e.config.passthrough);
    this.blackHole = entries.some((e) => e.config.blackHole);
    const policy = entries.find((e) => e.config.blackHole || e.config.passthrough)?.config;
    const noRoutes: ListenerConfig | undefined = policy && {
      ...policy,
      name: 'unknown_port',
      protocol: 'http',
      virtualHosts: [],
      tcpDestinations: undefined,
    };
    this.unknownPort = noRoutes && { config: noRoutes, table: compileRouteTable(noRoutes) };
    this.captured = this.byMatchPort.size > 1 || entries.some((e) => e.config.trafficDirection !== undefined);
  }

  knows(port: number): boolean {
    return this.byMatchPort.has(port);
  }

  /**
   * The listener config and route table requests to `port` are served by; over a connection of a
   * terminated TLS server, that server's (none once a push removed it: its requests get 404).
   */
  entryFor(port: number, server?: string): ListenerEntry | undefined {
    if (server !== undefined) return this.servers.get(server);
    return this.byMatchPort.get(port) ?? this.only ?? this.inboundDefault ?? this.unknownPort;
  }

  /**
   * A sidecar's inbound connection sent to `port` (its original destination; undefined when not
   * captured): the Sidecar ingress listener of that port, else the workload's inbound listener; and
   * the chains that terminate that listener's TLS, when it has them.
   */
  inboundFor(port: number | undefined): { readonly config?: ListenerConfig; readonly chains?: ServingChain[] } {
    const entry = (port !== undefined ? this.byMatchPort.get(port) : undefined) ?? this.only ?? this.inboundDefault;
    return { config: entry?.config, chains: entry && this.inboundChains.get(entry.config.matchPort) };
  }

  /** The terminated servers of the current config (their certificates are re-read as they are renewed). */
  terminatedChains(): FileTlsChain[] {
    return [...(this.chains ?? []), ...[...this.inboundChains.values()].flat()].filter(
      (c): c is FileTlsChain => c.kind === 'terminate' && !c.mesh,
    );
  }

  configFor(port: number): ListenerConfig | undefined {
    return this.entryFor(port)?.config;
  }
}

/**
 * At most this many open connections per listener (Envoy's listener connection limit): past it a
 * new connection is closed as it is accepted, before any byte of it is read, and counted, so a
 * flood of connections costs a counter, not the memory of every connection.
 */
export const DEFAULT_MAX_CONNECTIONS = 16_384;

/** A listener's bound on open connections, and who counts the connections refused. */
export interface ConnectionLimit {
  /** 0: no limit. */
  readonly max: number;
  readonly refused: () => void;
}

/** Binds the listener's port (with SO_REUSEPORT when several worker processes share it; Node ≥ 22.12). */
export function listen(
  l: ListenerRuntime,
  address: string,
  reusePort: boolean,
  accept: (socket: net.Socket, l: ListenerRuntime) => void,
  limit: ConnectionLimit = { max: DEFAULT_MAX_CONNECTIONS, refused: () => undefined },
): Promise<void> {
  const server = net.createServer({ noDelay: true }, (socket) => {
    l.sockets.add(socket);
    socket.once('close', () => l.sockets.delete(socket));
    accept(socket, l);
  });
  // Node refuses past `maxConnections` itself (the handle closed at accept) and says so with 'drop'.
  if (limit.max > 0) server.maxConnections = limit.max;
  server.on('drop', limit.refused);
  l.server = server;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // reusePort is an option of Node >= 22.12 (older versions ignore it; main.ts never asks them to).
    server.listen({ port: l.port, host: address, ...(reusePort ? { reusePort: true } : {}) }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
