/**
 * How a sidecar speaks to its own app, port by port, as Istio's inbound clusters: HTTP/2 on a port
 * that a service selecting the workload declares HTTP2, GRPC or GRPC-WEB, the client's HTTP version
 * on a sniffed HTTP port, else HTTP/1.1 (left out). No h2 upgrade: Istio applies h2UpgradePolicy to
 * outbound clusters only. Pure.
 */
import { isHttp2Protocol, namespaceOf, selects, type WorkloadEntry } from '../../api';
import type { ClusterConfig } from '../contract/proxy-config';
import { isHttpProtocol, type ServicePort } from './endpoints';
import { byKind, type MeshIndex } from './mesh-index';

export type InboundProtocols = Readonly<Record<number, NonNullable<ClusterConfig['upstreamProtocol']>>>;

/**
 * By the port the app listens on: a service port's targetPort (else its number) in a pod, or in
 * `mast local` the port a WorkloadEntry of the service maps the port's name to. The first service
 * port found for an app port decides it.
 */
export function inboundProtocols(index: MeshIndex, namespace: string, labels: Readonly<Record<string, string>>): InboundProtocols {
  const out: Record<number, NonNullable<ClusterConfig['upstreamProtocol']>> = {};
  const seen = new Set<number>();
  const entries = (byKind(index, 'WorkloadEntry') as WorkloadEntry[]).filter((we) => namespaceOf(we) === namespace);
  for (const svc of index.snapshot.registry.services) {
    if (svc.namespace !== namespace || !svc.selector || !selects(svc.selector, labels)) continue;
    const mine = entries.filter((we) => selects(svc.selector!, we.spec.labels));
    for (const sp of portsByHost(index).get(svc.host) ?? []) {
      if (sp.namespace !== svc.namespace) continue;
      const protocol = isHttp2Protocol(sp.protocol) ? 'h2' : sp.auto && isHttpProtocol(sp.protocol) ? 'client' : undefined;
      const appPorts = [sp.targetPort ?? sp.number, ...mine.map((we) => we.spec.ports?.[sp.name ?? ''])];
      for (const port of appPorts) {
        if (port === undefined) continue;
        if (seen.has(port)) {
          if ((out[port] ?? 'http1') !== (protocol ?? 'http1')) out[port] = 'client';
          continue;
        }
        seen.add(port);
        if (protocol) out[port] = protocol;
      }
    }
  }
  return out;
}

/** Service ports by host, built once per index: every proxy's config and equivalence key looks here. */
const byHost = new WeakMap<MeshIndex, Map<string, ServicePort[]>>();
function portsByHost(index: MeshIndex): Map<string, ServicePort[]> {
  let map = byHost.get(index);
  if (!map) {
    map = new Map();
    for (const p of index.servicePorts) map.set(p.host, [...(map.get(p.host) ?? []), p]);
    byHost.set(index, map);
  }
  return map;
}

/**
 * The app ports a service selecting the workload declares GRPC-WEB (found as inboundProtocols finds
 * them): Istio's inbound listener for such a port carries the grpc_web filter.
 */
export function inboundGrpcWebPorts(index: MeshIndex, namespace: string, labels: Readonly<Record<string, string>>): number[] {
  const out = new Set<number>();
  const entries = (byKind(index, 'WorkloadEntry') as WorkloadEntry[]).filter((we) => namespaceOf(we) === namespace);
  for (const svc of index.snapshot.registry.services) {
    if (svc.namespace !== namespace || !svc.selector || !selects(svc.selector, labels)) continue;
    const mine = entries.filter((we) => selects(svc.selector!, we.spec.labels));
    for (const sp of portsByHost(index).get(svc.host) ?? []) {
      if (sp.namespace !== svc.namespace || sp.protocol !== 'GRPC-WEB') continue;
      for (const port of [sp.targetPort ?? sp.number, ...mine.map((we) => we.spec.ports?.[sp.name ?? ''])])
        if (port !== undefined) out.add(port);
    }
  }
  return [...out].sort((a, b) => a - b);
}
