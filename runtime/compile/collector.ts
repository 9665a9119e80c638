/**
 * Where a proxy sends its telemetry for an extension provider's `service` and `port`, as istiod's
 * LookupCluster finds it: `<namespace>/<host>`, or a host only one namespace has, among the mesh's
 * services; then that service's endpoint for the port (Envoy sends to the outbound cluster's
 * endpoints). A service the mesh does not know (or whose endpoints mast has not, e.g. a Kubernetes
 * Service seen without its pods) is the host itself, resolved by the proxy (DNS). Pure.
 */
import { endpointsOf } from './endpoints';
import type { MeshIndex } from './mesh-index';

export function collectorAddress(index: MeshIndex, service: string, port: number): { host: string; port: number; authority?: string } {
  const slash = service.indexOf('/');
  const namespace = slash < 0 ? undefined : service.slice(0, slash);
  const host = service.slice(slash + 1);
  const ports = index.servicePorts.filter((p) => p.host === host && p.number === port && (!namespace || p.namespace === namespace));
  // Istio: a host in several namespaces needs its namespace named.
  if (new Set(ports.map((p) => p.namespace)).size !== 1) return { host, port };
  const endpoint = endpointsOf(index, ports[0])[0];
  // The service's host stays the calls' :authority, as Istio sets it for Envoy's gRPC service.
  return endpoint ? { host: endpoint.address, port: endpoint.port, authority: host } : { host, port };
}
