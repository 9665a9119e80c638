/**
 * The parts of Istio's MeshConfig that mast applies, read where Istio keeps it: the `mesh` key
 * of the `istio` ConfigMap in the root namespace (what `meshConfig` in an IstioOperator or the
 * Helm values becomes). Only `pathNormalization.normalization` so far; a value mast does not
 * know leaves Istio's default (BASE), the normalization that fails closed.
 */
import { parse } from 'yaml';
import { PATH_NORMALIZATIONS, type PathNormalization } from '../contract/proxy-config';
import { ROOT_NAMESPACES, type KubeObject } from '../../api';

export const MESH_CONFIGMAP = 'istio';

export interface MeshSettings {
  /** Absent: BASE (Istio's DEFAULT). */
  readonly pathNormalization?: PathNormalization;
}

/** Read once per snapshot (MeshIndex.meshSettings). */
export function readMeshSettings(objects: readonly KubeObject[]): MeshSettings {
  for (const ns of ROOT_NAMESPACES) {
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === MESH_CONFIGMAP && o.metadata?.namespace === ns) as
      | { data?: Record<string, unknown> }
      | undefined;
    const text = cm?.data?.mesh;
    if (typeof text !== 'string') continue;
    let mesh: { pathNormalization?: { normalization?: unknown } } | null;
    try {
      mesh = parse(text);
    } catch {
      return {};
    }
    const n = mesh?.pathNormalization?.normalization;
    // Istio's DEFAULT means BASE; omitting the field keeps ProxyConfig unchanged for the default.
    if (typeof n === 'string' && n !== 'BASE' && n !== 'DEFAULT' && (PATH_NORMALIZATIONS as readonly string[]).includes(n))
      return { pathNormalization: n as PathNormalization };
    return {};
  }
  return {};
}
