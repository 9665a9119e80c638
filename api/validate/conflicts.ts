/** Rules across resources that claim the same hosts or ports. */
import { finding, type Finding } from '../findings';
import { fqdn, hostsOverlap, MESH_GATEWAY, namespaceOf, splitRef, stripNamespace } from '../hosts';
import type { Gateway, VirtualService } from '../resources';
import type { MeshSet } from './references';

const boundGateways = (vs: VirtualService): string[] => (vs.spec.gateways?.length ? vs.spec.gateways : [MESH_GATEWAY]);

/** Sidecars cannot merge two VirtualServices for one host (ingress gateways can). */
export function checkMeshHostConflicts(set: MeshSet): Finding[] {
  const claims = new Map<string, VirtualService[]>();
  for (const vs of set.virtualServices) {
    if (!boundGateways(vs).includes(MESH_GATEWAY)) continue;
    for (const host of new Set((vs.spec.hosts ?? []).map((h) => fqdn(h, namespaceOf(vs))))) claims.set(host, [...(claims.get(host) ?? []), vs]);
  }
  const out: Finding[] = [];
  for (const [host, owners] of claims) {
    if (owners.length < 2) continue;
    const names = owners.map((v) => `${namespaceOf(v)}/${v.metadata.name}`).join(', ');
    for (const vs of owners) out.push(finding('MAST0204', vs, 'spec.hosts', `VirtualServices ${names} all define host "${host}" for the mesh gateway; sidecars would use only one`));
  }
  return out;
}

const sameSelector = (a: Gateway, b: Gateway): boolean => JSON.stringify(sortKeys(a.spec.selector)) === JSON.stringify(sortKeys(b.spec.selector));
const sortKeys = (o: Record<string, string> | undefined) => Object.fromEntries(Object.entries(o ?? {}).sort());

/** Two Gateways for the same proxies, same port, overlapping hosts: one of them loses. */
export function checkConflictingGateways(set: MeshSet): Finding[] {
  const out: Finding[] = [];
  const gws = set.gateways;
  for (let i = 0; i < gws.length; i++)
    for (let j = 0; j < gws.length; j++) {
      if (i === j || !sameSelector(gws[i], gws[j])) continue;
      for (const [si, a] of gws[i].spec.servers.entries())
        for (const b of gws[j].spec.servers) {
          if (a.port.number !== b.port.number) continue;
          const overlap = a.hosts.find((h) => b.hosts.some((k) => hostsOverlap(stripNamespace(h), stripNamespace(k))));
          if (overlap)
            out.push(finding('MAST0208', gws[i], `spec.servers[${si}]`, `port ${a.port.number} host "${overlap}" is also served by Gateway ${namespaceOf(gws[j])}/${gws[j].metadata.name} with the same selector`));
        }
    }
  return out;
}

function vsBindsGateway(vs: VirtualService, gw: Gateway): boolean {
  return boundGateways(vs).some((ref) => {
    const { namespace, name } = splitRef(ref, namespaceOf(vs));
    return name === gw.metadata.name && namespace === namespaceOf(gw);
  });
}

/** `ns/host` on a gateway server limits which namespaces' VirtualServices it accepts. */
function serverAccepts(serverHost: string, gw: Gateway, vs: VirtualService, vsHost: string): boolean {
  const slash = serverHost.indexOf('/');
  const scope = slash < 0 ? '*' : serverHost.slice(0, slash);
  const nsOk = scope === '*' || (scope === '.' ? namespaceOf(vs) === namespaceOf(gw) : scope === namespaceOf(vs));
  return nsOk && hostsOverlap(stripNamespace(serverHost), vsHost);
}

export function checkGatewayHosts(set: MeshSet): Finding[] {
  const out: Finding[] = [];
  for (const gw of set.gateways) {
    const bound = set.virtualServices.filter((vs) => vsBindsGateway(vs, gw));
    gw.spec.servers.forEach((server, i) => {
      if (server.tls?.httpsRedirect) return;
      server.hosts.forEach((host, j) => {
        if (!bound.some((vs) => (vs.spec.hosts ?? []).some((h) => serverAccepts(host, gw, vs, h))))
          out.push(finding('MAST0206', gw, `spec.servers[${i}].hosts[${j}]`, `no VirtualService bound to this gateway serves "${host}"; requests for it get 404`));
      });
    });
  }
  for (const vs of set.virtualServices)
    for (const gw of set.gateways) {
      if (!vsBindsGateway(vs, gw)) continue;
      (vs.spec.hosts ?? []).forEach((host, i) => {
        if (!gw.spec.servers.some((s) => s.hosts.some((h) => serverAccepts(h, gw, vs, host))))
          out.push(finding('MAST0207', vs, `spec.hosts[${i}]`, `host "${host}" is not served by Gateway ${namespaceOf(gw)}/${gw.metadata.name}`));
      });
    }
  return out;
}
