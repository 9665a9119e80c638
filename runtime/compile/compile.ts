/**
 * compile(snapshot, proxy) → ProxyConfig: pure, no I/O. A gateway gets a listener per
 * port of the Gateways selecting it, with the VirtualServices bound to them; a sidecar
 * gets outbound routes for every service it can see (the mesh VirtualServices, or a
 * default route) and an inbound listener to its app.
 */
import { exportScopes, fqdn, hostMatches, type ExportScope, hostsOverlap, namespaceOf, selects, splitRef, stripNamespace, visibleIn, type Gateway, type VirtualService } from '../../api';
import { DEFAULT_RETRY, PROXY_CONFIG_SCHEMA, byClusterName, clusterName, type ClusterConfig, type ListenerConfig, type ProxyConfig, type RouteConfig, type VirtualHostConfig, type WeightedCluster } from '../shared/proxy-config';
import { expandDelegates } from './delegates';
import { meshSettings } from './mesh-config';
import { authzFor, mtlsByPortFor, mtlsFor } from './authz';
import { compileCluster } from './clusters';
import type { ProxyIdentity } from '../shared/push-protocol';
import { compileHttpRoutes, compileTcpRoute, compileTlsRoutes, normalizeGateway, routesBySource, type RouteContext } from './routes';
import { servicePorts, type ServicePort } from './endpoints';
import { byKind, perSnapshot, type Snapshot } from './snapshot';

export type { ProxyIdentity };

const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB', 'HTTPS']);
const isHttp = (p: ServicePort) => HTTP_PROTOCOLS.has((p.protocol ?? 'HTTP').toUpperCase());

class Clusters {
  private readonly byName = new Map<string, ClusterConfig>();
  constructor(private readonly s: Snapshot, private readonly ns: string) {}
  use = (_host: string, port: ServicePort, subset: string | undefined) => this.add(clusterUse(port, subset));
  /** A use (one recorded once per snapshot comes with its name and cache key already built). */
  add = (u: ClusterUse) => {
    if (!this.byName.has(u.name)) this.byName.set(u.name, compileCluster(this.s, u.port, u.subset, this.ns, u.key));
  };
  all = () => [...this.byName.values()].sort(byClusterName);
}

function portResolver(ports: readonly ServicePort[]) {
  const byHost = new Map<string, ServicePort[]>();
  for (const p of ports) byHost.set(p.host, [...(byHost.get(p.host) ?? []), p]);
  return (host: string, port: number | undefined) => {
    const candidates = byHost.get(host) ?? [];
    return port === undefined ? (candidates.length === 1 ? candidates[0] : candidates.find(isHttp) ?? candidates[0]) : candidates.find((p) => p.number === port);
  };
}

/**
 * Proxies with the same key get the same config, so the push server compiles once for all of
 * them (the replicas of a workload): it depends on namespace, ports and labels (which Gateways
 * and AuthorizationPolicies select it), not on the proxy's name or service account.
 */
/** The VirtualServices that route: delegation expanded into the roots (delegates.ts), once per snapshot. */
const routableVirtualServices = perSnapshot((s) => expandDelegates(byKind(s, 'VirtualService') as VirtualService[]));
/** Some route is for some clients only (`sourceLabels`, `sourceNamespace`): sidecars are compiled per workload, not per namespace. */
const bySource = perSnapshot((s) => routesBySource(routableVirtualServices(s)));

export function equivalenceKey(p: ProxyIdentity, s?: Snapshot): string {
  const { labels, serviceAccount: _sa, ...rest } = p;
  // A sidecar's labels matter only through the policies that select it: sidecars of different
  // workloads that no policy tells apart share one config (with the snapshot to look them up).
  const selectedBy = s && p.mode === 'sidecar' && !bySource(s) ? policiesSelecting(s, p) : undefined;
  const key = { ...rest, labels: selectedBy ?? Object.entries(labels).sort() };
  return JSON.stringify(key, Object.keys(key).sort());
}

function policiesSelecting(s: Snapshot, p: ProxyIdentity): string[] {
  return [...byKind(s, 'AuthorizationPolicy'), ...byKind(s, 'PeerAuthentication')]
    .filter((x) => x.spec.selector?.matchLabels && namespaceOf(x) === p.namespace && selects(x.spec.selector.matchLabels, p.labels))
    .map((x) => `${x.kind}/${x.metadata.name}`)
    .sort();
}

export function compile(s: Snapshot, proxy: ProxyIdentity): ProxyConfig {
  if (proxy.mode === 'sidecar') return compileSidecar(s, proxy);
  const clusters = new Clusters(s, proxy.namespace);
  const listeners = gatewayListeners(s, proxy, servicePorts(s), clusters);
  return { schema: PROXY_CONFIG_SCHEMA, version: s.version, listeners, clusters: clusters.all(), ...meshSettings(s) };
}

/** TLS modes a gateway does not terminate (`mast validate` says so): such a server is not listened on. */
const UNSERVED_TLS: ReadonlySet<string> = new Set(['ISTIO_MUTUAL', 'OPTIONAL_MUTUAL', 'AUTO_PASSTHROUGH']);

/** A server mast serves. Never one in plain text that asked for TLS: not an unserved mode, not HTTPS without TLS settings. */
function listened(server: Gateway['spec']['servers'][number]): boolean {
  if (server.tls?.mode && UNSERVED_TLS.has(server.tls.mode)) return false;
  return server.port.protocol.toUpperCase() !== 'HTTPS' || server.tls !== undefined;
}

function gatewayListeners(s: Snapshot, proxy: ProxyIdentity, ports: readonly ServicePort[], clusters: Clusters): ListenerConfig[] {
  const gateways = (byKind(s, 'Gateway') as Gateway[]).filter((g) => selects(g.spec.selector ?? {}, proxy.labels));
  const vss = routableVirtualServices(s);
  const numbers = [...new Set(gateways.flatMap((g) => g.spec.servers.filter(listened).map((sv) => sv.port.number)))].sort((a, b) => a - b);
  return numbers.map((number) => {
    const vhosts = new Map<string, VirtualHostConfig>();
    let protocol: 'http' | 'tcp' = 'http';
    let tcpDestinations: ListenerConfig['tcpDestinations'];
    let sniRoutes: Array<{ sniHosts: string[]; destinations: WeightedCluster[] }> | undefined;
    let tls: ListenerConfig['tls'];
    let httpsRedirect = false;
    for (const gw of gateways)
      for (const server of gw.spec.servers.filter((sv) => sv.port.number === number && listened(sv))) {
        const t = server.tls;
        const passthroughTls = t?.mode === 'PASSTHROUGH';
        if (!HTTP_PROTOCOLS.has(server.port.protocol.toUpperCase()) || passthroughTls) protocol = 'tcp';
        if (passthroughTls) sniRoutes ??= [];
        const mode = t?.mode ?? 'SIMPLE';
        if (server.port.protocol.toUpperCase() === 'HTTPS' && t && (mode === 'SIMPLE' || mode === 'MUTUAL')) {
          const mutual = mode === 'MUTUAL' ? { mode: 'MUTUAL' as const, caFile: t.caCertificates } : {};
          const own =
            t.serverCertificate && t.privateKey
              ? { certificateFile: t.serverCertificate, keyFile: t.privateKey, ...mutual }
              : { credentialName: t.credentialName ?? t.credentialNames?.[0], ...mutual };
          // One TLS setting per port (no per-server SNI selection yet): a MUTUAL server's wins over SIMPLE
          // ones, so no host of a MUTUAL server is ever served without a verified client certificate.
          if (!tls || (mode === 'MUTUAL' && tls.mode !== 'MUTUAL')) tls = own;
        }
        if (t?.httpsRedirect) httpsRedirect = true;
        const gwRef = `${namespaceOf(gw)}/${gw.metadata.name}`;
        const ctx: RouteContext = { gateway: gwRef, matchPort: number, portOf: portResolver(ports), useCluster: clusters.use, source: { labels: proxy.labels, namespace: proxy.namespace } };
        for (const vs of vss) {
          if (!(vs.spec.gateways ?? []).some((g) => normalizeGateway(g, namespaceOf(vs)) === gwRef)) continue;
          if (passthroughTls) {
            // Server names this server answers for (its hosts), each routed by the VirtualService's tls routes.
            for (const r of compileTlsRoutes(vs, ctx)) {
              const sniHosts = r.sniHosts.filter((h) => server.hosts.some((sh) => hostsOverlap(stripNamespace(sh), h)));
              if (sniHosts.length) sniRoutes!.push({ sniHosts, destinations: r.destinations });
            }
            continue;
          }
          if (protocol === 'tcp') {
            tcpDestinations ??= compileTcpRoute(vs, ctx);
            continue;
          }
          for (const vsHost of vs.spec.hosts ?? []) {
            const serverHost = server.hosts.map((h) => ({ h, ...splitRef(h.includes('/') ? h : `*/${h}`, '*') })).find(({ namespace, name }) => (namespace === '*' || namespace === namespaceOf(vs) || (namespace === '.' && namespaceOf(vs) === namespaceOf(gw))) && hostsOverlap(name, vsHost));
            if (!serverHost) continue;
            // The narrower of the two names is what this virtual host answers.
            const domain = hostMatches(stripNamespace(serverHost.h), vsHost) ? vsHost.toLowerCase() : stripNamespace(serverHost.h).toLowerCase();
            const vhost = vhosts.get(domain) ?? { name: `${domain}:${number}`, domains: [domain], routes: [] };
            vhost.routes.push(...compileHttpRoutes(vs, ctx));
            vhosts.set(domain, vhost);
          }
        }
      }
    const body = sniRoutes ? { sniRoutes } : protocol === 'tcp' ? { tcpDestinations: tcpDestinations ?? [] } : { virtualHosts: [...vhosts.values()] };
    return {
      name: `0.0.0.0_${number}`,
      port: proxy.portMap?.[number] ?? number,
      matchPort: number,
      protocol,
      ...body,
      proxyProtocol: proxy.proxyProtocol,
      forwardClientCert: gatewayXfcc(proxy),
      ...authzOf(s, proxy),
      ...(tls ? { tls } : {}),
      ...(httpsRedirect ? { httpsRedirect } : {}),
    };
  });
}

/** Istio's gateway default: SANITIZE_SET, the element with the client's certificate (`Cert`). */
const gatewayXfcc = (proxy: ProxyIdentity) => ({ mode: proxy.gatewayTopology?.forwardClientCertDetails ?? 'SANITIZE_SET', cert: true }) as const;

const authzOf = (s: Snapshot, proxy: ProxyIdentity) => {
  const authz = authzFor(s, proxy);
  return authz ? { authz } : {};
};

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

const NONE: readonly VirtualService[] = [];

interface MeshIndex {
  /** The registered service of each port (for its exportTo). */
  readonly serviceOf: Map<ServicePort, { readonly exportTo: ExportScope }>;
  /** Mesh-bound VirtualServices by the FQDN of each host they name. */
  readonly vsByHost: Map<string, VirtualService[]>;
  readonly scopes: Map<VirtualService, ExportScope>;
  readonly resolve: RouteContext['portOf'];
}
/** What every namespace's outbound compile looks up, built once per snapshot. */
const meshIndex = perSnapshot((s): MeshIndex => {
  const ports = servicePorts(s);
  const services = new Map(s.registry.services.map((x) => [`${x.host}|${x.namespace}`, x]));
  const serviceOf = new Map<ServicePort, { readonly exportTo: ExportScope }>();
  for (const p of ports) {
    const svc = services.get(`${p.host}|${p.namespace}`);
    if (svc) serviceOf.set(p, svc);
  }
  const vsByHost = new Map<string, VirtualService[]>();
  const scopes = new Map<VirtualService, ExportScope>();
  for (const vs of routableVirtualServices(s)) {
    if (vs.spec.gateways?.length && !vs.spec.gateways.includes('mesh')) continue;
    scopes.set(vs, exportScopes(vs.spec.exportTo, namespaceOf(vs)));
    for (const h of new Set((vs.spec.hosts ?? []).map((x) => fqdn(x, namespaceOf(vs))))) vsByHost.set(h, [...(vsByHost.get(h) ?? []), vs]);
  }
  return { serviceOf, vsByHost, scopes, resolve: portResolver(ports) };
});

/**
 * What every sidecar of a namespace sees is the same (visibility, short names and DestinationRule
 * lookup depend on the namespace alone): computed once per snapshot and namespace, so compile
 * time grows with services × namespaces, not services × proxies.
 */
const outboundByNamespace = perSnapshot(() => new Map<string, { listeners: ListenerConfig[]; clusters: ClusterConfig[] }>());

function sidecarOutbound(s: Snapshot, ns: string, labels: Readonly<Record<string, string>>): { listeners: ListenerConfig[]; clusters: ClusterConfig[] } {
  const source = bySource(s) ? { labels, namespace: ns } : undefined;
  const key = source ? `${ns}|${JSON.stringify(Object.entries(labels).sort())}` : ns;
  const byNs = outboundByNamespace(s);
  const cached = byNs.get(key);
  if (cached) return cached;
  const clusters = new Clusters(s, ns);
  const ports = servicePorts(s);
  const mesh = meshIndex(s);
  const visible = ports.filter((p) => {
    const svc = mesh.serviceOf.get(p);
    return !svc || visibleIn(svc.exportTo, ns);
  });
  const byPort = new Map<number, VirtualHostConfig[]>();
  /** The mesh VirtualServices for a host that this namespace sees (the shared list itself when it sees them all). */
  const vsFor = (host: string): readonly VirtualService[] => {
    const all = mesh.vsByHost.get(host) ?? NONE;
    return all.every((vs) => visibleIn(mesh.scopes.get(vs)!, ns)) ? all : all.filter((vs) => visibleIn(mesh.scopes.get(vs)!, ns));
  };
  const resolve = mesh.resolve;
  // Non-HTTP ports are proxied as TCP, told apart by destination port only (mast has no service
  // addresses to tell two TCP services on one port apart: such a port is left unproxied).
  const tcpPorts = new Map<number, ServicePort[]>();
  for (const p of visible) if (!isHttp(p)) tcpPorts.set(p.number, [...(tcpPorts.get(p.number) ?? []), p]);
  const tcpListeners: ListenerConfig[] = [];
  for (const [number, candidates] of tcpPorts) {
    if (candidates.length !== 1) continue;
    const p = candidates[0];
    const ctx: RouteContext = { gateway: 'mesh', matchPort: number, portOf: resolve, useCluster: clusters.use, source };
    const fromVs = vsFor(p.host).map((vs) => compileTcpRoute(vs, ctx)).find(Boolean);
    if (!fromVs) clusters.use(p.host, p, undefined);
    tcpListeners.push({ name: `outbound_${number}_tcp`, port: 0, matchPort: number, protocol: 'tcp', tcpDestinations: fromVs ?? [{ cluster: clusterName(p.number, undefined, p.host), weight: 100 }] });
  }
  for (const p of visible) {
    if (!isHttp(p)) continue;
    const routes = meshRoutes(s, p, vsFor(p.host), resolve, source);
    for (const u of routes.uses) clusters.add(u);
    const list = byPort.get(p.number) ?? [];
    list.push(virtualHostFor(routes, p, ns));
    byPort.set(p.number, list);
  }
  const listeners: ListenerConfig[] = [...[...byPort.entries()].map(([number, virtualHosts]) => ({ name: `outbound_${number}`, port: 0, matchPort: number, protocol: 'http' as const, virtualHosts })), ...tcpListeners.filter((t) => !byPort.has(t.matchPort))].sort((a, b) => a.matchPort - b.matchPort);
  const result = { listeners, clusters: clusters.all() };
  byNs.set(key, result);
  return result;
}

interface ClusterUse {
  readonly port: ServicePort;
  readonly subset: string | undefined;
  readonly name: string;
  readonly key: string;
}
const clusterUse = (port: ServicePort, subset: string | undefined): ClusterUse => {
  const name = clusterName(port.number, subset, port.host);
  return { port, subset, name, key: `${name}|${port.namespace}` };
};
interface MeshRoutes {
  readonly routes: RouteConfig[];
  readonly uses: ClusterUse[];
  /** The virtual host as clients in the service's own namespace see it (short name too), and as all others do. */
  own?: VirtualHostConfig;
  other?: VirtualHostConfig;
}
const routesByPort = perSnapshot(() => new WeakMap<ServicePort, Array<{ vss: readonly VirtualService[]; source: RouteContext['source']; result: MeshRoutes }>>());

/** Every namespace but the service's own sees the same virtual host: one object, shared. */
function virtualHostFor(mesh: MeshRoutes, p: ServicePort, ns: string): VirtualHostConfig {
  const own = kubernetesService(p.host)?.namespace === ns;
  const make = () => ({ name: `${p.host}:${p.number}`, domains: domainsFor(p.host, ns, p.number), routes: mesh.routes });
  return own ? (mesh.own ??= make()) : (mesh.other ??= make());
}

/**
 * A service port's mesh routes depend on the VirtualServices a namespace sees for it, not on the
 * namespace: compiled once per snapshot and shared (so configs of one snapshot share their parts,
 * which also makes comparing them for a delta push cheap).
 */
function meshRoutes(s: Snapshot, p: ServicePort, vss: readonly VirtualService[], resolve: RouteContext['portOf'], source?: RouteContext['source']): MeshRoutes {
  const byPort = routesByPort(s);
  let entries = byPort.get(p);
  if (!entries) byPort.set(p, (entries = []));
  // Namespaces that see the same VirtualServices for this port share one entry.
  const hit = entries.find((e) => e.source === source && e.vss.length === vss.length && e.vss.every((v, i) => v === vss[i]));
  if (hit) return hit.result;
  const uses: ClusterUse[] = [];
  const ctx: RouteContext = { gateway: 'mesh', matchPort: p.number, portOf: resolve, useCluster: (_host, port, subset) => void uses.push(clusterUse(port, subset)), source };
  const routes = vss.flatMap((vs) => compileHttpRoutes(vs, ctx));
  if (routes.length === 0) {
    uses.push(clusterUse(p, undefined));
    routes.push({ name: 'default', matches: [], action: { kind: 'forward', destinations: [{ cluster: clusterName(p.number, undefined, p.host), weight: 100 }], retries: DEFAULT_RETRY } });
  }
  const result: MeshRoutes = { routes, uses };
  entries.push({ vss, source, result });
  return result;
}

function compileSidecar(s: Snapshot, proxy: ProxyIdentity): ProxyConfig {
  const shared = sidecarOutbound(s, proxy.namespace, proxy.labels);
  const outboundPort = proxy.outboundPort ?? 15001;
  const listeners: ListenerConfig[] = shared.listeners.map((l) => ({ ...l, port: outboundPort, passthrough: true, trafficDirection: 'OUTBOUND' as const }));
  if (!proxy.inbound) return { schema: PROXY_CONFIG_SCHEMA, version: s.version, listeners, clusters: shared.clusters, ...meshSettings(s) };
  const appPort = proxy.inbound.appPort;
  // In a pod the app's port is the one each captured connection was sent to (original destination).
  const inbound = appPort ? `inbound|${appPort}||` : 'inbound|passthrough||';
  const mtlsByPort = mtlsByPortFor(s, proxy);
  const inboundCluster: ClusterConfig = appPort
    ? { name: inbound, host: '127.0.0.1', port: appPort, endpoints: [{ address: '127.0.0.1', port: appPort }], lb: { kind: 'round_robin' }, connectTimeoutMs: 1000 }
    : { name: inbound, host: '127.0.0.1', port: 0, endpoints: [], lb: { kind: 'passthrough' }, connectTimeoutMs: 1000 };
  listeners.push({
    name: 'virtualInbound',
    trafficDirection: 'INBOUND',
    port: proxy.inbound.port,
    matchPort: appPort ?? 0,
    ...authzOf(s, proxy),
    mtls: mtlsFor(s, proxy),
    ...(mtlsByPort ? { mtlsByPort } : {}),
    // As Istio's sidecars: the verified peer is added to x-forwarded-client-cert (By, Hash, Subject, URI, DNS).
    forwardClientCert: { mode: 'APPEND_FORWARD' },
    protocol: 'http',
    virtualHosts: [{ name: 'inbound|http', domains: ['*'], routes: [{ name: 'default', matches: [], action: { kind: 'forward', destinations: [{ cluster: inbound, weight: 100 }] } }] }],
  });
  return { schema: PROXY_CONFIG_SCHEMA, version: s.version, listeners, clusters: [...shared.clusters, inboundCluster].sort(byClusterName), ...meshSettings(s) };
}
