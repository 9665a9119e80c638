/**
 * simulate(config, request): where would this proxy send a request or a connection? The
 * routing code is the proxy's own (routing.ts): listener by port, then for HTTP the virtual host
 * and first matching route, for TCP the listener's weighted destinations, for TLS passthrough
 * the route of the server name; the weighted pick takes its random number from the caller. Used
 * by the compiler's simulation tables (test/compile/) and `mast` debugging.
 */
import { compileRouteTable, pickWeighted, sniRoute, type RequestView } from './routing';
import {
  PASSTHROUGH_CLUSTER,
  type ListenerConfig,
  type ProxyConfig,
  type RouteAction,
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
  /** TLS server name: what a passthrough listener routes by. */
  readonly sni?: string;
}

export type SimulationResult =
  | { readonly outcome: 'no-listener' }
  /** HTTP: no virtual host or route (404 NR); TCP or TLS: no destination (the connection is closed). */
  | { readonly outcome: 'no-route'; readonly listener: string }
  /** A Gateway server's `httpsRedirect`: every request is answered 301 to https. */
  | { readonly outcome: 'https-redirect'; readonly listener: string }
  | {
      readonly outcome: 'routed';
      readonly listener: string;
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
  if (listener.protocol === 'tcp') {
    const cluster = pickWeighted(connectionDestinations(listener, request.sni), random)?.cluster;
    return cluster
      ? { outcome: 'connection', listener: listener.name, cluster, endpoints: endpointsOf(cluster) }
      : { outcome: 'no-route', listener: listener.name };
  }
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
        : { outcome: 'no-route', listener: listener.name };
  const action = hit.route.config.action;
  const base = {
    outcome: 'routed' as const,
    listener: listener.name,
    virtualHost: hit.vhost.config.name,
    route: hit.route.config.name,
    action,
  };
  if (action.kind !== 'forward') return base;
  const cluster = pickWeighted(action.destinations, random)?.cluster;
  return { ...base, cluster, endpoints: endpointsOf(cluster) };
}

/** A TCP listener's destinations; with SNI routes, those of the server name (an exact name before a wildcard, as the proxy reads the ClientHello). */
function connectionDestinations(listener: ListenerConfig, sni: string | undefined): readonly WeightedCluster[] {
  if (!listener.sniRoutes) return listener.tcpDestinations ?? [];
  if (sni === undefined) return [];
  const name = sni.toLowerCase();
  const route = sniRoute(listener.sniRoutes, name);
  return route?.destinations ?? [];
}
