/** Where mastd's root certificate goes in a cluster (root-configmaps.ts writes it; the constructs mount it). */
import type { KubeObject } from '../../api';

export { ROOT_CONFIGMAP, ROOT_CONFIGMAP_KEY } from '../../api/well-known';
/** Kubernetes' own namespaces: no mesh workloads run there. */
const SKIPPED = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

/** The namespaces that get the root: every one in the snapshot but Kubernetes' own and those being deleted. */
export function rootNamespaces(objects: readonly KubeObject[]): string[] {
  return objects
    .filter(
      (o) =>
        o.kind === 'Namespace' && !SKIPPED.has(o.metadata.name) && (o as { status?: { phase?: string } }).status?.phase !== 'Terminating',
    )
    .map((o) => o.metadata.name)
    .sort();
}
