/**
 * Locality load balancing as Istio applies it to one proxy's copy of a cluster (its EDS): which
 * localityLbSetting applies (the DestinationRule's, else the mesh's), then either `distribute`
 * (per-locality weights for clients of a `from` locality; localities it does not name get nothing)
 * or, only with outlier detection, failover priorities — 0 for the client's own region/zone/subzone,
 * then the same zone, the same region, another region (a `failover` region before the rest), or by
 * `failoverPriority` labels. Priorities are made contiguous from 0. Pure; the proxy then picks by
 * them (runtime/proxy/upstream/locality.ts).
 */
import {
  NETWORK_LABEL,
  REGION_LABEL,
  SUBZONE_LABEL,
  ZONE_LABEL,
  type DestinationRule,
  type LocalityLbSetting,
  type TrafficPolicy,
} from '../../api';
import type { ClusterConfig, EndpointConfig } from '../contract/proxy-config';

export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subzone: string;
}

/** What a cluster's locality load balancing is, decided once per cluster (the same for every proxy). */
export interface LocalityPolicy {
  readonly setting: LocalityLbSetting;
  /** The cluster has outlier detection: failover can happen (without it Istio sets no priorities). */
  readonly failover: boolean;
}

/** The client side of the decision: the proxy's locality and labels. */
export interface LocalityClient {
  readonly locality?: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** `region/zone/subzone`, parts missing left empty (Istio's ConvertLocality). */
export function parseLocality(text: string | undefined): Locality {
  const [region = '', zone = '', subzone = ''] = (text ?? '').split('/');
  return { region, zone, subzone };
}

/** The locality string of an endpoint or proxy: trailing empty parts dropped ('' when none). */
export function formatLocality(l: Locality): string {
  return [l.region, l.zone, l.subzone].join('/').replace(/\/+$/, '');
}

/**
 * A workload's locality as Istio reads it: the given one (WorkloadEntry `locality`), else its
 * `istio-locality` label (dots between the parts), else the topology labels; '' when none.
 */
export function localityOf(given: string | undefined, labels: Readonly<Record<string, string>> | undefined): string {
  if (given) return formatLocality(parseLocality(given));
  const dotted = labels?.['istio-locality'];
  if (dotted) return formatLocality(parseLocality(dotted.replaceAll('.', '/')));
  return formatLocality({ region: labels?.[REGION_LABEL] ?? '', zone: labels?.[ZONE_LABEL] ?? '', subzone: labels?.[SUBZONE_LABEL] ?? '' });
}

/** Istio's LocalityMatch: a rule locality (`region[/zone[/subzone]]`, `*` or a missing part matching any) covers a locality. */
export function localityMatches(l: Locality, rule: string): boolean {
  const r = parseLocality(rule);
  return (
    (r.region === '*' || r.region === l.region) &&
    (r.zone === '*' || r.zone === '' || r.zone === l.zone) &&
    (r.subzone === '*' || r.subzone === '' || r.subzone === l.subzone)
  );
}

/** Istio's LbPriority: 0 same region, zone and subzone; 1 same zone; 2 same region; 3 another region. */
export function lbPriority(client: Locality, endpoint: Locality): number {
  if (client.region !== endpoint.region) return 3;
  if (client.zone !== endpoint.zone) return 2;
  return client.subzone === endpoint.subzone ? 0 : 1;
}

/** The setting that applies: the DestinationRule's (its `enabled: false` turns it off), else the mesh's; none without an effect. */
export function localityPolicy(
  mesh: LocalityLbSetting | undefined,
  rule: LocalityLbSetting | undefined,
  outlierDetection: boolean,
): LocalityPolicy | undefined {
  const setting = rule ?? mesh;
  if (!setting || setting.enabled === false) return undefined;
  // distribute acts by itself; failover (explicit or the default by locality) only when something can be unhealthy.
  if (!setting.distribute?.length && !outlierDetection) return undefined;
  return { setting, failover: outlierDetection };
}

/** This proxy's copy of a cluster; the same object when locality changes nothing for it. */
export function applyLocality(cluster: ClusterConfig, policy: LocalityPolicy, client: LocalityClient): ClusterConfig {
  const { setting } = policy;
  const me = parseLocality(client.locality);
  if (setting.distribute?.length) return distribute(cluster, me, setting.distribute);
  if (!policy.failover) return cluster;
  const labels = setting.failoverPriority?.length ? withTopology(client.labels, me) : undefined;
  let priorities = cluster.endpoints.map(() => 0);
  if (labels && Object.keys(labels).length)
    priorities = compact(cluster.endpoints.map((e) => labelPriority(labels, endpointLabels(e), setting.failoverPriority!)));
  // With failoverPriority, localities count only when failover regions are given too (as Istio).
  if (!setting.failoverPriority?.length || setting.failover?.length)
    priorities = compact(cluster.endpoints.map((e, i) => priorities[i] * 5 + failoverPriority(me, e, setting.failover ?? [])));
  if (priorities.every((p) => p === 0)) return cluster;
  return { ...cluster, endpoints: cluster.endpoints.map((e, i) => (priorities[i] ? { ...e, priority: priorities[i] } : e)) };
}

/** Istio's applyLocalityFailover for one endpoint: 0–3 by locality, 4 for a region its `failover` from the client's region does not name. */
function failoverPriority(me: Locality, e: EndpointConfig, failover: NonNullable<LocalityLbSetting['failover']>): number {
  const theirs = parseLocality(e.locality);
  const p = lbPriority(me, theirs);
  if (p !== 3) return p;
  const rule = failover.find((f) => f.from === me.region);
  return rule && theirs.region !== rule.to ? 4 : 3;
}

/**
 * Istio's applyFailoverPriorityPerLocality: 0 when the endpoint has the client's value of every
 * label (or the value a `key=value` entry gives), else n − i for the first label i that differs; a
 * leading network label that differs only moves the endpoint below all of those.
 */
export function labelPriority(
  client: Readonly<Record<string, string>>,
  endpoint: Readonly<Record<string, string>>,
  keys: readonly string[],
): number {
  const n = keys.length;
  let adjust = 0;
  for (let i = 0; i < n; i++) {
    const eq = keys[i].indexOf('=');
    const key = eq < 0 ? keys[i] : keys[i].slice(0, eq);
    const want = eq < 0 ? client[key] : keys[i].slice(eq + 1);
    if (want === endpoint[key]) continue;
    if (i === 0 && key === NETWORK_LABEL) {
      adjust = n;
      continue;
    }
    return n - i + adjust;
  }
  return adjust;
}

/** Priorities renumbered 0..N in their order, none skipped. */
function compact(priorities: readonly number[]): number[] {
  const order = [...new Set(priorities)].sort((a, b) => a - b);
  return priorities.map((p) => order.indexOf(p));
}

/** Labels with the topology labels of a locality added, as Istio augments a proxy's and an endpoint's. */
function withTopology(labels: Readonly<Record<string, string>>, l: Locality): Record<string, string> {
  return {
    ...labels,
    ...(l.region ? { [REGION_LABEL]: l.region } : {}),
    ...(l.zone ? { [ZONE_LABEL]: l.zone } : {}),
    ...(l.subzone ? { [SUBZONE_LABEL]: l.subzone } : {}),
  };
}

const endpointLabels = (e: EndpointConfig) => withTopology(e.labels ?? {}, parseLocality(e.locality));

/**
 * Istio's applyLocalityWeights: the first `distribute` entry whose `from` covers the client gives
 * each `to` pattern's weight to the localities it is first to match, split between them by their
 * endpoint counts (rounded up); endpoints in localities no pattern matches are left out.
 */
function distribute(cluster: ClusterConfig, me: Locality, rules: NonNullable<LocalityLbSetting['distribute']>): ClusterConfig {
  const rule = rules.find((d) => localityMatches(me, d.from ?? ''));
  if (!rule) return cluster;
  const counts = new Map<string, number>();
  for (const e of cluster.endpoints) counts.set(e.locality ?? '', (counts.get(e.locality ?? '') ?? 0) + 1);
  const weights: Record<string, number> = {};
  const unmatched = new Set(counts.keys());
  for (const [pattern, weight] of Object.entries(rule.to ?? {})) {
    const matched = [...unmatched].filter((l) => localityMatches(parseLocality(l), pattern));
    const total = matched.reduce((sum, l) => sum + counts.get(l)!, 0);
    for (const l of matched) {
      unmatched.delete(l);
      const share = (counts.get(l)! * weight) / total;
      // A zero weight leaves the locality its own (Istio's quirk; validation refuses 0 anyway).
      weights[l] = share > 0 ? Math.ceil(share) : counts.get(l)!;
    }
  }
  return {
    ...cluster,
    endpoints: cluster.endpoints.filter((e) => !unmatched.has(e.locality ?? '')),
    localityWeights: weights,
  };
}

/** What of a proxy's identity its clusters' locality can depend on, known once per snapshot (the equivalence key keeps it). */
export interface LocalityUse {
  /** Some cluster may get locality load balancing: proxies in different localities get different configs. */
  readonly byLocality: boolean;
  /** Some setting orders endpoints by `failoverPriority` labels: the proxy's labels matter too. */
  readonly byLabels: boolean;
}

export function localityUse(mesh: LocalityLbSetting | undefined, rules: readonly DestinationRule[]): LocalityUse {
  const levels: Array<Omit<TrafficPolicy, 'portLevelSettings'> | undefined> = rules.flatMap((r) =>
    [r.spec.trafficPolicy, ...(r.spec.subsets ?? []).map((s) => s.trafficPolicy)].flatMap((p) => [p, ...(p?.portLevelSettings ?? [])]),
  );
  const settings = [mesh, ...levels.map((l) => l?.loadBalancer?.localityLbSetting)];
  const byLocality =
    !!mesh?.distribute?.length || levels.some((l) => l?.outlierDetection || l?.loadBalancer?.localityLbSetting?.distribute?.length);
  return { byLocality, byLabels: byLocality && settings.some((s) => s?.failoverPriority?.length) };
}
