/**
 * The mesh config as Istio keeps it, the `mesh` key of the `istio` ConfigMap in the control plane's
 * namespace, for the MeshConfig fields a `Mesh` sets from its props: today `localityLbSetting`, so
 * zone-aware routing is one prop. A bad setting fails synth with its finding (MAST0135).
 */
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import { stringify } from 'yaml';
import { checkLocalityLbSetting, formatFinding, type LocalityLbSetting } from '../api';

export const MESH_CONFIGMAP = 'istio';

/** `true` is Istio's `{ enabled: true }`; `false` turns locality load balancing off mesh-wide. */
export type LocalityLoadBalancing = boolean | LocalityLbSetting;

export const localitySetting = (value: LocalityLoadBalancing): LocalityLbSetting =>
  typeof value === 'boolean' ? { enabled: value } : value;

export class MeshConfig extends ApiObject {
  constructor(scope: Construct, id: string, namespace: string, locality: LocalityLoadBalancing) {
    const localityLbSetting = localitySetting(locality);
    super(scope, id, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: MESH_CONFIGMAP, namespace, labels: { 'app.kubernetes.io/part-of': 'mast' } },
      data: { mesh: stringify({ localityLbSetting }) },
    });
    this.node.addValidation({
      // Istio validates the mesh-wide setting as if outlier detection were there: each DestinationRule brings its own.
      validate: () =>
        checkLocalityLbSetting(this, localityLbSetting, 'localityLoadBalancing', true).map((f) => `Mesh: ${formatFinding(f)}`),
    });
  }
}
