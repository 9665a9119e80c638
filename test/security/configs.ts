/** Small ProxyConfigs for the attack suite: one HTTP listener whose every request goes to one cluster. */
import type { ClusterConfig, ListenerConfig, ProxyConfig, RouteConfig } from '../../runtime/contract/proxy-config';

export const everythingTo = (cluster: string): RouteConfig => ({
  name: 'r',
  matches: [],
  action: { kind: 'forward', destinations: [{ cluster, weight: 100 }] },
});

/** A cluster of one endpoint on 127.0.0.1. */
export function loopbackCluster(name: string, host: string, port: number, extra: Partial<ClusterConfig> = {}): ClusterConfig {
  return { name, host, port, endpoints: [{ address: '127.0.0.1', port }], lb: { kind: 'round_robin' }, connectTimeoutMs: 1000, ...extra };
}

/** `listener` (HTTP, any host) routing everything to `cluster`. */
export function oneRoute(listener: Omit<ListenerConfig, 'virtualHosts' | 'protocol'>, cluster: ClusterConfig): ProxyConfig {
  const l: ListenerConfig = {
    ...listener,
    protocol: 'http',
    virtualHosts: [{ name: 'vh', domains: ['*'], routes: [everythingTo(cluster.name)] }],
  };
  return { schema: 1, version: 'v1', listeners: [l], clusters: [cluster] };
}
