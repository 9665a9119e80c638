/**
 * A sidecar's config: outbound listeners for every service port its namespace can see and its
 * Sidecar resource imports (the mesh VirtualServices' routes, or a default route; TCP ports by
 * port number, TLS and HTTPS ports by server name), under every name a client may use for the
 * service, with the outbound traffic policy for the rest (passthrough, or Istio's black hole),
 * and an inbound listener to its app with the PeerAuthentication and AuthorizationPolicy that
 * apply to it (and its Sidecar's ingress listeners: sidecar-ingress.ts). The outbound part is shared through the CompileCache.
 */
import { visibleIn, type VirtualService } from '../../api';
import { DEFAULT_RETRY, PROXY_CONFIG_SCHEMA, byClusterName, clusterName } from '../contract/proxy-config';
import type { ClusterConfig, ListenerConfig, ProxyConfig, RouteConfig, VirtualHostConfig } from '../contract/proxy-config';
import type { ProxyIdentity } from '../contract/push-protocol';
import { authzFor, mtlsByPortFor, mtlsFor } from './authz';
import { jwtFor } from './jwt';
import { ClusterSet, clusterUse, rulesSelecting } from './clusters';
import type { ClusterUse, CompileCache, MeshRoutes, SidecarOutbound } from './compile-cache';
import { isHttpProtocol, type ServicePort } from './endpoints';
import { inboundGrpcWebPorts, inboundProtocols } from './inbound-protocol';
import type { MeshIndex } from './mesh-index';
import { compileHttpRoutes, compileTcpRoute, compileTlsRoutes, type RouteContext } from './routes';
import { sidecarIngress } from './sidecar-ingress';
import { sidecarScope, type SidecarScope } from './sidecar-scope';
import { PORTS } from '../../api/well-known';

/** The port outbound traffic reaches a sidecar on when its identity names none (Istio's). */
const OUTBOUND_PORT = PORTS.sidecarOutbound;

export function compileSidecar(index: MeshIndex, proxy: ProxyIdentity, cache: CompileCache): ProxyConfig {
  const scope = sidecarScope(index, proxy.namespace, proxy.labels);
  const shared = sidecarOutbound(index, cache, proxy.namespace, proxy.labels, scope);
  const outboundPort = proxy.outboundPort ?? OUTBOUND_PORT;
  // What happens to a host the mesh does not know: passthrough (ALLOW_ANY) or refused (REGISTRY_ONLY).
  const policy = scope.outboundTrafficPolicy === 'REGISTRY_ONLY' ? { blackHole: true } : { passthrough: true };
  const listeners: ListenerConfig[] = shared.listeners.map((l) => ({
    ...l,
    port: outboundPort,
    ...policy,
    trafficDirection: 'OUTBOUND' as const,
  }));
  if (!proxy.inbound)
    return { schema: PROXY_CONFIG_SCHEMA, version: index.version, listeners, clusters: shared.clusters, ...index.meshSettings };
  const appPort = proxy.inbound.appPort;
  // In a pod the app's port is the one each captured connection was sent to (original destination).
  const inbound = appPort ? `inbound|${appPort}||` : 'inbound|passthrough||';
  const mtlsByPort = mtlsByPortFor(index, proxy);
  const authz = authzFor(index, proxy);
  const jwt = jwtFor(index, proxy);
  const appProtocols = inboundProtocols(index, proxy.namespace, proxy.labels);
  const appProtocol = appPort ? (appProtocols[appPort] ?? appProtocols[proxy.inbound.port]) : undefined;
  // Istio's inbound listener of a GRPC-WEB port carries the grpc_web filter: in a pod, by each connection's original destination port.
  const webPorts = inboundGrpcWebPorts(index, proxy.namespace, proxy.labels);
  // (mast local names the sidecar's inbound port in its WorkloadEntries, as for appProtocol above.)
  const webApp = appPort !== undefined && (webPorts.includes(appPort) || webPorts.includes(proxy.inbound.port));
  const grpcWeb = appPort ? (webApp ? true : undefined) : webPorts.length ? webPorts : undefined;
  const inboundCluster: ClusterConfig = appPort
    ? {
        name: inbound,
        host: '127.0.0.1',
        port: appPort,
        endpoints: [{ address: '127.0.0.1', port: appPort }],
        lb: { kind: 'round_robin' },
        connectTimeoutMs: 1000,
        ...(appProtocol ? { upstreamProtocol: appProtocol } : {}),
      }
    : {
        name: inbound,
        host: '127.0.0.1',
        port: 0,
        endpoints: [],
        lb: { kind: 'passthrough' },
        connectTimeoutMs: 1000,
        // One cluster for every port the app listens on: the HTTP version by each connection's original destination port.
        ...(Object.keys(appProtocols).length ? { upstreamProtocolByPort: appProtocols } : {}),
      };
  listeners.push({
    name: 'virtualInbound',
    trafficDirection: 'INBOUND',
    port: proxy.inbound.port,
    matchPort: appPort ?? 0,
    ...(authz ? { authz } : {}),
    ...(jwt ? { jwt } : {}),
    mtls: mtlsFor(index, proxy),
    ...(mtlsByPort ? { mtlsByPort } : {}),
    // As Istio's sidecars: the verified peer is added to x-forwarded-client-cert (By, Hash, Subject, URI, DNS).
    forwardClientCert: { mode: 'APPEND_FORWARD' },
    ...(grpcWeb ? { grpcWeb } : {}),
    protocol: 'http',
    virtualHosts: [
      {
        name: 'inbound|http',
        domains: ['*'],
        routes: [{ name: 'default', matches: [], action: { kind: 'forward', destinations: [{ cluster: inbound, weight: 100 }] } }],
      },
    ],
  });
  // Its Sidecar's ingress listeners, each on a port of its own (mast local).
  const ingress = sidecarIngress(index, proxy, { authz, jwt });
  listeners.push(...ingress.listeners);
  return {
    schema: PROXY_CONFIG_SCHEMA,
    version: index.version,
    listeners,
    clusters: [...shared.clusters, inboundCluster, ...ingress.clusters].sort(byClusterName),
    ...index.meshSettings,
  };
}

/**
 * What every sidecar of a namespace under one Sidecar resource sees is the same (visibility, short
 * names and DestinationRule lookup depend on the namespace alone, imports on the Sidecar): compiled
 * once per namespace, Sidecar and cache. When some route is by source, per client labels too.
 */
function sidecarOutbound(
  index: MeshIndex,
  cache: CompileCache,
  ns: string,
  labels: Readonly<Record<string, string>>,
  scope: SidecarScope,
): SidecarOutbound {
  const source = index.routesBySource ? { labels, namespace: ns } : undefined;
  // DestinationRules selecting the workload (workloadSelector) make its clusters its own.
  const selecting = rulesSelecting(index, ns, labels);
  const key = `${source ? `${ns}|${JSON.stringify(Object.entries(labels).sort())}` : ns}|${scope.key}${selecting.length ? `|${selecting.join(',')}` : ''}`;
  const cached = cache.outbound.get(key);
  if (cached) return cached;
  const clusters = new ClusterSet(index, cache, ns, true, labels);
  const visible = index.servicePorts.filter((p) => {
    const svc = index.serviceOf.get(p);
    return (!svc || visibleIn(svc.exportTo, ns)) && scope.imports(p);
  });
  /** The mesh VirtualServices for a host that this namespace sees (the shared list itself when it sees them all). */
  const vsFor = (host: string): readonly VirtualService[] => {
    const all = index.meshVirtualServicesByHost.get(host) ?? NONE;
    const seen = (vs: VirtualService) => visibleIn(index.exportScopeOf.get(vs)!, ns);
    return all.every(seen) ? all : all.filter(seen);
  };
  // Non-HTTP ports are proxied as TCP, told apart by destination port only (mast has no service
  // addresses to tell two TCP services on one port apart: such a port is left unproxied); a port
  // whose services all speak TLS is told apart by server name (tlsListener).
  const tcpPorts = new Map<number, ServicePort[]>();
  for (const p of [...visible, ...wildcardTlsPorts(index, ns, scope)])
    if (!routedByRequest(p)) tcpPorts.set(p.number, [...(tcpPorts.get(p.number) ?? []), p]);
  const tcpListeners: ListenerConfig[] = [];
  for (const [number, candidates] of tcpPorts) {
    const ctx: RouteContext = { gateway: 'mesh', matchPort: number, portOf: index.portOf, useCluster: clusters.use, source };
    if (candidates.every(speaksTls)) {
      tcpListeners.push(tlsListener(number, candidates, vsFor, ctx, clusters));
      continue;
    }
    if (candidates.length !== 1) continue;
    const p = candidates[0];
    const fromVs = vsFor(p.host)
      .map((vs) => compileTcpRoute(vs, ctx))
      .find(Boolean);
    if (!fromVs) clusters.use(p.host, p, undefined);
    tcpListeners.push({
      name: `outbound_${number}_tcp`,
      port: 0,
      matchPort: number,
      protocol: 'tcp',
      tcpDestinations: fromVs ?? [{ cluster: clusterName(p.number, undefined, p.host), weight: 100 }],
    });
  }
  const byPort = new Map<number, VirtualHostConfig[]>();
  /** Ports where some service declares GRPC-WEB: Istio's listener for the port carries the grpc_web filter (it only changes gRPC-Web requests). */
  const webPorts = new Set<number>();
  for (const p of visible) {
    if (!routedByRequest(p)) continue;
    if (p.protocol === 'GRPC-WEB') webPorts.add(p.number);
    const routes = meshRoutes(index, cache, p, vsFor(p.host), source);
    for (const u of routes.uses) clusters.add(u);
    const list = byPort.get(p.number) ?? [];
    list.push(virtualHostFor(routes, p, ns));
    byPort.set(p.number, list);
  }
  const httpListeners = [...byPort.entries()].map(([number, virtualHosts]) => ({
    name: `outbound_${number}`,
    port: 0,
    matchPort: number,
    protocol: 'http' as const,
    virtualHosts,
    ...(webPorts.has(number) ? { grpcWeb: true as const } : {}),
  }));
  const listeners: ListenerConfig[] = [...httpListeners, ...tcpListeners.filter((t) => !byPort.has(t.matchPort))].sort(
    (a, b) => a.matchPort - b.matchPort,
  );
  const result = { listeners, clusters: clusters.all() };
  cache.outbound.set(key, result);
  return result;
}

const NONE: readonly VirtualService[] = [];

/**
 * The TLS and HTTPS ports of ServiceEntries with a wildcard host (`*.wikipedia.org`) this
 * namespace sees and imports: on a sidecar, TLS routed by server name like the others (they are
 * no service ports of their own: a wildcard host has no endpoints to pick).
 */
function wildcardTlsPorts(index: MeshIndex, ns: string, scope: SidecarScope): ServicePort[] {
  return index.snapshot.registry
    .wildcardServices()
    .filter((svc) => visibleIn(svc.exportTo, ns))
    .flatMap((svc) =>
      svc.ports.map((p) => ({
        host: svc.host,
        namespace: svc.namespace,
        number: p.number,
        name: p.name,
        protocol: p.protocol?.toUpperCase(),
      })),
    )
    .filter((p) => speaksTls(p) && scope.imports(p));
}

/** What the app sends to the port is TLS of its own (Istio: HTTPS and TLS ports are matched by SNI on a sidecar, never read as HTTP). */
const speaksTls = (p: ServicePort) => p.protocol?.toUpperCase() === 'TLS' || p.protocol?.toUpperCase() === 'HTTPS';
/** A port a sidecar routes request by request (HTTP, HTTP/2, gRPC); the others connection by connection. */
const routedByRequest = (p: ServicePort) => isHttpProtocol(p.protocol) && !speaksTls(p);

/**
 * A port whose services all speak TLS: each connection goes by the server name of its ClientHello
 * (Envoy's filter chain match on SNI, as Istio builds it), to the mesh VirtualServices' `tls`
 * routes for those hosts, else to the service the name is; a name none has meets the outbound
 * policy, as a port the mesh does not know. Several TLS services may share the port.
 */
function tlsListener(
  number: number,
  services: readonly ServicePort[],
  vsFor: (host: string) => readonly VirtualService[],
  ctx: RouteContext,
  clusters: ClusterSet,
): ListenerConfig {
  const seen = new Set<VirtualService>();
  const sniRoutes: NonNullable<ListenerConfig['sniRoutes']> = [];
  for (const p of services) {
    const vss = vsFor(p.host).filter((vs) => !seen.has(vs));
    for (const vs of vss) seen.add(vs);
    const routes = vss.flatMap((vs) => compileTlsRoutes(vs, ctx));
    if (routes.length) {
      sniRoutes.push(...routes);
      continue;
    }
    // A wildcard host (`*.wikipedia.org`): each name is where the app sent it (its original destination).
    if (p.host.startsWith('*.')) {
      sniRoutes.push({ sniHosts: [p.host], destinations: [] });
      continue;
    }
    clusters.use(p.host, p, undefined);
    sniRoutes.push({ sniHosts: [p.host], destinations: [{ cluster: clusterName(p.number, undefined, p.host), weight: 100 }] });
  }
  return { name: `outbound_${number}_tls`, port: 0, matchPort: number, protocol: 'tcp', sniRoutes };
}

/**
 * A service port's mesh routes depend on the VirtualServices a namespace sees for it, not on the
 * namespace: compiled once per cache, and shared by the namespaces that see the same ones.
 */
function meshRoutes(
  index: MeshIndex,
  cache: CompileCache,
  p: ServicePort,
  vss: readonly VirtualService[],
  source?: RouteContext['source'],
): MeshRoutes {
  let entries = cache.meshRoutes.get(p);
  if (!entries) cache.meshRoutes.set(p, (entries = []));
  const hit = entries.find((e) => e.source === source && e.vss.length === vss.length && e.vss.every((v, i) => v === vss[i]));
  if (hit) return hit.result;
  const uses: ClusterUse[] = [];
  const ctx: RouteContext = {
    gateway: 'mesh',
    matchPort: p.number,
    portOf: index.portOf,
    useCluster: (_host, port, subset) => void uses.push(clusterUse(port, subset)),
    source,
  };
  const routes: RouteConfig[] = vss.flatMap((vs) => compileHttpRoutes(vs, ctx));
  if (routes.length === 0) {
    uses.push(clusterUse(p, undefined));
    routes.push({
      name: 'default',
      matches: [],
      action: {
        kind: 'forward',
        destinations: [{ cluster: clusterName(p.number, undefined, p.host), weight: 100 }],
        retries: DEFAULT_RETRY,
      },
    });
  }
  const result: MeshRoutes = { routes, uses };
  entries.push({ vss, source, result });
  return result;
}

/** Every namespace but the service's own sees the same virtual host: one object, shared. */
function virtualHostFor(mesh: MeshRoutes, p: ServicePort, ns: string): VirtualHostConfig {
  const own = kubernetesService(p.host)?.namespace === ns;
  const make = () => ({ name: `${p.host}:${p.number}`, domains: domainsFor(p.host, ns, p.number), routes: mesh.routes });
  return own ? (mesh.own ??= make()) : (mesh.other ??= make());
}

/** `name.namespace.svc.cluster.local` → its parts; other hosts have no short names. */
function kubernetesService(host: string): { name: string; namespace: string } | undefined {
  const m = /^([^.]+)\.([^.]+)\.svc\.cluster\.local$/.exec(host);
  return m ? { name: m[1], namespace: m[2] } : undefined;
}

/** Names a client in `ns` may use for a service: FQDN, and the short forms Kubernetes DNS resolves. */
function domainsFor(host: string, clientNs: string, port: number): string[] {
  const names = [host];
  const m = kubernetesService(host);
  if (m) {
    names.push(`${m.name}.${m.namespace}.svc`, `${m.name}.${m.namespace}`);
    if (m.namespace === clientNs) names.push(m.name);
  }
  return names.flatMap((n) => [n, `${n}:${port}`]);
}
