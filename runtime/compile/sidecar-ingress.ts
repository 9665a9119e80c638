/**
 * A Sidecar's `ingress` listeners as a sidecar's inbound listeners (Istio's inbound chains built
 * from Sidecar.ingress instead of the workload's service ports), forwarding to the listener's
 * `defaultEndpoint`, with PeerAuthentication's mode on that port: in a pod, on the inbound port,
 * matched by each connection's original destination port (Istio's filter chain match on it); in
 * `mast local`, each on a port of its own (ProxyIdentity.inbound.ingressPorts). Its `tls` is
 * applied as Istio applies it: only where that mode is DISABLE (mesh mTLS otherwise owns the port),
 * the certificate read by the proxy from the files named. Pure.
 */
import { isHttp2Protocol, type SidecarSpec } from '../../api';
import type { ClusterConfig, ListenerConfig, ServerTlsConfig } from '../contract/proxy-config';
import type { ProxyIdentity } from '../contract/push-protocol';
import type { AuthzConfig } from '../contract/authz';
import type { JwtConfig } from '../contract/jwt';
import { mtlsAtPort } from './authz';
import type { MeshIndex } from './mesh-index';
import { sidecarResourceFor } from './sidecar-scope';

type IngressListener = NonNullable<SidecarSpec['ingress']>[number];

export interface SidecarIngress {
  readonly listeners: ListenerConfig[];
  readonly clusters: ClusterConfig[];
}

/** What every inbound listener of the proxy shares: its policies. */
export interface InboundPolicies {
  readonly authz?: AuthzConfig;
  readonly jwt?: JwtConfig;
}

/**
 * Where a listener's traffic goes: `127.0.0.1:P` and `0.0.0.0:P` (the pod's address; in `mast local`
 * the workload's loopback) → 127.0.0.1:P, `[::1]:P` and `[::]:P` → ::1:P; none → the app's port in
 * `mast local`, and in a pod (no `appPort`) the port it was sent to (`port` 0), as Istio's
 * original-destination cluster. A unix socket is not served (MAST0301).
 */
export function defaultEndpointOf(l: IngressListener, appPort: number | undefined): { address: string; port: number } | undefined {
  const text = l.defaultEndpoint;
  if (text === undefined || text === '') return { address: '127.0.0.1', port: appPort ?? 0 };
  const m = /^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]|):(\d+)$/.exec(text);
  if (!m) return undefined;
  return { address: m[1].startsWith('[') ? '::1' : '127.0.0.1', port: Number(m[2]) };
}

/** The listener's `tls` as the proxy serves it, when Istio would apply it: SIMPLE or MUTUAL, with its mTLS mode DISABLE. */
function terminatedTls(l: IngressListener, mode: string): ServerTlsConfig | undefined {
  const tls = l.tls;
  if (!tls || mode !== 'DISABLE') return undefined;
  if (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL' && tls.mode !== 'OPTIONAL_MUTUAL') return undefined;
  return {
    mode: tls.mode,
    ...(tls.serverCertificate ? { certificateFile: tls.serverCertificate } : {}),
    ...(tls.privateKey ? { keyFile: tls.privateKey } : {}),
    ...(tls.caCertificates && tls.mode !== 'SIMPLE' ? { caFile: tls.caCertificates } : {}),
  };
}

export function sidecarIngress(index: MeshIndex, proxy: ProxyIdentity, policies: InboundPolicies): SidecarIngress {
  const inbound = proxy.inbound;
  if (!inbound) return { listeners: [], clusters: [] };
  const appPort = inbound.appPort;
  // mast local: the ports it listens on for them; a pod (no app port): its inbound port, by original destination.
  const portFor = (n: number): number | undefined => (appPort === undefined ? inbound.port : inbound.ingressPorts?.[n]);
  const sc = sidecarResourceFor(index, proxy.namespace, proxy.labels);
  const listeners: ListenerConfig[] = [];
  const clusters: ClusterConfig[] = [];
  for (const l of sc?.spec.ingress ?? []) {
    const port = portFor(l.port.number);
    const to = defaultEndpointOf(l, appPort);
    if (port === undefined || !to) continue;
    const mode = mtlsAtPort(index, proxy, l.port.number);
    const tls = terminatedTls(l, mode);
    const cluster = `inbound|${l.port.number}|${l.port.name ?? ''}|`;
    clusters.push({
      name: cluster,
      host: to.address,
      port: to.port,
      // Port 0: each connection to 127.0.0.1 on the port it was sent to (a pod's listener without defaultEndpoint).
      ...(to.port ? { endpoints: [to], lb: { kind: 'round_robin' as const } } : { endpoints: [], lb: { kind: 'passthrough' as const } }),
      connectTimeoutMs: 1000,
      ...(isHttp2Protocol(l.port.protocol?.toUpperCase()) ? { upstreamProtocol: 'h2' as const } : {}),
    });
    listeners.push({
      name: `inbound_${l.port.number}`,
      trafficDirection: 'INBOUND',
      port,
      matchPort: l.port.number,
      ...(policies.authz ? { authz: policies.authz } : {}),
      ...(policies.jwt ? { jwt: policies.jwt } : {}),
      mtls: mode,
      ...(tls ? { tls } : {}),
      forwardClientCert: { mode: 'APPEND_FORWARD' },
      protocol: 'http',
      virtualHosts: [
        {
          name: `inbound|http|${l.port.number}`,
          domains: ['*'],
          routes: [{ name: 'default', matches: [], action: { kind: 'forward', destinations: [{ cluster, weight: 100 }] } }],
        },
      ],
    });
  }
  return { listeners, clusters };
}
