/** References between resources: gateways, destination hosts, subsets. */
import { finding, type Finding } from '../findings';
import { fqdn, hostMatches, MESH_GATEWAY, namespaceOf, splitRef } from '../hosts';
import type { Registry } from '../registry';
import type { DestinationRule, Gateway, VirtualService } from '../resources';
import { isToken } from '../tokens';

export interface MeshSet {
  readonly gateways: readonly Gateway[];
  readonly virtualServices: readonly VirtualService[];
  readonly destinationRules: readonly DestinationRule[];
  readonly registry: Registry;
}

type Dest = { host: string; subset?: string };

export function checkReferences(set: MeshSet): Finding[] {
  const out: Finding[] = [];
  for (const vs of set.virtualServices) {
    const ns = namespaceOf(vs);
    const gatewayRefs: Array<[string, string]> = (vs.spec.gateways ?? []).map((g, i) => [g, `spec.gateways[${i}]`]);
    vs.spec.http?.forEach((r, i) => r.match?.forEach((m, j) => m.gateways?.forEach((g, k) => gatewayRefs.push([g, `spec.http[${i}].match[${j}].gateways[${k}]`]))));
    for (const [ref, path] of gatewayRefs) {
      if (ref === MESH_GATEWAY || isToken(ref)) continue;
      const { namespace, name } = splitRef(ref, ns);
      if (!set.gateways.some((g) => g.metadata.name === name && namespaceOf(g) === namespace))
        out.push(finding('MAST0201', vs, path, `gateway "${namespace}/${name}" does not exist`));
    }
    for (const [dest, path] of destinationsOf(vs)) checkDestination(set, vs, ns, dest, path, out);
  }
  return out;
}

function destinationsOf(vs: VirtualService): Array<[Dest, string]> {
  const out: Array<[Dest, string]> = [];
  vs.spec.http?.forEach((r, i) => {
    r.route?.forEach((d, j) => out.push([d.destination, `spec.http[${i}].route[${j}].destination`]));
    if (r.mirror) out.push([r.mirror, `spec.http[${i}].mirror`]);
    r.mirrors?.forEach((m, j) => out.push([m.destination, `spec.http[${i}].mirrors[${j}].destination`]));
  });
  for (const section of ['tcp', 'tls'] as const)
    vs.spec[section]?.forEach((r, i) => r.route?.forEach((d, j) => out.push([d.destination, `spec.${section}[${i}].route[${j}].destination`])));
  return out;
}

function checkDestination(set: MeshSet, vs: VirtualService, ns: string, dest: Dest, path: string, out: Finding[]): void {
  if (isToken(dest.host)) return;
  if (set.registry.find(dest.host, ns).length === 0) {
    out.push(finding('MAST0202', vs, `${path}.host`, `host "${dest.host}" matches no Service or ServiceEntry (looked for ${fqdn(dest.host, ns)})`));
    return;
  }
  if (dest.subset === undefined || isToken(dest.subset)) return;
  const host = fqdn(dest.host, ns);
  const rules = set.destinationRules.filter((dr) => hostMatches(fqdn(dr.spec.host, namespaceOf(dr)), host));
  if (!rules.some((dr) => dr.spec.subsets?.some((s) => s.name === dest.subset)))
    out.push(finding('MAST0203', vs, `${path}.subset`, `subset "${dest.subset}" of host "${dest.host}" is not defined by any DestinationRule${rules.length ? ` (${rules.map((r) => r.metadata.name).join(', ')} define ${rules.flatMap((r) => r.spec.subsets?.map((s) => s.name) ?? []).join(', ') || 'none'})` : ''}`));
}

/** DestinationRule subsets must select at least one workload of the service they refine. */
export function checkSubsetWorkloads(set: MeshSet): Finding[] {
  const out: Finding[] = [];
  for (const dr of set.destinationRules) {
    if (isToken(dr.spec.host)) continue;
    const services = set.registry.find(dr.spec.host, namespaceOf(dr)).filter((s) => s.selector !== undefined || s.source === 'ServiceEntry');
    if (services.length === 0) continue;
    dr.spec.subsets?.forEach((subset, i) => {
      if (!subset.labels || Object.values(subset.labels).some(isToken)) return;
      const matched = services.some((s) => set.registry.select(s.namespace, { ...(s.selector ?? {}), ...subset.labels }).length > 0);
      if (!matched)
        out.push(finding('MAST0205', dr, `spec.subsets[${i}].labels`, `subset "${subset.name}" (labels ${JSON.stringify(subset.labels)}) selects no workload of ${dr.spec.host}`));
    });
  }
  return out;
}
