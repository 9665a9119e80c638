/**
 * Who a workload is in the metrics, as Istio's standard metrics label it: its workload name and
 * namespace, app and version, canonical service and revision, and its identity. Derived here once,
 * the same way by mastd (for the peers and endpoints it pushes) and by the proxy (for itself).
 */

/** What a label is when nothing says it (Istio's value: bounded cardinality). */
export const UNKNOWN = 'unknown';

export interface WorkloadMetadata {
  /** The Deployment (or other owner) of a pod, a WorkloadEntry's name. */
  readonly workload: string;
  readonly namespace: string;
  /** The `app` label (else `app.kubernetes.io/name`); `unknown` without one. */
  readonly app: string;
  /** The `version` label (else `app.kubernetes.io/version`); `unknown` without one. */
  readonly version: string;
  readonly canonicalService: string;
  readonly canonicalRevision: string;
  /** Its SPIFFE identity's path, `ns/<namespace>/sa/<account>` (the trust domain is the mesh root's). */
  readonly identity?: string;
}

const CANONICAL_NAME = ['service.istio.io/canonical-name', 'app.kubernetes.io/name', 'app'];
const CANONICAL_REVISION = ['service.istio.io/canonical-revision', 'app.kubernetes.io/version', 'version'];

const first = (labels: Readonly<Record<string, string>>, keys: readonly string[]) => {
  for (const k of keys) if (labels[k]) return labels[k];
  return undefined;
};

/**
 * As Istio derives them: canonical service from `service.istio.io/canonical-name`, else
 * `app.kubernetes.io/name`, else `app`, else the workload name; canonical revision from
 * `service.istio.io/canonical-revision`, else `app.kubernetes.io/version`, else `version`, else `latest`.
 */
export function workloadMetadata(
  workload: string,
  namespace: string,
  labels: Readonly<Record<string, string>>,
  serviceAccount?: string,
): WorkloadMetadata {
  return {
    workload: workload || UNKNOWN,
    namespace: namespace || UNKNOWN,
    app: labels.app || labels['app.kubernetes.io/name'] || UNKNOWN,
    version: labels.version || labels['app.kubernetes.io/version'] || UNKNOWN,
    canonicalService: first(labels, CANONICAL_NAME) ?? (workload || UNKNOWN),
    canonicalRevision: first(labels, CANONICAL_REVISION) ?? 'latest',
    ...(serviceAccount ? { identity: `ns/${namespace}/sa/${serviceAccount}` } : {}),
  };
}

/**
 * One entry for workloads that share an identity (replicas aside, several Deployments may run as one
 * service account): fields they agree on kept, the others `unknown`. A peer is known by its verified
 * identity only, so that is all a proxy can tell of it.
 */
export function mergeMetadata(all: readonly WorkloadMetadata[]): WorkloadMetadata {
  const [head, ...rest] = all;
  const agreed = <K extends keyof WorkloadMetadata>(k: K) => (rest.every((m) => m[k] === head[k]) ? head[k] : UNKNOWN);
  return {
    workload: agreed('workload') as string,
    namespace: agreed('namespace') as string,
    app: agreed('app') as string,
    version: agreed('version') as string,
    canonicalService: agreed('canonicalService') as string,
    canonicalRevision: agreed('canonicalRevision') as string,
    ...(head.identity ? { identity: head.identity } : {}),
  };
}

/**
 * A service of a sidecar's namespace that selects workloads: the sidecar keeps those whose selector
 * matches its own labels, what `destination_service*` name on its inbound. (The namespace's, not the
 * workload's: sidecars of one namespace keep sharing one compiled config.)
 */
export interface InboundService {
  /** The FQDN, e.g. `reviews.default.svc.cluster.local`. */
  readonly host: string;
  /** The Service's name (`reviews`); a ServiceEntry's is its host. */
  readonly name: string;
  readonly namespace: string;
  readonly selector: Readonly<Record<string, string>>;
}

/** Whether `selector` selects a workload with these labels (every pair present). */
export const selectsLabels = (selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
