/** Checks a ProxyConfig before it is applied; the reason becomes the NACK. */
import { MESH_TLS_MIN_VERSIONS, PATH_NORMALIZATIONS, PROXY_CONFIG_SCHEMA, type ProxyConfig } from '../contract/proxy-config';
import { checkTracing } from './tracing/check';

export function checkConfig(c: ProxyConfig): string | undefined {
  if (!c || typeof c !== 'object') return 'config is not an object';
  if (c.schema !== PROXY_CONFIG_SCHEMA)
    return `unsupported config schema ${JSON.stringify((c as { schema?: unknown }).schema)} (this proxy reads ${PROXY_CONFIG_SCHEMA})`;
  if (typeof c.version !== 'string' || !c.version) return 'config.version must be a non-empty string';
  if (!Array.isArray(c.listeners) || !Array.isArray(c.clusters)) return 'config needs listeners and clusters arrays';
  if (c.pathNormalization !== undefined && !PATH_NORMALIZATIONS.includes(c.pathNormalization))
    return `unknown pathNormalization ${JSON.stringify(c.pathNormalization)} (one of ${PATH_NORMALIZATIONS.join(', ')})`;
  if (c.meshTlsMinVersion !== undefined && !MESH_TLS_MIN_VERSIONS.includes(c.meshTlsMinVersion))
    return `unknown meshTlsMinVersion ${JSON.stringify(c.meshTlsMinVersion)} (one of ${MESH_TLS_MIN_VERSIONS.join(', ')})`;
  const tracing = c.tracing === undefined ? undefined : checkTracing(c.tracing);
  if (tracing) return tracing;
  const clusters = new Set<string>();
  for (const cl of c.clusters) {
    if (typeof cl?.name !== 'string') return 'a cluster has no name';
    if (clusters.has(cl.name)) return `cluster ${cl.name} is defined twice`;
    clusters.add(cl.name);
    if (!Array.isArray(cl.endpoints)) return `cluster ${cl.name}: endpoints must be an array`;
    for (const e of cl.endpoints)
      if (typeof e.address !== 'string' || !Number.isInteger(e.port) || e.port < 1 || e.port > 65535)
        return `cluster ${cl.name}: bad endpoint ${JSON.stringify(e)}`;
      else if (e.priority !== undefined && !(Number.isInteger(e.priority) && e.priority >= 0))
        return `cluster ${cl.name}: endpoint ${e.address}:${e.port} has priority ${JSON.stringify(e.priority)} (a whole number from 0)`;
    const weights = Object.values(cl.localityWeights ?? {});
    if (weights.some((w) => !(typeof w === 'number' && w >= 0 && Number.isFinite(w))))
      return `cluster ${cl.name}: localityWeights must be numbers from 0`;
  }
  const ports = new Set<string>();
  for (const l of c.listeners) {
    if (!Number.isInteger(l?.port) || l.port < 0 || l.port > 65535) return `listener ${l?.name}: bad port ${JSON.stringify(l?.port)}`;
    // Several listeners may share a port (a sidecar's outbound ports), told apart by the destination port.
    if (l.port !== 0 && ports.has(`${l.port}|${l.matchPort}`)) return `two listeners on port ${l.port} for destination port ${l.matchPort}`;
    ports.add(`${l.port}|${l.matchPort}`);
    // PeerAuthentication is enforced where connections come in for the app: on any other listener it
    // would be ignored in silence (a STRICT port serving plain text), so the config is refused instead.
    const mtls = l.mtls !== undefined || l.mtlsByPort !== undefined;
    if (mtls && l.trafficDirection !== 'INBOUND')
      return `listener ${l.name}: mtls is for a sidecar's inbound listener (trafficDirection INBOUND)`;
    for (const d of [...(l.protocol === 'tcp' ? (l.tcpDestinations ?? []) : []), ...(l.sniRoutes ?? []).flatMap((r) => r.destinations)])
      if (!clusters.has(d.cluster)) return `listener ${l.name} sends to unknown cluster ${d.cluster}`;
    if (l.tlsServers !== undefined && !Array.isArray(l.tlsServers)) return `listener ${l.name}: tlsServers must be an array`;
    for (const s of l.tlsServers ?? [])
      if (typeof s?.name !== 'string' || !Array.isArray(s.serverNames) || !s.tls || !Array.isArray(s.virtualHosts))
        return `listener ${l.name}: a TLS server needs name, serverNames, tls and virtualHosts`;
    for (const vh of [...(l.virtualHosts ?? []), ...(l.tlsServers ?? []).flatMap((s) => s.virtualHosts)])
      for (const r of vh.routes) {
        if (r.action.kind !== 'forward') continue;
        for (const d of r.action.destinations) {
          if (!clusters.has(d.cluster)) return `route ${r.name} sends to unknown cluster ${d.cluster}`;
          if (!(d.weight >= 0)) return `route ${r.name}: negative weight for ${d.cluster}`;
        }
        for (const m of r.action.mirrors ?? [])
          if (!clusters.has(m.cluster)) return `route ${r.name} mirrors to unknown cluster ${m.cluster}`;
      }
  }
  return undefined;
}
