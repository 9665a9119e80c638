/**
 * Istio's `LocalityLoadBalancerSetting` (a DestinationRule's `loadBalancer.localityLbSetting`, and
 * MeshConfig's mesh-wide `localityLbSetting`): its schema and the checks Istio's validation makes of
 * it — distribute weights in [1, 100] summing to 100 per `from`, localities `region/zone/subzone`
 * with at most one trailing `*` and none covering another, failover between two different plain
 * regions, and a warning when failover is set where no outlier detection can ever trigger it.
 */
import { finding, type Finding, type ResourceRef } from './findings';
import { arr, bool, int, map, obj, str, strs, type Infer } from './schema';
import { checkShape } from './shape';

export const localityLbSetting = obj({
  distribute: arr(
    obj({
      from: str('The client locality this applies to: `region/zone/subzone`, a trailing `*` matching any.'),
      to: map(int(0), 'Upstream locality (as `from`) → its share of the traffic, in percent; the shares sum to 100.'),
    }),
  ),
  failover: arr(obj({ from: str('A region.'), to: str('The region its traffic goes to when it has no healthy endpoint left.') })),
  failoverPriority: strs(
    'Label keys (optionally `key=value`), in order: endpoints matching the client on more of the first ones are preferred.',
  ),
  enabled: bool('Locality load balancing on or off (Istio: on by default, mesh-wide).'),
});

export type LocalityLbSetting = Infer<typeof localityLbSetting>;

/** The topology labels Istio reads a locality from (and that `failover` and `failoverPriority` may not both name). */
export const REGION_LABEL = 'topology.kubernetes.io/region';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const SUBZONE_LABEL = 'topology.istio.io/subzone';
export const NETWORK_LABEL = 'topology.istio.io/network';

/**
 * The findings of one setting at `at` (e.g. `spec.trafficPolicy.loadBalancer.localityLbSetting`).
 * `outlierDetection`: whether the policy that carries it has outlier detection; failover without it
 * never moves traffic (an endpoint is never unhealthy to the proxy), so Istio warns.
 */
export function checkLocalityLbSetting(r: ResourceRef, lb: LocalityLbSetting, at: string, outlierDetection: boolean): Finding[] {
  const out: Finding[] = [];
  const bad = (path: string, message: string) => out.push(finding('MAST0135', r, path, message));
  const distribute = lb.distribute ?? [];
  const failover = lb.failover ?? [];
  if (distribute.length && failover.length) {
    bad(`${at}.failover`, 'distribute and failover cannot both be set: give one of them');
    return out;
  }
  if (failover.length)
    (lb.failoverPriority ?? []).forEach((label, i) => {
      if (label === REGION_LABEL || label === ZONE_LABEL || label === SUBZONE_LABEL)
        bad(
          `${at}.failoverPriority[${i}]`,
          `"${label}" cannot be a failoverPriority label while failover is set (failover orders regions)`,
        );
    });
  distribute.forEach((d, i) => {
    const weights = Object.entries(d.to ?? {});
    for (const [locality, weight] of weights)
      if (weight < 1 || weight > 100)
        bad(`${at}.distribute[${i}].to["${locality}"]`, `a locality's weight is from 1 to 100, not ${weight}`);
    const total = weights.reduce((sum, [, w]) => sum + w, 0);
    if (total !== 100) bad(`${at}.distribute[${i}].to`, `the weights sum to ${total}; they must sum to 100`);
    localityIssues(weights.map(([l]) => l)).forEach(({ index, message }) =>
      bad(`${at}.distribute[${i}].to["${weights[index][0]}"]`, message),
    );
  });
  localityIssues(distribute.map((d) => d.from ?? '')).forEach(({ index, message }) => bad(`${at}.distribute[${index}].from`, message));
  failover.forEach((f, i) => {
    const from = f.from ?? '';
    const to = f.to ?? '';
    if (from === to) bad(`${at}.failover[${i}]`, `failover from "${from}" to "${to}": the regions must differ`);
    if (from.includes('/') || to.includes('/')) bad(`${at}.failover[${i}]`, `failover names regions only, not "${from}" → "${to}"`);
    if (from.includes('*') || to.includes('*')) bad(`${at}.failover[${i}]`, `failover regions take no "*" wildcard ("${from}" → "${to}")`);
  });
  if ((failover.length || lb.failoverPriority?.length) && !outlierDetection)
    out.push(
      finding(
        'MAST0136',
        r,
        at,
        'locality failover needs outlierDetection in the same traffic policy: without it no endpoint is ever seen unhealthy and traffic never fails over',
      ),
    );
  return out;
}

/**
 * Istio's checks of a list of localities: no empty part, at most one `*` and only at the end, and
 * none covered by an earlier one (an earlier missing or `*` part covers anything; a later missing part
 * covers the earlier's, as Istio compares them in order).
 */
function localityIssues(localities: readonly string[]): Array<{ index: number; message: string }> {
  const out: Array<{ index: number; message: string }> = [];
  const seen: string[][] = [];
  localities.forEach((locality, index) => {
    const stars = locality.split('*').length - 1;
    if (stars > 1 || (stars === 1 && !locality.endsWith('*'))) {
      out.push({ index, message: `locality "${locality}": a "*" wildcard may appear once, at the end` });
      return;
    }
    const parts = locality.split('/');
    if (parts.length > 3) parts.splice(2, parts.length, parts.slice(2).join('/'));
    if (parts.some((p) => p === '')) {
      out.push({ index, message: `locality "${locality}" has an empty region, zone or subzone` });
      return;
    }
    const covered = seen.find((e) =>
      [0, 1, 2].every((i) => e[i] === undefined || e[i] === '*' || parts[i] === undefined || e[i] === parts[i]),
    );
    if (covered) out.push({ index, message: `locality "${locality}" overlaps "${covered.join('/')}" given before it` });
    seen.push(parts);
  });
  return out;
}

/**
 * MeshConfig's `localityLbSetting` (the `mesh` of the root namespace's `istio` ConfigMap, parsed):
 * its shape and the same checks. Istio validates the mesh-wide one as if outlier detection were
 * set (each DestinationRule brings its own), so it gets no MAST0136.
 */
export function checkMeshLocality(configMap: ResourceRef, mesh: Record<string, unknown>): Finding[] {
  const value = mesh.localityLbSetting;
  if (value === undefined) return [];
  const at = 'data.mesh.localityLbSetting';
  const shape = checkShape(localityLbSetting, value, at);
  if (shape.length) return shape.map((s) => finding(s.code === 'MAST0001' ? 'MAST0301' : 'MAST0135', configMap, s.path, s.message));
  return checkLocalityLbSetting(configMap, value as LocalityLbSetting, at, true);
}
