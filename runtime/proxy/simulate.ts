/**
 * simulate(config, request): where would this proxy send a request or a connection? The
 * routing code is the proxy's own (routing.ts): listener by port; on a gateway's TLS port the
 * server or passthrough route of the server name (server-names.ts); then for HTTP the virtual host
 * and first matching route, for TCP the listener's weighted destinations; the weighted pick takes its random number from the caller. Used
 * by the compiler's simulation tables (test/compile/) and `mast` debugging.
 */
import { compileRouteTable, pickWeighted, type RequestView } from './routing';
import { chainFor } from './server-names';
import {
  PASSTHROUGH_CLUSTER,
  type ListenerConfig,
  type ProxyConfig,
  type RouteAction,
  type ServerTlsConfig,
  type WeightedCluster,
} from '../contract/proxy-config';

export interface SimulatedRequest {
  readonly port: number;
  /** Host header (HTTP); ignored for TCP and TLS passthrough. */
  readonly host: string;
  readonly path?: string;
  readonly method?: string;
  readonly scheme?: string;
  readonly headers?: Record<string, string>;
  /** TLS server name: what a gateway's TLS port picks its server (or passthrough route) by; absent: the client sent none. */
  readonly sni?: string;
}

export type SimulationResult =
  | { readonly outcome: 'no-listener' }
  /** HTTP: no virtual host or route (404 NR); TCP: no destination (the connection is closed). */
  | { readonly outcome: 'no-route'; readonly listener: string; readonly server?: string }
  /** A gateway's TLS port: no server or passthrough route for the server name (or for none): the connection is closed. */
  | { readonly outcome: 'no-server'; readonly listener: string }
  /** A Gateway server's `httpsRedirect`: every request is answered 301 to https. */
  | { readonly outcome: 'https-redirect'; readonly listener: string }
  | {
      readonly outcome: 'routed';
      readonly listener: string;
      /** Over a terminated TLS server: its name and certificate settings. */
      readonly server?: string;
      readonly tls?: ServerTlsConfig;
      readonly virtualHost: string;
      readonly route: string;
      readonly action: RouteAction;
      readonly cluster?: string;
      readonly endpoints?: string[];
    }
  /** A TCP connection (a `tcp` route, or TLS passthrough by server name) sent on as bytes. */
  | { readonly outcome: 'connection'; readonly listener: string; readonly cluster: string; readonly endpoints?: string[] }
  /**
   * A sidecar's captured request or connection the mesh has no route for, sent on to where the app
   * sent it (Istio's default outboundTrafficPolicy ALLOW_ANY); `listener` when a port's listener had no route.
   */
  | { readonly outcome: 'passthrough'; readonly listener?: string; readonly cluster: typeof PASSTHROUGH_CLUSTER }
  /** The same under REGISTRY_ONLY: a request is answered 502 (Istio's block_all route), a connection reset (its BlackHoleCluster). */
  | { readonly outcome: 'blackhole'; readonly listener?: string };

/** `random` in [0, 1) picks among weighted destinations (pass a seeded one for a table). */
export function simulate(config: ProxyConfig, request: SimulatedRequest, random = 0): SimulationResult {
  const listener = config.listeners.find((l) => l.matchPort === request.port || l.port === request.port);
  if (!listener)
    return config.listeners.some((l) => l.passthrough)
      ? { outcome: 'passthrough', cluster: PASSTHROUGH_CLUSTER }
      : config.listeners.some((l) => l.blackHole)
        ? { outcome: 'blackhole' }
        : { outcome: 'no-listener' };
  const endpointsOf = (cluster: string | undefined) =>
    config.clusters.find((c) => c.name === cluster)?.endpoints.map((e) => `${e.address}:${e.port}`);
  const connection = (destinations: readonly WeightedCluster[]): SimulationResult => {
    const cluster = pickWeighted(destinations, random)?.cluster;
    return cluster
      ? { outcome: 'connection', listener: listener.name, cluster, endpoints: endpointsOf(cluster) }
      : { outcome: 'no-route', listener: listener.name };
  };
  if (listener.tlsServers?.length || listener.sniRoutes || listener.tls) {
    // The proxy's own choice of filter chain (server-names.ts), by the ClientHello's name.
    const chains = [
      ...(listener.tlsServers ?? []).map((s) => ({ ...s, serverNames: s.serverNames.map((n) => n.toLowerCase()) })),
      ...(listener.tls ? [{ name: listener.name, serverNames: [], tls: listener.tls, virtualHosts: listener.virtualHosts ?? [] }] : []),
      ...(listener.sniRoutes ?? []).map((r) => ({ serverNames: r.sniHosts.map((h) => h.toLowerCase()), destinations: r.destinations })),
    ];
    const chain = chainFor(chains, request.sni);
    if (!chain) return { outcome: 'no-server', listener: listener.name };
    // A sidecar's route without destinations (a wildcard ServiceEntry host): where the app sent it.
    if ('destinations' in chain && !chain.destinations.length && listener.trafficDirection)
      return { outcome: 'passthrough', listener: listener.name, cluster: PASSTHROUGH_CLUSTER };
    if ('destinations' in chain) return connection(chain.destinations);
    const over = { server: chain.name, tls: chain.tls };
    return routeHttp(config, { ...listener, virtualHosts: chain.virtualHosts, httpsRedirect: undefined }, request, random, over);
  }
  if (listener.protocol === 'tcp') return connection(listener.tcpDestinations ?? []);
  return routeHttp(config, listener, request, random, undefined);
}

/** An HTTP request on the listener (or on a terminated TLS server's routes, `over`). */
function routeHttp(
  config: ProxyConfig,
  listener: ListenerConfig,
  request: SimulatedRequest,
  random: number,
  over: { server: string; tls: ServerTlsConfig } | undefined,
): SimulationResult {
  const endpointsOf = (cluster: string | undefined) =>
    config.clusters.find((c) => c.name === cluster)?.endpoints.map((e) => `${e.address}:${e.port}`);
  if (listener.httpsRedirect) return { outcome: 'https-redirect', listener: listener.name };
  const headers = Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const host = request.host.toLowerCase();
  headers.host ??= host;
  const view: RequestView = {
    method: request.method ?? 'GET',
    target: request.path ?? '/',
    host: host.replace(/:\d+$/, ''),
    port: listener.matchPort,
    scheme: request.scheme ?? 'http',
    header: (n) => headers[n],
  };
  const hit = compileRouteTable(listener).route(view);
  if (!hit)
    return listener.passthrough
      ? { outcome: 'passthrough', listener: listener.name, cluster: PASSTHROUGH_CLUSTER }
      : listener.blackHole
        ? { outcome: 'blackhole', listener: listener.name }
        : { outcome: 'no-route', listener: listener.name, ...(over ? { server: over.server } : {}) };
  const action = hit.route.config.action;
  const base = {
    outcome: 'routed' as const,
    listener: listener.name,
    ...over,
    virtualHost: hit.vhost.config.name,
    route: hit.route.config.name,
    action,
  };
  if (action.kind !== 'forward') return base;
  const cluster = pickWeighted(action.destinations, random)?.cluster;
  return { ...base, cluster, endpoints: endpointsOf(cluster) };
}
