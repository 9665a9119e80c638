/**
 * A gateway's config: a listener per port of the Gateways selecting it, each serving the
 * VirtualServices bound to those Gateways: HTTP virtual hosts (the narrower of the server's and
 * the route's host names), TCP routes, TLS passthrough routes by server name, and terminated TLS
 * servers, each with its own certificate and virtual hosts, chosen by server name (Envoy's filter chains).
 */
import { hostMatches, hostsOverlap, namespaceOf, selects, splitRef, stripNamespace, type Gateway, type VirtualService } from '../../api';
import {
  PROXY_CONFIG_SCHEMA,
  type ListenerConfig,
  type ProxyConfig,
  type ServerTlsConfig,
  type TlsServerConfig,
  type VirtualHostConfig,
  type WeightedCluster,
} from '../contract/proxy-config';
import type { ProxyIdentity } from '../contract/push-protocol';
import { authzFor } from './authz';
import { jwtFor } from './jwt';
import { ClusterSet } from './clusters';
import type { CompileCache } from './compile-cache';
import { isHttpProtocol } from './endpoints';
import { byKind, type MeshIndex } from './mesh-index';
import { compileHttpRoutes, compileTcpRoute, compileTlsRoutes, normalizeGateway, type RouteContext } from './routes';

export function compileGateway(index: MeshIndex, proxy: ProxyIdentity, cache: CompileCache): ProxyConfig {
  const clusters = new ClusterSet(index, cache, proxy.namespace, false, proxy.labels);
  const listeners = gatewayListeners(index, proxy, clusters);
  return { schema: PROXY_CONFIG_SCHEMA, version: index.version, listeners, clusters: clusters.all(), ...index.meshSettings };
}

/** TLS modes a gateway does not terminate (`mast validate` says so): such a server is not listened on. */
const UNSERVED_TLS: ReadonlySet<string> = new Set(['AUTO_PASSTHROUGH']);
/** TLS modes terminated at the gateway, each server with its own certificate (ISTIO_MUTUAL: the gateway's workload certificate). */
const TERMINATED_TLS: ReadonlySet<string> = new Set(['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL', 'ISTIO_MUTUAL']);

type Server = Gateway['spec']['servers'][number];

/**
 * A server mast serves. Never one in plain text that asked for TLS: not an unserved mode, not
 * HTTPS without TLS settings, not the mesh's mTLS on a server that would pass its bytes on as TCP.
 */
function listened(server: Server): boolean {
  if (server.tls?.mode && UNSERVED_TLS.has(server.tls.mode)) return false;
  if (server.tls?.mode === 'ISTIO_MUTUAL' && server.port.protocol.toUpperCase() !== 'HTTPS') return false;
  return server.port.protocol.toUpperCase() !== 'HTTPS' || server.tls !== undefined;
}

/** An HTTPS server terminated here (its own filter chain, chosen by SNI). */
const terminated = (server: Server) =>
  server.port.protocol.toUpperCase() === 'HTTPS' && server.tls !== undefined && TERMINATED_TLS.has(server.tls.mode ?? 'SIMPLE');

/**
 * Istio's SNI names of a TLS server (GetSNIHostsForServer): its hosts without the namespace part,
 * lower case, once each; a server for `*` names none (it takes every name, and clients without one).
 */
function serverNames(server: Server): string[] {
  const names = [...new Set(server.hosts.map((h) => stripNamespace(h).toLowerCase()))].sort();
  return names.includes('*') ? [] : names;
}

/** The certificate settings of a terminated server. */
function serverTls(t: NonNullable<Server['tls']>): ServerTlsConfig {
  const mode = (t.mode ?? 'SIMPLE') as ServerTlsConfig['mode'];
  // The mesh's own mTLS (sidecars to an egress gateway): nothing to read but the workload certificate.
  if (mode === 'ISTIO_MUTUAL') return { mode };
  const verify = mode !== 'SIMPLE' ? { mode, ...(t.caCertificates ? { caFile: t.caCertificates } : {}) } : {};
  return t.serverCertificate && t.privateKey
    ? { certificateFile: t.serverCertificate, keyFile: t.privateKey, ...verify }
    : { credentialName: t.credentialName ?? t.credentialNames?.[0], ...verify };
}

function gatewayListeners(index: MeshIndex, proxy: ProxyIdentity, clusters: ClusterSet): ListenerConfig[] {
  const gateways = (byKind(index, 'Gateway') as Gateway[]).filter((g) => selects(g.spec.selector ?? {}, proxy.labels));
  const numbers = [...new Set(gateways.flatMap((g) => g.spec.servers.filter(listened).map((sv) => sv.port.number)))].sort((a, b) => a - b);
  return numbers.map((number) => {
    const vhosts = new Map<string, VirtualHostConfig>();
    let protocol: 'http' | 'tcp' = 'http';
    let tcpDestinations: ListenerConfig['tcpDestinations'];
    let sniRoutes: Array<{ sniHosts: string[]; destinations: WeightedCluster[] }> | undefined;
    const tlsServers: TlsServerConfig[] = [];
    /** TLS hosts already on this port: Istio skips a later TLS server that repeats one (CheckDuplicates; `mast validate` says so). */
    const tlsHosts = new Set<string>();
    let httpsRedirect = false;
    /** A plaintext server of the port is GRPC-WEB: Istio gives its filter chain the grpc_web filter. */
    let grpcWeb = false;
    for (const gw of gateways)
      for (const server of gw.spec.servers.filter((sv) => sv.port.number === number && listened(sv))) {
        const t = server.tls;
        if (t) {
          if (server.hosts.some((h) => tlsHosts.has(h))) continue;
          for (const h of server.hosts) tlsHosts.add(h);
        }
        const passthroughTls = t?.mode === 'PASSTHROUGH';
        const own = terminated(server);
        if (!own && (!isHttpProtocol(server.port.protocol) || passthroughTls)) protocol = 'tcp';
        if (passthroughTls) sniRoutes ??= [];
        // A redirect to https is for plaintext servers (over TLS Envoy's require_tls is met already).
        if (t?.httpsRedirect && !own) httpsRedirect = true;
        if (server.port.protocol.toUpperCase() === 'GRPC-WEB') grpcWeb = true;
        const gwRef = `${namespaceOf(gw)}/${gw.metadata.name}`;
        const ctx: RouteContext = {
          gateway: gwRef,
          matchPort: number,
          portOf: index.portOf,
          useCluster: clusters.use,
          source: { labels: proxy.labels, namespace: proxy.namespace },
        };
        // A terminated server's virtual hosts are its own (Envoy's route config per HTTPS server).
        const serverHosts = own ? new Map<string, VirtualHostConfig>() : vhosts;
        for (const vs of index.virtualServices) {
          if (!(vs.spec.gateways ?? []).some((g) => normalizeGateway(g, namespaceOf(vs)) === gwRef)) continue;
          if (passthroughTls) {
            // Server names this server answers for (its hosts), each routed by the VirtualService's tls routes.
            for (const r of compileTlsRoutes(vs, ctx)) {
              const sniHosts = r.sniHosts.filter((h) => server.hosts.some((sh) => hostsOverlap(stripNamespace(sh), h)));
              if (sniHosts.length) sniRoutes!.push({ sniHosts, destinations: r.destinations });
            }
            continue;
          }
          if (!own && protocol === 'tcp') {
            tcpDestinations ??= compileTcpRoute(vs, ctx);
            continue;
          }
          addVirtualHosts(serverHosts, server, gw, vs, ctx);
        }
        if (own)
          tlsServers.push({
            name: `https.${number}.${server.port.name}.${gw.metadata.name}.${namespaceOf(gw)}`,
            serverNames: serverNames(server),
            tls: serverTls(t!),
            virtualHosts: [...serverHosts.values()],
          });
      }
    const body =
      sniRoutes && !tlsServers.length
        ? { sniRoutes }
        : protocol === 'tcp' && !tlsServers.length
          ? { tcpDestinations: tcpDestinations ?? [] }
          : { virtualHosts: [...vhosts.values()], ...(sniRoutes ? { sniRoutes } : {}), ...(tlsServers.length ? { tlsServers } : {}) };
    const listenerProtocol = tlsServers.length ? 'http' : protocol;
    const authz = authzFor(index, proxy);
    const jwt = listenerProtocol === 'http' ? jwtFor(index, proxy) : undefined;
    return {
      name: `0.0.0.0_${number}`,
      port: proxy.portMap?.[number] ?? number,
      matchPort: number,
      protocol: listenerProtocol,
      ...body,
      proxyProtocol: proxy.proxyProtocol,
      forwardClientCert: gatewayXfcc(proxy),
      ...(authz ? { authz } : {}),
      ...(jwt ? { jwt } : {}),
      ...(httpsRedirect ? { httpsRedirect } : {}),
      ...(grpcWeb && listenerProtocol === 'http' ? { grpcWeb: true as const } : {}),
    };
  });
}

/** The virtual hosts a VirtualService bound to the server's Gateway adds: one per host both admit, the narrower name. */
function addVirtualHosts(vhosts: Map<string, VirtualHostConfig>, server: Server, gw: Gateway, vs: VirtualService, ctx: RouteContext): void {
  for (const vsHost of vs.spec.hosts ?? []) {
    const serverHost = admittingHost(server, gw, vs, vsHost);
    if (!serverHost) continue;
    const domain = hostMatches(stripNamespace(serverHost), vsHost) ? vsHost.toLowerCase() : stripNamespace(serverHost).toLowerCase();
    const vhost = vhosts.get(domain) ?? { name: `${domain}:${ctx.matchPort}`, domains: [domain], routes: [] };
    vhost.routes.push(...compileHttpRoutes(vs, ctx));
    vhosts.set(domain, vhost);
  }
}

/**
 * The first of a server's hosts that admits a VirtualService host: its namespace part (`*`, `.` for
 * the Gateway's own, or a name) allows the VirtualService's namespace, and the names overlap.
 */
function admittingHost(server: Gateway['spec']['servers'][number], gw: Gateway, vs: VirtualService, vsHost: string): string | undefined {
  for (const h of server.hosts) {
    const { namespace, name } = splitRef(h.includes('/') ? h : `*/${h}`, '*');
    const allowed = namespace === '*' || namespace === namespaceOf(vs) || (namespace === '.' && namespaceOf(vs) === namespaceOf(gw));
    if (allowed && hostsOverlap(name, vsHost)) return h;
  }
  return undefined;
}

/** Istio's gateway default: SANITIZE_SET, the element with the client's certificate (`Cert`). */
const gatewayXfcc = (proxy: ProxyIdentity) =>
  ({ mode: proxy.gatewayTopology?.forwardClientCertDetails ?? 'SANITIZE_SET', cert: true }) as const;
