/**
 * Kubernetes objects go into the cluster as `KubernetesManifest` custom resources, whose
 * properties are inlined in the template and sent to a Lambda: keep each part well under
 * the 256 KB payload limit, and order the parts explicitly (each is applied on its own).
 */
import type { Chart } from 'cdk8s';
import { apiObjectsOf } from '../constructs';
import type { ICluster, KubernetesManifest } from 'aws-cdk-lib/aws-eks-v2';
import type { IConstruct } from 'constructs';

/** Bytes of JSON per manifest custom resource. */
export const MAX_MANIFEST_BYTES = 120_000;

/** Splits objects into groups whose JSON stays under `maxBytes` (an object larger than that goes alone). */
export function splitBySize<T>(objects: readonly T[], maxBytes = MAX_MANIFEST_BYTES): T[][] {
  const parts: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const obj of objects) {
    const bytes = Buffer.byteLength(JSON.stringify(obj));
    if (current.length && size + bytes > maxBytes) {
      parts.push(current);
      current = [];
      size = 0;
    }
    current.push(obj);
    size += bytes;
  }
  if (current.length) parts.push(current);
  return parts;
}

/** Adds a chart in size-bounded parts, each depending on `after`; returns the parts. */
export function addChartInParts(cluster: ICluster, id: string, chart: Chart, after: IConstruct[]): KubernetesManifest[] {
  return splitBySize(apiObjectsOf(chart)).map((objects, i) => {
    const manifest = cluster.addManifest(`${id}-${i}`, ...objects);
    for (const dep of after) manifest.node.addDependency(dep);
    return manifest;
  });
}
