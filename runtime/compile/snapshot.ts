/** An immutable view of the mesh config and registry that the compiler reads. */
import { buildRegistry, isMeshResource, namespaceOf, setSource, sourceOf, type AnyMeshResource, type KubeObject, type Registry } from '../../api';

export interface Snapshot {
  readonly version: string;
  readonly objects: readonly KubeObject[];
  readonly mesh: readonly AnyMeshResource[];
  readonly registry: Registry;
  /** Lookups the compiler makes per service, built once per snapshot (compile stays linear). */
  readonly index: SnapshotIndex;
}

export interface SnapshotIndex {
  readonly byKind: Map<string, AnyMeshResource[]>;
  /** ServiceEntries by lowercase host. */
  readonly serviceEntriesByHost: Map<string, AnyMeshResource[]>;
  /** WorkloadEntries by namespace. */
  readonly workloadEntriesByNamespace: Map<string, AnyMeshResource[]>;
  /** WorkloadEntries by `namespace|label=value`, so a selector looks at its candidates only. */
  readonly workloadEntriesByLabel: Map<string, AnyMeshResource[]>;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** Objects already cloned and frozen (all the way down) for a snapshot: reused as they are. */
const sealed = new WeakSet<object>();

/** A private, deeply frozen copy: nothing the source does later can change a snapshot. */
export function seal(o: KubeObject): KubeObject {
  if (sealed.has(o)) return o;
  const copy = structuredClone(o);
  const freeze = (x: unknown) => {
    if (typeof x !== 'object' || x === null || Object.isFrozen(x)) return;
    Object.freeze(x);
    for (const v of Object.values(x)) freeze(v);
  };
  freeze(copy);
  const source = sourceOf(o);
  if (source) setSource(copy, source);
  sealed.add(copy);
  return copy;
}

export function makeSnapshot(objects: readonly KubeObject[], version: string): Snapshot {
  const frozen = objects.map(seal);
  const mesh = (frozen as unknown[]).filter(isMeshResource);
  const index: SnapshotIndex = { byKind: new Map(), serviceEntriesByHost: new Map(), workloadEntriesByNamespace: new Map(), workloadEntriesByLabel: new Map() };
  for (const r of mesh) {
    push(index.byKind, r.kind, r);
    if (r.kind === 'ServiceEntry') for (const h of r.spec.hosts ?? []) push(index.serviceEntriesByHost, h.toLowerCase(), r);
    if (r.kind === 'WorkloadEntry') {
      push(index.workloadEntriesByNamespace, namespaceOf(r), r);
      for (const [k, v] of Object.entries(r.spec.labels ?? {})) push(index.workloadEntriesByLabel, `${namespaceOf(r)}|${k}=${v}`, r);
    }
  }
  return { version, objects: frozen, mesh, registry: buildRegistry(frozen), index };
}

/**
 * `build(s)` once per snapshot, remembered while the snapshot lives: the compiler's indexes and
 * the parts configs of one snapshot share.
 */
export function perSnapshot<T>(build: (s: Snapshot) => T): (s: Snapshot) => T {
  const cache = new WeakMap<Snapshot, T>();
  return (s) => {
    let v = cache.get(s);
    if (v === undefined) cache.set(s, (v = build(s)));
    return v;
  };
}

export const byKind = <K extends AnyMeshResource['kind']>(s: Snapshot, kind: K) => (s.index.byKind.get(kind) ?? []) as Array<Extract<AnyMeshResource, { kind: K }>>;

export { namespaceOf };
