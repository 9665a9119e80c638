/**
 * Destinations of VirtualServices: does the host exist for the namespaces that use the
 * route, does the port exist, is a port needed, is the subset defined. Host visibility
 * follows Istio: a route exported to namespace N needs a service visible in N.
 */
import { finding, type Finding } from '../findings';
import { fqdn, namespaceOf } from '../hosts';
import { rulesForHost } from '../rule-index';
import type { RegisteredService, Registry } from '../registry';
import type { DestinationRule, VirtualService } from '../resources';
import { isToken } from '../tokens';
import { visibleIn } from '../visibility';

export interface Destination {
  readonly host: string;
  readonly subset?: string;
  readonly port?: { number?: number };
}

/** Every destination of a VirtualService (routes and mirrors) with its field path. */
export function destinationsOf(vs: VirtualService): Array<[Destination, string]> {
  const out: Array<[Destination, string]> = [];
  vs.spec.http?.forEach((r, i) => {
    r.route?.forEach((d, j) => out.push([d.destination, `spec.http[${i}].route[${j}].destination`]));
    if (r.mirror) out.push([r.mirror, `spec.http[${i}].mirror`]);
    r.mirrors?.forEach((m, j) => out.push([m.destination, `spec.http[${i}].mirrors[${j}].destination`]));
  });
  for (const section of ['tcp', 'tls'] as const)
    vs.spec[section]?.forEach((r, i) =>
      r.route?.forEach((d, j) => out.push([d.destination, `spec.${section}[${i}].route[${j}].destination`])),
    );
  return out;
}

export function lookupHost(
  registry: Registry,
  host: string,
  sourceNs: string,
  exportTo: readonly string[] | undefined,
): RegisteredService | undefined {
  const target = fqdn(host, sourceNs);
  const exact = registry.withHost(target);
  const everywhere = exact.find((s) => s.exportTo === '*');
  if (everywhere) return everywhere;
  const audiences = exportTo?.length ? exportTo.map((e) => (e === '.' ? sourceNs : e)) : [sourceNs];
  for (const ns of audiences) {
    const found = exact.find((s) => ns !== '*' && visibleIn(s.exportTo, ns));
    if (found) return found;
  }
  const bare = target.replace(/^\*/, '');
  return registry.wildcardServices().find((s) => visibleIn(s.exportTo, sourceNs) && bare.endsWith(s.host.slice(1)));
}

export function checkDestinations(vs: VirtualService, registry: Registry, rules: readonly DestinationRule[]): Finding[] {
  const out: Finding[] = [];
  const ns = namespaceOf(vs);
  for (const [dest, path] of destinationsOf(vs)) {
    if (isToken(dest.host)) continue;
    if (registry.hasServices) {
      const service = lookupHost(registry, dest.host, ns, vs.spec.exportTo);
      if (!service)
        out.push(
          finding(
            'MAST0202',
            vs,
            `${path}.host`,
            `host "${dest.host}" matches no Service or ServiceEntry visible here (looked for ${fqdn(dest.host, ns)})`,
          ),
        );
      else checkPort(vs, dest, path, service, out);
    }
    // As istioctl analyze (IST0101): a subset no DestinationRule of the input defines is reported, also when the input has none.
    if (dest.subset !== undefined && !isToken(dest.subset)) checkSubset(vs, dest, path, ns, rules, out);
  }
  return out;
}

function checkPort(vs: VirtualService, dest: Destination, path: string, service: RegisteredService, out: Finding[]): void {
  const numbers = service.ports.map((p) => p.number);
  const wanted = dest.port?.number;
  if (wanted === undefined) {
    if (numbers.length > 1)
      out.push(
        finding(
          'MAST0211',
          vs,
          `${path}.port`,
          `host "${dest.host}" has several ports (${numbers.join(', ')}): say which with port.number`,
        ),
      );
  } else if (!isToken(wanted) && !numbers.includes(wanted)) {
    out.push(
      finding('MAST0210', vs, `${path}.port.number`, `host "${dest.host}" has no port ${wanted} (it has ${numbers.join(', ') || 'none'})`),
    );
  }
}

/** The rules whose host matches `host`, in their order. */
function rulesMatching(rules: readonly DestinationRule[], host: string): DestinationRule[] {
  const { exact, wildcard } = rulesForHost(rules, host);
  const hits = [...exact, ...wildcard];
  return hits.length > 1 ? rules.filter((r) => hits.includes(r)) : hits;
}

function checkSubset(
  vs: VirtualService,
  dest: Destination,
  path: string,
  ns: string,
  rules: readonly DestinationRule[],
  out: Finding[],
): void {
  const host = fqdn(dest.host, ns);
  const matching = rulesMatching(rules, host);
  if (matching.some((dr) => dr.spec.subsets?.some((s) => s.name === dest.subset))) return;
  const defined = matching.flatMap((r) => r.spec.subsets?.map((s) => s.name) ?? []);
  const hint = matching.length ? ` (${matching.map((r) => r.metadata.name).join(', ')} define ${defined.join(', ') || 'none'})` : '';
  out.push(
    finding(
      'MAST0203',
      vs,
      `${path}.subset`,
      `subset "${dest.subset}" of host "${dest.host}" is not defined by any DestinationRule${hint}`,
    ),
  );
}

/** A gateway route without a subset ignores the subsets a mesh VirtualService picks for that host. */
export function checkIngressSubsets(gatewayRoutes: readonly VirtualService[], meshRoutes: readonly VirtualService[]): Finding[] {
  const out: Finding[] = [];
  for (const vs of gatewayRoutes)
    for (const [dest, path] of destinationsOf(vs)) {
      if (dest.subset !== undefined || path.includes('mirror')) continue;
      const host = fqdn(dest.host, namespaceOf(vs));
      const mesh = meshRoutes.find(
        (m) =>
          m !== vs &&
          (m.spec.hosts ?? []).some((h) => fqdn(h, namespaceOf(m)) === host) &&
          destinationsOf(m).some(([d]) => d.subset !== undefined),
      );
      if (mesh)
        out.push(
          finding(
            'MAST0216',
            vs,
            `${path}.subset`,
            `the subsets VirtualService ${namespaceOf(mesh)}/${mesh.metadata.name} picks for "${dest.host}" do not apply to requests from this gateway; name a subset here`,
          ),
        );
    }
  return out;
}
