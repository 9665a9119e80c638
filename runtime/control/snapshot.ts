/** An immutable view of the mesh config and registry that the compiler reads. */
import { buildRegistry, isMeshResource, namespaceOf, type AnyMeshResource, type KubeObject, type Registry } from '../../api';

export interface Snapshot {
  readonly version: string;
  readonly objects: readonly KubeObject[];
  readonly mesh: readonly AnyMeshResource[];
  readonly registry: Registry;
}

export function makeSnapshot(objects: readonly KubeObject[], version: string): Snapshot {
  const frozen = objects.map((o) => Object.freeze(structuredClone(o)));
  return { version, objects: frozen, mesh: (frozen as unknown[]).filter(isMeshResource), registry: buildRegistry(frozen) };
}

export const byKind = <K extends AnyMeshResource['kind']>(s: Snapshot, kind: K) =>
  s.mesh.filter((r): r is Extract<AnyMeshResource, { kind: K }> => r.kind === kind);

export { namespaceOf };
