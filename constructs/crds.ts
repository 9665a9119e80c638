/** The mesh CRDs in a chart of their own, so they can be applied (and established) first. */
import { ApiObject, Chart, type ChartProps } from 'cdk8s';
import type { Construct } from 'constructs';
import { allCrds, telemetryCrd, type KubeObject } from '../api';

export class MeshCrds extends Chart {
  constructor(scope: Construct, id: string, props: ChartProps = {}) {
    super(scope, id, props);
    for (const crd of allCrds() as unknown as KubeObject[]) new ApiObject(this, crd.metadata.name, crd);
    // Telemetry (telemetry.istio.io) is not a mesh kind of KINDS: its own versions, v1 and v1alpha1.
    const telemetry = telemetryCrd() as unknown as KubeObject;
    new ApiObject(this, telemetry.metadata.name, telemetry);
  }
}
