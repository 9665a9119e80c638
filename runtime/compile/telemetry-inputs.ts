/**
 * What a part of the Telemetry API (access logs, metrics) reads of a snapshot, once per index: the
 * mesh config's parts for it and the Telemetries that say something of it. Every proxy's compile
 * of one index shares them.
 */
import { isTelemetry, type KubeObject, type Telemetry } from '../../api';
import type { MeshIndex } from './mesh-index';

export interface TelemetryInputs<M> {
  readonly mesh: M;
  readonly telemetries: readonly Telemetry[];
}

/** A reader of one part's inputs per index: `read` the mesh config's parts, `says` which Telemetries count. */
export function telemetryInputs<M>(
  read: (objects: readonly KubeObject[]) => M,
  says: (t: Telemetry) => boolean,
): (index: MeshIndex) => TelemetryInputs<M> {
  const cache = new WeakMap<MeshIndex, TelemetryInputs<M>>();
  return (index) => {
    let c = cache.get(index);
    if (!c) {
      const objects = index.snapshot.objects;
      cache.set(index, (c = { mesh: read(objects), telemetries: (objects.filter(isTelemetry) as Telemetry[]).filter(says) }));
    }
    return c;
  };
}
