/**
 * simulate(config, request): where would this proxy send a request? The routing code
 * is the proxy's own (routing.ts); used by compiler tests and `mast` debugging.
 */
import { compileRouteTable, pickWeighted, type RequestView } from './routing';
import type { ProxyConfig, RouteAction } from './proxy-config';

export interface SimulatedRequest {
  readonly port: number;
  readonly host: string;
  readonly path?: string;
  readonly method?: string;
  readonly scheme?: string;
  readonly headers?: Record<string, string>;
}

export type SimulationResult =
  | { readonly outcome: 'no-listener' }
  | { readonly outcome: 'no-route'; readonly listener: string }
  | { readonly outcome: 'routed'; readonly listener: string; readonly virtualHost: string; readonly route: string; readonly action: RouteAction; readonly cluster?: string; readonly endpoints?: string[] };

export function simulate(config: ProxyConfig, request: SimulatedRequest, random = 0): SimulationResult {
  const listener = config.listeners.find((l) => l.matchPort === request.port || l.port === request.port);
  if (!listener) return { outcome: 'no-listener' };
  const headers = Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const host = request.host.toLowerCase();
  headers.host ??= host;
  const view: RequestView = { method: request.method ?? 'GET', target: request.path ?? '/', host: host.replace(/:\d+$/, ''), port: listener.matchPort, scheme: request.scheme ?? 'http', header: (n) => headers[n] };
  const hit = compileRouteTable(listener).route(view);
  if (!hit) return { outcome: 'no-route', listener: listener.name };
  const action = hit.route.config.action;
  const base = { outcome: 'routed' as const, listener: listener.name, virtualHost: hit.vhost.config.name, route: hit.route.config.name, action };
  if (action.kind !== 'forward') return base;
  const cluster = pickWeighted(action.destinations, random)?.cluster;
  const endpoints = config.clusters.find((c) => c.name === cluster)?.endpoints.map((e) => `${e.address}:${e.port}`);
  return { ...base, cluster, endpoints };
}
