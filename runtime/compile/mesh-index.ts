/**
 * MeshIndex: every lookup the compiler makes over a snapshot, built once per snapshot by
 * buildIndex (Istio's PushContext), so compiling one proxy never scans the whole config and
 * configs of one snapshot read the same objects. Immutable once built; the parts compiled
 * configs share live in a CompileCache (compile-cache.ts), not here.
 */
import {
  exportScopes,
  fqdn,
  hostMatches,
  namespaceOf,
  type AnyMeshResource,
  type DestinationRule,
  type ExportScope,
  type KubeObject,
  type Sidecar,
  type VirtualService,
} from '../../api';
import { expandDelegates } from './delegates';
import { identityOf, listServicePorts, portResolver, type EndpointIndex, type PortResolver, type ServicePort } from './endpoints';
import { readMeshCompileSettings, readMeshSettings, type MeshCompileSettings, type MeshSettings } from './mesh-config';
import { routesBySource } from './routes';
import { localityOf, localityUse, type LocalityUse } from './locality';
import type { Snapshot } from './snapshot';

export interface MeshIndex extends EndpointIndex {
  readonly snapshot: Snapshot;
  readonly version: string;
  readonly byKind: ReadonlyMap<string, readonly AnyMeshResource[]>;
  /** Every (host, port) the registry knows: the same objects for every compile of the snapshot (caches key on them). */
  readonly servicePorts: readonly ServicePort[];
  /** A route destination's service port, among all of them. */
  readonly portOf: PortResolver;
  /** The VirtualServices that route: delegation expanded into the roots (delegates.ts). */
  readonly virtualServices: readonly VirtualService[];
  /** Some route is for some clients only (`sourceLabels`, `sourceNamespace`): sidecars are compiled per workload, not per namespace. */
  readonly routesBySource: boolean;
  /** The registered service of each port (for its exportTo). */
  readonly serviceOf: ReadonlyMap<ServicePort, { readonly exportTo: ExportScope }>;
  /** Mesh-bound VirtualServices by the FQDN of each host they name. */
  readonly meshVirtualServicesByHost: ReadonlyMap<string, readonly VirtualService[]>;
  /** Where each mesh-bound VirtualService is visible. */
  readonly exportScopeOf: ReadonlyMap<VirtualService, ExportScope>;
  readonly meshSettings: MeshSettings;
  /** Sidecar resources by namespace (sidecar-scope.ts picks the one for a proxy). */
  readonly sidecars: ReadonlyMap<string, NamespaceSidecars>;
  /** Mesh config the compiler applies itself (h2UpgradePolicy, outboundTrafficPolicy, localityLbSetting). */
  readonly meshCompile: MeshCompileSettings;
  /** Whether proxies' localities (and labels) can change their clusters (locality.ts). */
  readonly localityUse: LocalityUse;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** What the index is built with besides the snapshot. */
export interface IndexOptions {
  /** The trust domain workload certificates are signed in (mastd's): it leads the trust domain bundle. @default - the mesh config's */
  readonly trustDomain?: string;
}

export function buildIndex(snapshot: Snapshot, options: IndexOptions = {}): MeshIndex {
  const byKind = new Map<string, AnyMeshResource[]>();
  const serviceEntriesByHost = new Map<string, AnyMeshResource[]>();
  const workloadEntriesByNamespace = new Map<string, AnyMeshResource[]>();
  const workloadEntriesByLabel = new Map<string, AnyMeshResource[]>();
  for (const r of snapshot.mesh) {
    push(byKind, r.kind, r);
    if (r.kind === 'ServiceEntry') for (const h of r.spec.hosts ?? []) push(serviceEntriesByHost, h.toLowerCase(), r);
    if (r.kind === 'WorkloadEntry') {
      push(workloadEntriesByNamespace, namespaceOf(r), r);
      for (const [k, v] of Object.entries(r.spec.labels ?? {})) push(workloadEntriesByLabel, `${namespaceOf(r)}|${k}=${v}`, r);
    }
  }
  const servicePorts = listServicePorts(snapshot.registry);
  const virtualServices = expandDelegates((byKind.get('VirtualService') ?? []) as VirtualService[]);
  const services = new Map(snapshot.registry.services.map((x) => [`${x.host}|${x.namespace}`, x]));
  const serviceOf = new Map<ServicePort, { readonly exportTo: ExportScope }>();
  for (const p of servicePorts) {
    const svc = services.get(`${p.host}|${p.namespace}`);
    if (svc) serviceOf.set(p, svc);
  }
  const meshVirtualServicesByHost = new Map<string, VirtualService[]>();
  const exportScopeOf = new Map<VirtualService, ExportScope>();
  for (const vs of virtualServices) {
    if (vs.spec.gateways?.length && !vs.spec.gateways.includes('mesh')) continue;
    exportScopeOf.set(vs, exportScopes(vs.spec.exportTo, namespaceOf(vs)));
    for (const h of new Set((vs.spec.hosts ?? []).map((x) => fqdn(x, namespaceOf(vs))))) push(meshVirtualServicesByHost, h, vs);
  }
  applyWildcardHosts(meshVirtualServicesByHost, servicePorts);
  const meshCompile = readMeshCompileSettings(snapshot.objects, options.trustDomain);
  const nodeLocality = nodeLocalities(snapshot.objects);
  return {
    snapshot,
    version: snapshot.version,
    byKind,
    serviceEntriesByHost,
    workloadEntriesByNamespace,
    workloadEntriesByLabel,
    pods: podsByName(snapshot.objects, nodeLocality),
    nodeLocality,
    endpointSlices: snapshot.objects.filter((o) => o.kind === 'EndpointSlice'),
    servicePorts,
    portOf: portResolver(servicePorts),
    virtualServices,
    routesBySource: routesBySource(virtualServices),
    serviceOf,
    meshVirtualServicesByHost,
    exportScopeOf,
    meshSettings: readMeshSettings(snapshot.objects),
    sidecars: indexSidecars((byKind.get('Sidecar') ?? []) as Sidecar[]),
    meshCompile,
    localityUse: localityUse(meshCompile.localityLb, (byKind.get('DestinationRule') ?? []) as DestinationRule[]),
  };
}

/**
 * A mesh VirtualService for `*.ns.svc.cluster.local` (or `*`) routes every service host it covers
 * that no VirtualService names exactly, the most specific pattern winning, as Istio picks the most
 * specific host for a sidecar's service. Filed under each such host, so lookups stay exact.
 */
function applyWildcardHosts(byHost: Map<string, VirtualService[]>, ports: readonly ServicePort[]): void {
  const patterns = [...byHost.keys()].filter((h) => h.startsWith('*')).sort((a, b) => b.length - a.length);
  if (patterns.length === 0) return;
  for (const host of new Set(ports.map((p) => p.host))) {
    if (byHost.has(host)) continue;
    const pattern = patterns.find((p) => hostMatches(p, host));
    if (pattern) byHost.set(host, byHost.get(pattern)!);
  }
}

/** The Sidecars of a namespace, as the index keeps them: selecting ones oldest first; the one without selector (the oldest, if several: IST0111). */
export interface NamespaceSidecars {
  readonly selecting: readonly Sidecar[];
  readonly wide?: Sidecar;
}

/** Oldest first (creationTimestamp, then name), as Istio picks among Sidecars that compete. */
function oldestFirst(a: Sidecar, b: Sidecar): number {
  const ta = String(a.metadata.creationTimestamp ?? '');
  const tb = String(b.metadata.creationTimestamp ?? '');
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/** A Sidecar's workloadSelector labels; none (or empty): it is its namespace's. */
export const sidecarSelector = (sc: Sidecar) => {
  const labels = sc.spec.workloadSelector?.labels;
  return labels && Object.keys(labels).length ? labels : undefined;
};

/** Built once per snapshot (MeshIndex.sidecars); sidecar-scope.ts picks the one for a proxy. */
export function indexSidecars(sidecars: readonly Sidecar[]): ReadonlyMap<string, NamespaceSidecars> {
  const byNs = new Map<string, Sidecar[]>();
  for (const sc of sidecars) {
    const ns = sc.metadata.namespace ?? 'default';
    byNs.set(ns, [...(byNs.get(ns) ?? []), sc]);
  }
  const out = new Map<string, NamespaceSidecars>();
  for (const [ns, list] of byNs) {
    const sorted = [...list].sort(oldestFirst);
    out.set(ns, { selecting: sorted.filter((s) => sidecarSelector(s)), wide: sorted.find((s) => !sidecarSelector(s)) });
  }
  return out;
}

function podsByName(objects: readonly KubeObject[], nodeLocality: ReadonlyMap<string, string>): MeshIndex['pods'] {
  return new Map(
    objects
      .filter((o) => o.kind === 'Pod')
      .map((p) => {
        const spec = (p as { spec?: { serviceAccountName?: unknown; nodeName?: unknown } }).spec;
        const account = spec?.serviceAccountName;
        const labels = p.metadata.labels ?? {};
        // The pod's own topology labels (Kubernetes copies its node's, KEP-4742), else its node's, as istiod reads them.
        const locality =
          localityOf(undefined, labels) || (typeof spec?.nodeName === 'string' ? (nodeLocality.get(spec.nodeName) ?? '') : '');
        return [
          `${namespaceOf(p)}/${p.metadata.name}`,
          { labels, identity: identityOf(namespaceOf(p), typeof account === 'string' ? account : 'default'), locality },
        ];
      }),
  );
}

/** `region/zone/subzone` of each Node that has topology labels. */
function nodeLocalities(objects: readonly KubeObject[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of objects) {
    if (o.kind !== 'Node') continue;
    const locality = localityOf(undefined, o.metadata.labels ?? {});
    if (locality) out.set(o.metadata.name, locality);
  }
  return out;
}

export const byKind = <K extends AnyMeshResource['kind']>(index: MeshIndex, kind: K) =>
  (index.byKind.get(kind) ?? []) as Array<Extract<AnyMeshResource, { kind: K }>>;
