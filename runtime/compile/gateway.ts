/**
 * A gateway's config: a listener per port of the Gateways selecting it, each serving the
 * VirtualServices bound to those Gateways: HTTP virtual hosts (the narrower of the server's and
 * the route's host names), TCP routes, or TLS passthrough routes by server name.
 */
import { hostMatches, hostsOverlap, namespaceOf, selects, splitRef, stripNamespace, type Gateway, type VirtualService } from '../../api';
import {
  PROXY_CONFIG_SCHEMA,
  type ListenerConfig,
  type ProxyConfig,
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
  const clusters = new ClusterSet(index, cache, proxy.namespace, false);
  const listeners = gatewayListeners(index, proxy, clusters);
  return { schema: PROXY_CONFIG_SCHEMA, version: index.version, listeners, clusters: clusters.all(), ...index.meshSettings };
}

/** TLS modes a gateway does not terminate (`mast validate` says so): such a server is not listened on. */
const UNSERVED_TLS: ReadonlySet<string> = new Set(['ISTIO_MUTUAL', 'OPTIONAL_MUTUAL', 'AUTO_PASSTHROUGH']);

/** A server mast serves. Never one in plain text that asked for TLS: not an unserved mode, not HTTPS without TLS settings. */
function listened(server: Gateway['spec']['servers'][number]): boolean {
  if (server.tls?.mode && UNSERVED_TLS.has(server.tls.mode)) return false;
  return server.port.protocol.toUpperCase() !== 'HTTPS' || server.tls !== undefined;
}

function gatewayListeners(index: MeshIndex, proxy: ProxyIdentity, clusters: ClusterSet): ListenerConfig[] {
  const gateways = (byKind(index, 'Gateway') as Gateway[]).filter((g) => selects(g.spec.selector ?? {}, proxy.labels));
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
        if (!isHttpProtocol(server.port.protocol) || passthroughTls) protocol = 'tcp';
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
        const ctx: RouteContext = {
          gateway: gwRef,
          matchPort: number,
          portOf: index.portOf,
          useCluster: clusters.use,
          source: { labels: proxy.labels, namespace: proxy.namespace },
        };
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
          if (protocol === 'tcp') {
            tcpDestinations ??= compileTcpRoute(vs, ctx);
            continue;
          }
          for (const vsHost of vs.spec.hosts ?? []) {
            const serverHost = admittingHost(server, gw, vs, vsHost);
            if (!serverHost) continue;
            // The narrower of the two names is what this virtual host answers.
            const domain = hostMatches(stripNamespace(serverHost), vsHost)
              ? vsHost.toLowerCase()
              : stripNamespace(serverHost).toLowerCase();
            const vhost = vhosts.get(domain) ?? { name: `${domain}:${number}`, domains: [domain], routes: [] };
            vhost.routes.push(...compileHttpRoutes(vs, ctx));
            vhosts.set(domain, vhost);
          }
        }
      }
    const body = sniRoutes
      ? { sniRoutes }
      : protocol === 'tcp'
        ? { tcpDestinations: tcpDestinations ?? [] }
        : { virtualHosts: [...vhosts.values()] };
    const authz = authzFor(index, proxy);
    const jwt = protocol === 'http' ? jwtFor(index, proxy) : undefined;
    return {
      name: `0.0.0.0_${number}`,
      port: proxy.portMap?.[number] ?? number,
      matchPort: number,
      protocol,
      ...body,
      proxyProtocol: proxy.proxyProtocol,
      forwardClientCert: gatewayXfcc(proxy),
      ...(authz ? { authz } : {}),
      ...(jwt ? { jwt } : {}),
      ...(tls ? { tls } : {}),
      ...(httpsRedirect ? { httpsRedirect } : {}),
    };
  });
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
