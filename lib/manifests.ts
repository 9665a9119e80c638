/**
 * Kubernetes objects go into the cluster as `KubernetesManifest` custom resources, whose
 * properties are inlined in the template and sent to a Lambda: keep each part well under
 * the 256 KB payload limit, and order the parts explicitly (each is applied on its own).
 */
import type { RemovalPolicy } from 'aws-cdk-lib';
import { type Cluster, KubernetesManifest } from 'aws-cdk-lib/aws-eks-v2';
import type { Chart } from 'cdk8s';
import type { IConstruct } from 'constructs';
import { apiObjectsOf } from '../constructs';

/** Bytes of JSON per manifest custom resource. */
export const MAX_MANIFEST_BYTES = 120_000;

/** Splits objects into groups whose JSON stays under `maxBytes` (an object larger than that goes alone). */
export function splitBySize<T>(objects: readonly T[], maxBytes = MAX_MANIFEST_BYTES): T[][] {
  const parts: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const obj of objects) {
    // As the template holds it: the manifest is a JSON string inside the template's JSON (quotes escaped).
    const bytes = Buffer.byteLength(JSON.stringify(JSON.stringify(obj)));
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

export interface PartOptions {
  /** What a stack delete does to the objects. @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
  /** Replace objects of the same name already in the cluster (`kubectl apply`), instead of failing (`kubectl create`). @default false */
  readonly overwrite?: boolean;
}

/** Adds a chart in size-bounded parts, each depending on `after`; returns the parts. */
export function addChartInParts(
  cluster: Cluster,
  id: string,
  chart: Chart,
  after: IConstruct[],
  options: PartOptions = {},
): KubernetesManifest[] {
  return splitBySize(apiObjectsOf(chart)).map((objects, i) => {
    // Where `cluster.addManifest` would put it (same construct path), with the options it cannot take.
    const manifest = new KubernetesManifest(cluster, `manifest-${id}-${i}`, { cluster, manifest: objects, ...options });
    for (const dep of after) manifest.node.addDependency(dep);
    return manifest;
  });
}
