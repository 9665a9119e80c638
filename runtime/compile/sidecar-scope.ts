/**
 * Which Sidecar resource applies to a proxy, and what follows from it: the service ports its
 * egress listeners import (the rest never reach the proxy's config) and its outbound traffic
 * policy. Istio's order: a Sidecar of the workload's namespace whose workloadSelector selects it
 * (the oldest when several do, IST0110), else its namespace's Sidecar without selector, else the
 * root namespace's (the mesh default); none: every service the namespace sees, and the mesh-wide
 * policy.
 */
import {
  importsHost,
  parseHostImport,
  ROOT_NAMESPACES,
  selects,
  type HostImport,
  type OutboundTrafficPolicyMode,
  type Sidecar,
} from '../../api';
import type { ServicePort } from './endpoints';
import { sidecarSelector, type MeshIndex, type NamespaceSidecars } from './mesh-index';

export interface SidecarScope {
  /** The applying Sidecar as `namespace/name` (a cache key part), '' for none. */
  readonly key: string;
  /** Whether the proxy's config has this service port. */
  imports(p: ServicePort): boolean;
  readonly outboundTrafficPolicy: OutboundTrafficPolicyMode;
}

export function sidecarResourceFor(index: MeshIndex, ns: string, labels: Readonly<Record<string, string>>): Sidecar | undefined {
  return sidecarIn(index.sidecars, ns, labels);
}

/** The same choice among Sidecars indexed by namespace (indexSidecars), for a workload in `ns` with `labels`. */
export function sidecarIn(
  sidecars: ReadonlyMap<string, NamespaceSidecars>,
  ns: string,
  labels: Readonly<Record<string, string>>,
): Sidecar | undefined {
  const own = sidecars.get(ns);
  const selected = own?.selecting.find((s) => selects(sidecarSelector(s), labels));
  if (selected) return selected;
  if (own?.wide) return own.wide;
  for (const root of ROOT_NAMESPACES) {
    const wide = sidecars.get(root)?.wide;
    if (wide) return wide;
  }
  return undefined;
}

const EVERYTHING = () => true;

export function sidecarScope(index: MeshIndex, ns: string, labels: Readonly<Record<string, string>>): SidecarScope {
  const sc = sidecarResourceFor(index, ns, labels);
  const outboundTrafficPolicy = sc?.spec.outboundTrafficPolicy?.mode ?? index.meshCompile.outboundTrafficPolicy;
  const egress = sc?.spec.egress;
  if (!sc || !egress?.length)
    return { key: sc ? `${sc.metadata.namespace}/${sc.metadata.name}` : '', imports: EVERYTHING, outboundTrafficPolicy };
  // `.` is the workload's namespace: the root namespace's default with `./*` lets each namespace
  // see its own services (Istio's documented mesh default), not the root namespace's.
  const parse = (hosts: readonly string[]) => hosts.map((h) => parseHostImport(h, ns)).filter((h): h is HostImport => !!h);
  const byPort = new Map<number, HostImport[]>();
  let catchAll: HostImport[] | undefined;
  for (const l of egress) {
    if (l.port) {
      if (!byPort.has(l.port.number)) byPort.set(l.port.number, parse(l.hosts ?? []));
    } else catchAll ??= parse(l.hosts ?? []);
  }
  return {
    key: `${sc.metadata.namespace ?? 'default'}/${sc.metadata.name}`,
    imports: (p) => (byPort.get(p.number) ?? catchAll ?? []).some((imp) => importsHost(imp, p.namespace, p.host)),
    outboundTrafficPolicy,
  };
}
