/** Sidecars cannot merge two VirtualServices for one host (ingress gateways can). */
import { finding, type Finding } from '../findings';
import { fqdn, hostsOverlap, MESH_GATEWAY, namespaceOf } from '../hosts';
import type { VirtualService } from '../resources';
import { exportScopes, scopesOverlap } from '../visibility';
import { hostNeighbours } from './host-pairs';

export const boundToMesh = (vs: VirtualService): boolean => !vs.spec.gateways?.length || vs.spec.gateways.includes(MESH_GATEWAY);

export function checkMeshHostConflicts(virtualServices: readonly VirtualService[]): Finding[] {
  const mesh = virtualServices.filter(boundToMesh);
  const out: Finding[] = [];
  const neighbours = hostNeighbours(mesh, (vs) => (vs.spec.hosts ?? []).map((h) => fqdn(h, namespaceOf(vs))));
  for (const a of mesh) {
    const scopeA = exportScopes(a.spec.exportTo, namespaceOf(a));
    for (const b of neighbours(a)) {
      if (a === b || !scopesOverlap(scopeA, exportScopes(b.spec.exportTo, namespaceOf(b)))) continue;
      const hostsB = (b.spec.hosts ?? []).map((h) => fqdn(h, namespaceOf(b)));
      const host = (a.spec.hosts ?? []).map((h) => fqdn(h, namespaceOf(a))).find((h) => hostsB.some((k) => hostsOverlap(h, k)));
      if (host)
        out.push(
          finding(
            'MAST0204',
            a,
            'spec.hosts',
            `VirtualServices ${namespaceOf(a)}/${a.metadata.name} and ${namespaceOf(b)}/${b.metadata.name} both define host "${host}" for the mesh gateway; sidecars would use only one`,
          ),
        );
    }
  }
  return out;
}
