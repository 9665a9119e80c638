/** Rules inside one Gateway, DestinationRule or ServiceEntry. */
import { finding, type Finding } from '../findings';
import type { DestinationRule, Gateway, ServiceEntry } from '../resources';
import { isKnownProtocol } from '../shape';
import { checkPoolSettings } from './grpc';
import { hostsOverlap, isValidHost, stripNamespace } from '../hosts';
import { isToken } from '../tokens';
import { checkLocalityLbSetting } from '../locality';

const TLS_PROTOCOLS = new Set(['HTTPS', 'TLS']);

export function checkGateway(gw: Gateway): Finding[] {
  const out: Finding[] = [];
  const byPort = new Map<number, { protocol: string; at: string }>();
  gw.spec.servers.forEach((server, i) => {
    const at = `spec.servers[${i}]`;
    const protocol = server.port.protocol;
    if (!isToken(protocol) && !isKnownProtocol(protocol))
      out.push(finding('MAST0109', gw, `${at}.port.protocol`, `"${protocol}" is not a known protocol`));
    const seen = byPort.get(server.port.number);
    if (seen && seen.protocol.toUpperCase() !== protocol.toUpperCase())
      out.push(finding('MAST0112', gw, `${at}.port`, `port ${server.port.number} is ${protocol} here but ${seen.protocol} in ${seen.at}`));
    else byPort.set(server.port.number, { protocol, at });
    server.hosts.forEach((host, j) => {
      if (!isToken(host) && !isValidHost(stripNamespace(host)))
        out.push(finding('MAST0110', gw, `${at}.hosts[${j}]`, `"${host}" is not a valid host`));
    });
    const tls = server.tls;
    const upper = protocol.toUpperCase();
    if (TLS_PROTOCOLS.has(upper) && !tls) out.push(finding('MAST0114', gw, `${at}.tls`, `a ${upper} server needs tls settings`));
    if (tls && (tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL' || tls.mode === 'OPTIONAL_MUTUAL') && upper === 'HTTPS') {
      const hasCert = tls.credentialName || tls.credentialNames?.length || (tls.serverCertificate && tls.privateKey);
      if (!hasCert)
        out.push(
          finding(
            'MAST0114',
            gw,
            `${at}.tls.credentialName`,
            `tls mode ${tls.mode} needs credentialName (or serverCertificate and privateKey)`,
          ),
        );
    }
  });
  out.push(...checkTlsHostsPerPort(gw));
  return out;
}

/**
 * Two TLS servers of one port whose hosts meet: Istio serves one filter chain per
 * server name, so it skips a later TLS server that repeats a host (and counts it in
 * pilot_total_rejected_configs); a wildcard beside a name it covers is served, but that name's
 * clients get the narrower server's TLS settings.
 */
function checkTlsHostsPerPort(gw: Gateway): Finding[] {
  const out: Finding[] = [];
  const servers = gw.spec.servers;
  servers.forEach((b, j) => {
    for (let i = 0; i < j; i++) {
      const a = servers[i];
      if (a.port.number !== b.port.number || !a.tls || !b.tls) continue;
      const repeated = b.hosts.find((h) => a.hosts.includes(h));
      const at = `spec.servers[${j}].hosts`;
      if (repeated) {
        const why = `host "${repeated}" is already a TLS host of spec.servers[${i}] on port ${b.port.number}: this server is not served (Istio skips it)`;
        out.push(finding('MAST0229', gw, at, why));
        return;
      }
      const meet = b.hosts.find((h) => a.hosts.some((k) => hostsOverlap(stripNamespace(h), stripNamespace(k))));
      if (meet && JSON.stringify(a.tls ?? {}) !== JSON.stringify(b.tls ?? {}))
        out.push(
          finding(
            'MAST0229',
            gw,
            at,
            `host "${meet}" overlaps the hosts of spec.servers[${i}] on port ${b.port.number} with other TLS settings: each client gets the server of the narrowest name its SNI matches`,
          ),
        );
    }
  });
  return out;
}

export function checkDestinationRule(dr: DestinationRule): Finding[] {
  const out: Finding[] = [];
  if (!isToken(dr.spec.host) && !isValidHost(dr.spec.host))
    out.push(finding('MAST0110', dr, 'spec.host', `"${dr.spec.host}" is not a valid host`));
  const names = new Set<string>();
  dr.spec.subsets?.forEach((subset, i) => {
    if (names.has(subset.name)) out.push(finding('MAST0111', dr, `spec.subsets[${i}].name`, `subset "${subset.name}" is defined twice`));
    names.add(subset.name);
  });
  checkPoolSettings(dr, out);
  out.push(...checkLocalitySettings(dr));
  return out;
}

type Policy = NonNullable<DestinationRule['spec']['trafficPolicy']>;

/** Each level's localityLbSetting, with the outlier detection that level gets (its own or an enclosing level's). */
function checkLocalitySettings(dr: DestinationRule): Finding[] {
  const out: Finding[] = [];
  const check = (p: Policy | undefined, at: string, outlier: boolean) => {
    const lb = p?.loadBalancer?.localityLbSetting;
    if (lb) out.push(...checkLocalityLbSetting(dr, lb, `${at}.loadBalancer.localityLbSetting`, outlier || !!p?.outlierDetection));
  };
  const levels = (p: Policy | undefined, at: string, outlier: boolean) => {
    check(p, at, outlier);
    p?.portLevelSettings?.forEach((port, i) => check(port as Policy, `${at}.portLevelSettings[${i}]`, outlier || !!p.outlierDetection));
  };
  const top = dr.spec.trafficPolicy;
  levels(top, 'spec.trafficPolicy', false);
  dr.spec.subsets?.forEach((s, i) => levels(s.trafficPolicy, `spec.subsets[${i}].trafficPolicy`, !!top?.outlierDetection));
  return out;
}

export function checkServiceEntry(se: ServiceEntry): Finding[] {
  const out: Finding[] = [];
  se.spec.hosts.forEach((host, i) => {
    if (!isToken(host) && !isValidHost(host, false)) out.push(finding('MAST0110', se, `spec.hosts[${i}]`, `"${host}" is not a valid host`));
  });
  const numbers = new Set<number>();
  const names = new Set<string>();
  se.spec.ports?.forEach((port, i) => {
    if (port.protocol && !isKnownProtocol(port.protocol))
      out.push(finding('MAST0109', se, `spec.ports[${i}].protocol`, `"${port.protocol}" is not a known protocol`));
    if (numbers.has(port.number)) out.push(finding('MAST0112', se, `spec.ports[${i}].number`, `port ${port.number} is declared twice`));
    if (names.has(port.name)) out.push(finding('MAST0111', se, `spec.ports[${i}].name`, `port name "${port.name}" is used twice`));
    numbers.add(port.number);
    names.add(port.name);
  });
  return out;
}
