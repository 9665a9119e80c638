/**
 * A gateway port's TLS filter chains, as applied: each terminated server (`tlsServers`, or the
 * whole-port `tls`) with its certificate loaded and a route table of its own virtual hosts, and
 * each PASSTHROUGH route (`sniRoutes`) with its destinations; server-names.ts picks one per
 * connection. A server whose certificate is not there is left out (a client asking for it gets no
 * chain: the connection is closed, never served in plaintext or with another server's certificate).
 */
import type * as tls from 'node:tls';
import type { ListenerConfig, ServerTlsConfig, WeightedCluster } from '../contract/proxy-config';
import { loadTls, tlsFiles, type LoadedTls, type TlsHolder } from './gateway-tls';
import type { ListenerEntry } from './request/route';
import { compileRouteTable } from './routing';
import type { NamedChain } from './server-names';

/** A terminated server: TLS here, then HTTP routed by this server's virtual hosts only. */
interface TerminatedServer extends NamedChain {
  readonly kind: 'terminate';
  readonly name: string;
  /** MUTUAL: a verified client certificate is required; OPTIONAL_MUTUAL: one presented must verify. */
  readonly verifyClient: boolean | 'optional';
  readonly entry: ListenerEntry;
}

/** A server with certificate files of its own (re-read as they are renewed). */
export interface FileTlsChain extends TerminatedServer, TlsHolder {
  readonly mesh?: undefined;
  tlsFiles: LoadedTls;
  secureContext: tls.SecureContext;
}

/** An ISTIO_MUTUAL server: the proxy's workload certificate, clients verified against the mesh root. */
export interface MeshTlsChain extends TerminatedServer {
  readonly mesh: true;
}

export type TerminatedChain = FileTlsChain | MeshTlsChain;

/** A PASSTHROUGH route: the connection's bytes go on untouched. */
export interface PassthroughChain extends NamedChain {
  readonly kind: 'passthrough';
  readonly destinations: readonly WeightedCluster[];
}

export type ServingChain = TerminatedChain | PassthroughChain;

export type ChainsResult =
  | { readonly chains?: ServingChain[]; readonly skipped: Array<{ readonly tls: ServerTlsConfig; readonly why: string }> }
  | { readonly error: string };

/** A listener with TLS servers or PASSTHROUGH routes gets chains; others none. A certificate that does not load is an error (the config is refused). */
export function buildChains(lc: ListenerConfig, credentialsDir: string): ChainsResult {
  // A sidecar's TLS destination port shares the outbound port with the others: its SNI routes are read per connection (accept.ts).
  // A sidecar's inbound listener has chains only to terminate its Sidecar ingress `tls` (a port of its own).
  if (lc.trafficDirection === 'OUTBOUND' || (lc.trafficDirection === 'INBOUND' && !lc.tls)) return { skipped: [] };
  if (!lc.tls && !lc.tlsServers?.length && !lc.sniRoutes) return { skipped: [] };
  const servers = [
    ...(lc.tlsServers ?? []),
    // The whole-port form: one server for every name, with the listener's own virtual hosts.
    ...(lc.tls ? [{ name: lc.name, serverNames: [], tls: lc.tls, virtualHosts: lc.virtualHosts ?? [] }] : []),
  ];
  const chains: ServingChain[] = [];
  const skipped: Array<{ tls: ServerTlsConfig; why: string }> = [];
  for (const s of servers) {
    // Its own route table: a request over this server's connection for another server's host is a 404, as Envoy's per-server route config.
    // Over TLS a redirect to https has nothing to do (Envoy's require_tls is met): that is a plaintext server's setting.
    const only = { virtualHosts: s.virtualHosts, tls: undefined, tlsServers: undefined, sniRoutes: undefined, httpsRedirect: undefined };
    const config: ListenerConfig = { ...lc, ...only };
    const server = { kind: 'terminate', name: s.name, serverNames: s.serverNames.map((n) => n.toLowerCase()) } as const;
    const entry = { config, table: compileRouteTable(config) };
    if (s.tls.mode === 'ISTIO_MUTUAL') {
      chains.push({ ...server, mesh: true, verifyClient: true, entry });
      continue;
    }
    const files = tlsFiles(s.tls, credentialsDir);
    if ('skip' in files) {
      skipped.push({ tls: s.tls, why: `${lc.name} server ${s.name}: ${files.skip}; not served` });
      continue;
    }
    let loaded: LoadedTls;
    try {
      loaded = loadTls(files);
    } catch (err) {
      return { error: `listener ${lc.name} server ${s.name}: cannot load its certificate: ${(err as Error).message}` };
    }
    chains.push({
      ...server,
      tlsSettings: s.tls,
      verifyClient: s.tls.mode === 'MUTUAL' ? true : s.tls.mode === 'OPTIONAL_MUTUAL' ? 'optional' : false,
      entry,
      tlsFiles: loaded,
      secureContext: loaded.context,
    });
  }
  for (const r of lc.sniRoutes ?? [])
    chains.push({ kind: 'passthrough', serverNames: r.sniHosts.map((h) => h.toLowerCase()), destinations: r.destinations });
  return { chains, skipped };
}
