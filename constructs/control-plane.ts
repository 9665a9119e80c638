/**
 * MeshControlPlane: mastd in `mast-system` with least-privilege RBAC: watch the
 * mesh kinds, Services, EndpointSlices, Pods and Namespaces; create TokenReviews
 * and Events; write its root certificate ConfigMap in each namespace; its own Secrets (CA root,
 * gateway credentials), ConfigMaps (the `istio` mesh config, read) and Leases only.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { CACERTS_DIR, CACERTS_SECRET, DEFAULT_TRUST_DOMAIN, KINDS, PORTS, TELEMETRY_GROUP } from '../api';
import { DEFAULT_CONTROL_IMAGE, PROXY_UID, SYSTEM_NAMESPACE } from './version';
import {
  badProp,
  IDENTITY_ENV,
  recommendedLabels,
  RESTRICTED_POD,
  resourcesOf,
  restrictedContainer,
  ROOT_CONFIGMAP,
  type Resources,
} from './pod-security';

export const PUSH_PORT = PORTS.push;
export const MONITORING_PORT = PORTS.monitoring;

export interface MeshControlPlaneProps {
  /** Namespace of the control plane (and of its CA Secret and Lease). @default 'mast-system' */
  readonly namespace?: string;
  /** Image of mastd. @default 'mast/control:<package version>' (built locally for kind) */
  readonly image?: string;
  /** @default 'IfNotPresent' */
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Replicas; above 1 they elect a leader with a Lease. @default 1 */
  readonly replicas?: number;
  /** SPIFFE trust domain of workload certificates. @default 'cluster.local' */
  readonly trustDomain?: string;
  /** @default { cpu: '100m', memory: '128Mi', memoryLimit: '512Mi' } */
  readonly resources?: Resources;
  /** Create the namespace object. @default true */
  readonly createNamespace?: boolean;
  /**
   * Extra labels of that namespace (e.g. `elbv2.k8s.aws/pod-readiness-gate-inject: enabled`, so the AWS
   * Load Balancer Controller holds a rolling gateway pod back until the NLB sends it traffic).
   * @default - none
   */
  readonly namespaceLabels?: Record<string, string>;
}

export class MeshControlPlane extends Construct {
  readonly namespace: string;
  readonly serviceName = 'mastd';
  /** Address proxies use to reach the push server. */
  readonly address: string;

  constructor(scope: Construct, id: string, props: MeshControlPlaneProps = {}) {
    super(scope, id);
    const ns = (this.namespace = props.namespace ?? SYSTEM_NAMESPACE);
    this.address = `${this.serviceName}.${ns}.svc:${PUSH_PORT}`;
    const replicas = props.replicas ?? 1;
    this.node.addValidation({
      validate: () =>
        Number.isInteger(replicas) && replicas >= 1 ? [] : [badProp('MeshControlPlane', 'replicas', replicas, 'an integer >= 1')],
    });
    const labels = { app: 'mastd', ...recommendedLabels('mastd', 'control-plane') };
    const meta = (name: string) => ({ name, namespace: ns, labels });

    if (props.createNamespace ?? true)
      new ApiObject(this, 'namespace', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns, labels: { ...props.namespaceLabels, 'app.kubernetes.io/part-of': 'mast' } },
      });
    new ApiObject(this, 'service-account', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('mastd') });

    const groups = [...new Set(Object.values(KINDS).map((k) => k.group))];
    const pluralsOf = (group: string) =>
      Object.values(KINDS)
        .filter((k) => k.group === group)
        .map((k) => k.plural);
    new ApiObject(this, 'cluster-role', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `mastd-${ns}`, labels },
      rules: [
        ...groups.map((group) => ({ apiGroups: [group], resources: pluralsOf(group), verbs: ['get', 'list', 'watch'] })),
        ...groups.map((group) => ({
          apiGroups: [group],
          resources: pluralsOf(group).map((p) => `${p}/status`),
          verbs: ['get', 'update', 'patch'],
        })),
        { apiGroups: [''], resources: ['services', 'pods', 'namespaces', 'nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [TELEMETRY_GROUP], resources: ['telemetries'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
        // The root certificate in each namespace; it reads and replaces no other ConfigMap there.
        { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
        { apiGroups: [''], resources: ['configmaps'], resourceNames: [ROOT_CONFIGMAP], verbs: ['get', 'update'] },
      ],
    });
    new ApiObject(this, 'cluster-role-binding', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `mastd-${ns}`, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `mastd-${ns}` },
      subjects: [{ kind: 'ServiceAccount', name: 'mastd', namespace: ns }],
    });
    // Secrets, ConfigMaps and Leases only in the control-plane namespace: the CA root, gateway credentials,
    // the mesh config (the `istio` ConfigMap, watched), the leader lock.
    new ApiObject(this, 'role', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta('mastd'),
      rules: [
        { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
      ],
    });
    new ApiObject(this, 'role-binding', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta('mastd'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'mastd' },
      subjects: [{ kind: 'ServiceAccount', name: 'mastd', namespace: ns }],
    });

    const probe = (path: string) => ({ httpGet: { path, port: MONITORING_PORT }, periodSeconds: 5 });
    new ApiObject(this, 'deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta('mastd'),
      spec: {
        replicas,
        selector: { matchLabels: { app: 'mastd' } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'mastd',
            securityContext: RESTRICTED_POD,
            containers: [
              {
                name: 'mastd',
                image: props.image ?? DEFAULT_CONTROL_IMAGE,
                imagePullPolicy: props.imagePullPolicy ?? 'IfNotPresent',
                // The push port serves TLS (the default in a cluster); proxies verify it with the root mastd writes into each namespace.
                args: [
                  '--source',
                  'kubernetes',
                  '--push-port',
                  String(PUSH_PORT),
                  '--monitoring-port',
                  String(MONITORING_PORT),
                  '--trust-domain',
                  props.trustDomain ?? DEFAULT_TRUST_DOMAIN,
                ],
                env: IDENTITY_ENV,
                ports: [
                  { name: 'grpc-push', containerPort: PUSH_PORT },
                  { name: 'http-monitoring', containerPort: MONITORING_PORT },
                ],
                // Readiness only, as istiod: a liveness probe on it would restart mastd for being slow (a
                // large snapshot), which only makes it slower; a dead process exits and is restarted anyway.
                readinessProbe: probe('/ready'),
                resources: resourcesOf(props.resources ?? { cpu: '100m', memory: '128Mi', memoryLimit: '512Mi' }),
                securityContext: restrictedContainer(PROXY_UID),
                volumeMounts: [{ name: 'cacerts', mountPath: CACERTS_DIR, readOnly: true }],
              },
            ],
            // Istio's plug-in CA: a `cacerts` Secret in this namespace, when there is one, is the CA mastd signs with.
            volumes: [{ name: 'cacerts', secret: { secretName: CACERTS_SECRET, optional: true } }],
          },
        },
      },
    });
    new ApiObject(this, 'service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta('mastd'),
      spec: {
        selector: { app: 'mastd' },
        ports: [
          { name: 'grpc-push', port: PUSH_PORT, targetPort: PUSH_PORT },
          { name: 'http-monitoring', port: MONITORING_PORT, targetPort: MONITORING_PORT },
        ],
      },
    });
  }
}
