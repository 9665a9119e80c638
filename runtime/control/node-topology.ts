/**
 * A Node as mastd's snapshot knows it: its name and its topology labels, from which the pods on it
 * get their locality (as istiod reads them). No status, no resourceVersion: a node's status changes
 * every few minutes, which is no reason for a push. Pure.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { REGION_LABEL, SUBZONE_LABEL, ZONE_LABEL } from '../../api';

const TOPOLOGY_LABELS = [REGION_LABEL, ZONE_LABEL, SUBZONE_LABEL];

export function nodeTopology(node: KubernetesObject): KubernetesObject {
  const labels = Object.fromEntries(Object.entries(node.metadata?.labels ?? {}).filter(([k]) => TOPOLOGY_LABELS.includes(k)));
  return { metadata: { name: node.metadata?.name, labels } };
}
