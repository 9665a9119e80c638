/**
 * An immutable view of the mesh config and registry: what one push is compiled from. The
 * compiler's lookups over it are built once per snapshot by buildIndex (mesh-index.ts).
 */
import { buildRegistry, isMeshResource, setSource, sourceOf, type AnyMeshResource, type KubeObject, type Registry } from '../../api';
import type { FetchedJwks } from '../contract/jwt';

export interface Snapshot {
  readonly version: string;
  readonly objects: readonly KubeObject[];
  readonly mesh: readonly AnyMeshResource[];
  readonly registry: Registry;
  /** The keys mastd fetched for each RequestAuthentication `jwksUri` (inlined by the compiler); absent: none fetched. */
  readonly jwks?: FetchedJwks;
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

export function makeSnapshot(objects: readonly KubeObject[], version: string, jwks?: FetchedJwks): Snapshot {
  const frozen = objects.map(seal);
  return {
    version,
    objects: frozen,
    mesh: (frozen as unknown[]).filter(isMeshResource),
    registry: buildRegistry(frozen),
    ...(jwks ? { jwks } : {}),
  };
}
