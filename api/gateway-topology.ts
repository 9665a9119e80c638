/**
 * Istio's ProxyConfig `gatewayTopology` (`meshConfig.defaultConfig.gatewayTopology`, or a gateway
 * pod's own `proxy.istio.io/config`): what is in front of a gateway. As in Istio, a gateway reads
 * it when it starts (Envoy's bootstrap), so a change takes a restart of the gateway; mast turns it
 * into mast-proxy's flags (the `Mesh` construct's gateway containers, `mast local`'s gateways).
 */

/**
 * Istio's `ForwardClientCertDetails` (Envoy's names): SANITIZE drops the header; FORWARD_ONLY passes
 * it on over mTLS; APPEND_FORWARD adds this hop's element to it over mTLS; SANITIZE_SET replaces it
 * with this hop's element over mTLS; ALWAYS_FORWARD_ONLY passes it on always. Without a verified
 * client certificate every mode but ALWAYS_FORWARD_ONLY drops it.
 */
export type ForwardClientCertDetails = 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';
export const FORWARD_CLIENT_CERT_DETAILS: readonly ForwardClientCertDetails[] = [
  'SANITIZE',
  'FORWARD_ONLY',
  'APPEND_FORWARD',
  'SANITIZE_SET',
  'ALWAYS_FORWARD_ONLY',
];

export interface GatewayTopology {
  /** Proxies in front that append to x-forwarded-for: the client is that many entries from the right. */
  readonly numTrustedProxies?: number;
  /** Every connection starts with a PROXY protocol header (Istio's `proxyProtocol: {}`). */
  readonly proxyProtocol?: boolean;
  readonly forwardClientCertDetails?: ForwardClientCertDetails;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The gatewayTopology of a mesh config's `mesh` (parsed), as far as it is valid: a value the mesh
 * config's validation refuses (MAST0002) is left out here, so the gateway keeps Istio's default.
 */
export function gatewayTopologyOf(mesh: unknown): GatewayTopology {
  const topology = isRecord(mesh) && isRecord(mesh.defaultConfig) ? mesh.defaultConfig.gatewayTopology : undefined;
  if (!isRecord(topology)) return {};
  const { numTrustedProxies: hops, proxyProtocol, forwardClientCertDetails: xfcc } = topology;
  return {
    ...(typeof hops === 'number' && Number.isInteger(hops) && hops > 0 ? { numTrustedProxies: hops } : {}),
    ...(isRecord(proxyProtocol) ? { proxyProtocol: true } : {}),
    ...(FORWARD_CLIENT_CERT_DETAILS.includes(xfcc as ForwardClientCertDetails)
      ? { forwardClientCertDetails: xfcc as ForwardClientCertDetails }
      : {}),
  };
}

/** mast-proxy's flags for a gateway with this topology. */
export function gatewayTopologyFlags(t: GatewayTopology): string[] {
  return [
    ...(t.numTrustedProxies ? ['--trusted-hops', String(t.numTrustedProxies)] : []),
    ...(t.proxyProtocol ? ['--proxy-protocol'] : []),
    ...(t.forwardClientCertDetails ? ['--forward-client-cert', t.forwardClientCertDetails] : []),
  ];
}
