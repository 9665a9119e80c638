/**
 * Zone-aware routing as one prop of `Mesh` (`localityLoadBalancing`): Istio's MeshConfig
 * `localityLbSetting`, which `Mesh` writes into the mesh config (its `meshConfig`), checked at synth
 * with the rest of it (MAST0135).
 */
import type { LocalityLbSetting } from '../api';

/** `true` is Istio's `{ enabled: true }`; `false` turns locality load balancing off mesh-wide. */
export type LocalityLoadBalancing = boolean | LocalityLbSetting;

export const localitySetting = (value: LocalityLoadBalancing): LocalityLbSetting =>
  typeof value === 'boolean' ? { enabled: value } : value;
