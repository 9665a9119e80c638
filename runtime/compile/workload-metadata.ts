/**
 * The workload metadata mastd pushes for the metrics (Istio's standard labels): the peers a sidecar
 * may see, one entry per identity (ProxyConfig.workloads), the workload behind each endpoint
 * (EndpointConfig.metadata) and the services a sidecar's workload serves (ProxyConfig.inboundServices).
 * Built once per snapshot from its Pods and WorkloadEntries. Pure.
 */
import { isPlainObject, namespaceOf, type KubeObject, type WorkloadEntry } from '../../api';
import type { EndpointConfig } from '../contract/proxy-config';
import { mergeMetadata, workloadMetadata, type InboundService, type WorkloadMetadata } from '../contract/workload-metadata';
import { byKind, type MeshIndex } from './mesh-index';

interface Known {
  /** By identity, merged, sorted by identity: the same array for every config of the snapshot. */
  readonly peers: readonly WorkloadMetadata[];
  /** By `address:port` (WorkloadEntries with ports) or `address` (pods, WorkloadEntries without). */
  readonly byAddress: ReadonlyMap<string, WorkloadMetadata>;
}

type PodLike = KubeObject & {
  metadata: KubeObject['metadata'] & { ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }> };
  spec?: { serviceAccountName?: unknown };
  status?: { podIP?: unknown; podIPs?: unknown };
};

/**
 * A pod's workload as Istio names it: its ReplicaSet's Deployment (the ReplicaSet's name less its
 * `-<pod-template-hash>`), its Job's CronJob (less the `-<schedule time>` suffix), its other owner,
 * else the pod's own name.
 */
export function podWorkloadName(pod: PodLike): string {
  const refs = pod.metadata.ownerReferences ?? [];
  const owner = refs.find((r) => r.controller) ?? refs[0];
  if (!owner?.name) return pod.metadata.name;
  const hash = pod.metadata.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) return owner.name.slice(0, -hash.length - 1);
  if (owner.kind === 'Job' && /-\d+$/.test(owner.name)) return owner.name.replace(/-\d+$/, '');
  return owner.name;
}

function podAddresses(pod: PodLike): string[] {
  const ips = Array.isArray(pod.status?.podIPs) ? pod.status.podIPs.filter(isPlainObject).map((p) => p.ip) : [];
  return [...new Set([pod.status?.podIP, ...ips].filter((a): a is string => typeof a === 'string' && a !== ''))];
}

const cache = new WeakMap<MeshIndex, Known>();

function known(index: MeshIndex): Known {
  const hit = cache.get(index);
  if (hit) return hit;
  const byIdentity = new Map<string, Map<string, WorkloadMetadata>>();
  const byAddress = new Map<string, WorkloadMetadata>();
  const add = (m: WorkloadMetadata, keys: readonly string[]) => {
    if (m.identity) {
      let same = byIdentity.get(m.identity);
      if (!same) byIdentity.set(m.identity, (same = new Map()));
      same.set(`${m.workload}|${m.app}|${m.version}|${m.canonicalService}|${m.canonicalRevision}`, m);
    }
    for (const k of keys) if (!byAddress.has(k)) byAddress.set(k, m);
  };
  // Pod objects first: endpoints of EndpointSlices are pods; WorkloadEntries are looked up by address and port.
  for (const o of index.snapshot.objects) {
    if (o.kind !== 'Pod') continue;
    const pod = o as PodLike;
    const account = typeof pod.spec?.serviceAccountName === 'string' ? pod.spec.serviceAccountName : 'default';
    add(workloadMetadata(podWorkloadName(pod), namespaceOf(pod), pod.metadata.labels ?? {}, account), podAddresses(pod));
  }
  for (const we of byKind(index, 'WorkloadEntry') as WorkloadEntry[]) {
    const address = we.spec.address;
    const ports = Object.values(we.spec.ports ?? {});
    const keys = address ? (ports.length ? ports.map((p) => `${address}:${p}`) : [address]) : [];
    add(workloadMetadata(we.metadata.name, namespaceOf(we), we.spec.labels ?? {}, we.spec.serviceAccount ?? 'default'), keys);
  }
  const peers = [...byIdentity.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, same]) => mergeMetadata([...same.values()]));
  const k = { peers, byAddress };
  cache.set(index, k);
  return k;
}

/** Every identity's workload metadata (the peers a sidecar's inbound may see: any workload of the mesh). */
export const peerWorkloads = (index: MeshIndex): readonly WorkloadMetadata[] => known(index).peers;

/** The endpoints with the workload behind each, where the snapshot knows it. */
export function withMetadata(index: MeshIndex, endpoints: EndpointConfig[]): EndpointConfig[] {
  const { byAddress } = known(index);
  if (byAddress.size === 0) return endpoints;
  return endpoints.map((e) => {
    const metadata = byAddress.get(`${e.address}:${e.port}`) ?? byAddress.get(e.address);
    return metadata ? { ...e, metadata } : e;
  });
}

/** The services of a namespace that select workloads, by host (each sidecar keeps those that select it: its inbound `destination_service`). */
export function inboundServices(index: MeshIndex, namespace: string): InboundService[] {
  let byNamespace = servicesCache.get(index);
  if (!byNamespace) servicesCache.set(index, (byNamespace = new Map()));
  const hit = byNamespace.get(namespace);
  if (hit) return hit;
  const out = new Map<string, InboundService>();
  for (const svc of index.snapshot.registry.services) {
    if (svc.namespace !== namespace || !svc.selector) continue;
    out.set(svc.host, {
      host: svc.host,
      // A ServiceEntry's name is its host (Istio's), unless the host spells a Kubernetes service's (`mast local` writes them so).
      name: svc.source === 'Service' ? svc.name : (/^([^.]+)\.[^.]+\.svc(\.|$)/.exec(svc.host)?.[1] ?? svc.host),
      namespace: svc.namespace,
      selector: svc.selector,
    });
  }
  const list = [...out.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  byNamespace.set(namespace, list);
  return list;
}

const servicesCache = new WeakMap<MeshIndex, Map<string, InboundService[]>>();
