/** Pod and container settings every mast component shares: non-root, read-only, no capabilities; its labels. */
import { ROOT_CONFIGMAP, ROOT_CONFIGMAP_KEY, ROOT_MOUNT_DIR } from '../api';
import { MAST_VERSION } from './version';

/**
 * Kubernetes' recommended labels of a mast component (never in a selector: `version` changes with
 * each release, and a Deployment's selector cannot).
 */
export function recommendedLabels(name: string, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/instance': name,
    'app.kubernetes.io/version': MAST_VERSION,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'mast',
    'app.kubernetes.io/managed-by': 'mast',
  };
}

export function restrictedContainer(uid: number): Record<string, unknown> {
  return {
    runAsUser: uid,
    runAsGroup: uid,
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ['ALL'] },
  };
}

export const RESTRICTED_POD = { seccompProfile: { type: 'RuntimeDefault' } };

/** Downward-API environment a mesh process uses to identify itself to mastd. */
export const IDENTITY_ENV = [
  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
  { name: 'SERVICE_ACCOUNT', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
  { name: 'INSTANCE_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
];

/**
 * Where the pod runs, for locality load balancing: its node's region and zone, which Kubernetes copies
 * onto the pod as labels when it binds it to the node (PodTopologyLabelsAdmission, KEP-4742: beta in
 * 1.35), read here through the downward API; and the node's name, for clusters that do not copy them:
 * mastd then takes the node's topology labels, as istiod does.
 */
export const LOCALITY_ENV = [
  { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
  { name: 'MAST_REGION', valueFrom: { fieldRef: { fieldPath: "metadata.labels['topology.kubernetes.io/region']" } } },
  { name: 'MAST_ZONE', valueFrom: { fieldRef: { fieldPath: "metadata.labels['topology.kubernetes.io/zone']" } } },
];

export interface Resources {
  readonly cpu?: string;
  readonly memory?: string;
  readonly cpuLimit?: string;
  readonly memoryLimit?: string;
}

export function resourcesOf(r: Resources): Record<string, unknown> {
  const requests = { ...(r.cpu ? { cpu: r.cpu } : {}), ...(r.memory ? { memory: r.memory } : {}) };
  const limits = { ...(r.cpuLimit ? { cpu: r.cpuLimit } : {}), ...(r.memoryLimit ? { memory: r.memoryLimit } : {}) };
  return { ...(Object.keys(requests).length ? { requests } : {}), ...(Object.keys(limits).length ? { limits } : {}) };
}

/** Validation error text in the cdk8s-plus style: the prop, the value, what is allowed. */
export function badProp(construct: string, prop: string, value: unknown, expected: string): string {
  return `${construct}: ${prop} ${JSON.stringify(value)} is invalid: ${expected}`;
}

/** The ConfigMap mastd writes into every namespace with its root certificate (runtime/control/root-configmaps.ts). */
export { ROOT_CONFIGMAP };
const ROOT_DIR = ROOT_MOUNT_DIR;

/** What a proxy's pod needs to verify mastd's push port: the root ConfigMap mounted, and the flag naming it. */
export const CONTROL_PLANE_TRUST = {
  volume: { name: 'mast-ca-root', configMap: { name: ROOT_CONFIGMAP } },
  volumeMount: { name: 'mast-ca-root', mountPath: ROOT_DIR, readOnly: true },
  args: ['--control-plane-ca', `${ROOT_DIR}/${ROOT_CONFIGMAP_KEY}`],
} as const;
