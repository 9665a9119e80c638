/**
 * MeshGateway: mast-proxy in gateway mode (a Deployment, its Service, autoscaling and disruption
 * budget), what the ingress and the egress gateway share; each says its defaults (GatewayRole):
 * name, Istio's labels, Service type. The Service type fits where traffic comes from:
 * LoadBalancer (clouds, kind with a LB provider), ClusterIP (an outside load balancer targeting pod
 * IPs, e.g. an NLB with a TargetGroupBinding; the egress gateway, reached from inside the mesh only)
 * or NodePort (kind with extraPortMappings).
 */
import { ApiObject, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { DEFAULT_PROXY_IMAGE, PROXY_UID, SYSTEM_NAMESPACE } from './version';
import {
  badProp,
  CONTROL_PLANE_TRUST,
  IDENTITY_ENV,
  LOCALITY_ENV,
  recommendedLabels,
  RESTRICTED_POD,
  resourcesOf,
  restrictedContainer,
  type Resources,
} from './pod-security';
import { CREDENTIALS_DIR, gatewayTopologyFlags, PORTS } from '../api';

export type GatewayServiceType = 'LoadBalancer' | 'ClusterIP' | 'NodePort';

export interface GatewayPort {
  /** Port name; `http*`/`https*`/`tls*`/`tcp*` tell the protocol. */
  readonly name: string;
  /** Port the Service exposes, and the number Gateway servers name. */
  readonly port: number;
  /** Port the proxy listens on in the pod (unprivileged). */
  readonly targetPort: number;
  /** Fixed node port for NodePort Services. @default - allocated by Kubernetes */
  readonly nodePort?: number;
}

/** What one kind of gateway sets where its props are silent. */
export interface GatewayRole {
  /** The construct's name, in validation errors. */
  readonly construct: string;
  /** `app.kubernetes.io/component`. */
  readonly component: string;
  readonly name: string;
  readonly selectorLabels: Readonly<Record<string, string>>;
  readonly appLabel: string;
  readonly serviceType: GatewayServiceType;
}

/** Props of either gateway; the defaults named are the ingress gateway's (EgressGatewayProps says the egress gateway's). */
export interface MeshGatewayProps {
  /** @default 'mast-ingressgateway' */
  readonly name?: string;
  /** @default 'mast-system' */
  readonly namespace?: string;
  /** Labels Gateway resources select this gateway by (the Deployment's selector). @default { istio: 'ingressgateway' } */
  readonly selectorLabels?: Record<string, string>;
  /**
   * The pods' `app` label. Istio's ingress gateway carries `app: istio-ingressgateway` beside
   * `istio: ingressgateway`, and policies written for Istio select it by either; with only one,
   * such a policy would select nothing and protect nothing. @default 'istio-ingressgateway'
   */
  readonly appLabel?: string;
  /** @default http 80→8080, https 443→8443 */
  readonly ports?: GatewayPort[];
  /** @default 'LoadBalancer' */
  readonly serviceType?: GatewayServiceType;
  /** Image of mast-proxy. @default 'mast/proxy:<package version>' */
  readonly image?: string;
  /** @default 'IfNotPresent' */
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Address of mastd's push server. @default 'mastd.mast-system.svc:15012' */
  readonly controlPlaneAddress?: string;
  /** Autoscaling bounds (HorizontalPodAutoscaler on CPU). @default { min: 2, max: 5, cpuUtilization: 80 } */
  readonly replicas?: { readonly min: number; readonly max: number; readonly cpuUtilization?: number };
  /** @default { cpu: '100m', memory: '128Mi', memoryLimit: '1Gi' } */
  readonly resources?: Resources;
  /**
   * Expect PROXY protocol v2 on the listeners (an NLB sending client addresses), as Istio's ProxyConfig
   * `gatewayTopology.proxyProtocol`. @default - the Mesh's meshConfig.defaultConfig.gatewayTopology, else false
   */
  readonly proxyProtocol?: boolean;
  /**
   * Proxies in front of the gateway that append to x-forwarded-for (an HTTP load balancer: 1): the
   * client address policies' `remoteIpBlocks` and the access log read is that many entries from the
   * right, as Istio's `gatewayTopology.numTrustedProxies`. @default - the Mesh's meshConfig.defaultConfig.gatewayTopology, else 0
   */
  readonly numTrustedProxies?: number;
  /**
   * What the gateway sends upstream as `x-forwarded-client-cert`, as Istio's ProxyConfig
   * `gatewayTopology.forwardClientCertDetails`: a client's own header is never trusted except with
   * ALWAYS_FORWARD_ONLY (or FORWARD_ONLY/APPEND_FORWARD over mTLS).
   * @default - the Mesh's meshConfig.defaultConfig.gatewayTopology, else 'SANITIZE_SET' (over MUTUAL TLS, this hop's verified client certificate; otherwise none)
   */
  readonly forwardClientCertDetails?: 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';
  /**
   * Seconds the proxy keeps accepting after SIGTERM while telling clients to close (readiness is
   * false meanwhile; match the load balancer's deregistration delay), after which in-flight requests
   * get half as long again. @default 30
   */
  readonly drainSeconds?: number;
  /** Service annotations (e.g. for a cloud load balancer). @default - none */
  readonly serviceAnnotations?: Record<string, string>;
  /**
   * TLS Secrets (in the gateway's namespace) Gateways name as `credentialName`: each is mounted
   * read-only at `/etc/mast/credentials/<name>`, optional (the pod starts before cert-manager
   * issues it; the proxy serves it once it appears, and its renewals). `Mesh` adds the ones its
   * Gateways name. @default - none
   */
  readonly credentials?: string[];
  /**
   * Proxy processes per pod, sharing the listener ports with SO_REUSEPORT (mast-proxy
   * `--workers`; give the pod as many CPUs). @default 1
   */
  readonly workers?: number;
}

/** Where the proxy looks for `credentialName` Secrets (mast-proxy `--credentials-dir`). */
export { CREDENTIALS_DIR };

export const GATEWAY_STATUS_PORT = PORTS.gatewayStatus;
export const GATEWAY_READY_PATH = '/healthz/ready';
/** Envoy's Prometheus port, kept reserved and declared (Istio's `http-envoy-prom`) though mast serves metrics on the status port. */
const PROMETHEUS_PORT = PORTS.prometheus;

export class MeshGateway extends Construct {
  readonly name: string;
  readonly namespace: string;
  readonly selectorLabels: Record<string, string>;
  /** Every label of the gateway's pods: what Gateways and AuthorizationPolicies select it by (the proxy announces them to mastd). */
  readonly labels: Record<string, string>;
  readonly ports: readonly GatewayPort[];
  readonly serviceType: GatewayServiceType;
  /** Readiness endpoint, for load balancer health checks. */
  readonly readinessPort = GATEWAY_STATUS_PORT;
  readonly readinessPath = GATEWAY_READY_PATH;

  protected constructor(
    scope: Construct,
    id: string,
    props: MeshGatewayProps,
    private readonly role: GatewayRole,
  ) {
    super(scope, id);
    const name = (this.name = props.name ?? role.name);
    const ns = (this.namespace = props.namespace ?? SYSTEM_NAMESPACE);
    this.selectorLabels = props.selectorLabels ?? { ...role.selectorLabels };
    this.ports = props.ports ?? [
      { name: 'http', port: 80, targetPort: 8080 },
      { name: 'https', port: 443, targetPort: 8443 },
    ];
    this.serviceType = props.serviceType ?? role.serviceType;
    const replicas = props.replicas ?? { min: 2, max: 5, cpuUtilization: 80 };
    const drain = props.drainSeconds ?? 30;
    this.node.addValidation({ validate: () => this.check(replicas, drain, props.workers, props.numTrustedProxies) });

    for (const c of props.credentials ?? []) this.addCredential(c);
    // The selector's labels last: the pods must carry them whatever else is set.
    const labels = (this.labels = {
      app: props.appLabel ?? role.appLabel,
      ...recommendedLabels(name, role.component),
      ...this.selectorLabels,
    });
    // Known at synth: Gateways are usually added after the gateway itself.
    const credentials = () => [...new Set([...this.credentials, ...this.credentialSources.flatMap((f) => f())])].sort();
    // mastd's root (to verify its push port), then one Secret per credentialName the Gateways use.
    const withCredentials = (first: object, entry: (name: string, volume: string) => object) =>
      Lazy.any({ produce: () => [first, ...credentials().map((c, i) => entry(c, `credential-${i}`))] });
    const volumes = withCredentials(CONTROL_PLANE_TRUST.volume, (c, volume) => ({
      name: volume,
      secret: { secretName: c, optional: true },
    }));
    const volumeMounts = withCredentials(CONTROL_PLANE_TRUST.volumeMount, (c, volume) => ({
      name: volume,
      mountPath: `${CREDENTIALS_DIR}/${c}`,
      readOnly: true,
    }));
    const meta = { name, namespace: ns, labels };
    const portMap = this.ports.map((p) => `${p.port}=${p.targetPort}`).join(',');

    new ApiObject(this, 'service-account', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta });
    new ApiObject(this, 'deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta,
      spec: {
        selector: { matchLabels: this.selectorLabels },
        strategy: { rollingUpdate: { maxSurge: '100%', maxUnavailable: '25%' } },
        template: {
          metadata: {
            labels,
            annotations: {
              // Where the gateway serves its metrics: its status port (nothing listens on Envoy's 15090 in a mast gateway).
              'prometheus.io/scrape': 'true',
              'prometheus.io/port': String(GATEWAY_STATUS_PORT),
              'prometheus.io/path': '/stats/prometheus',
            },
          },
          spec: {
            serviceAccountName: name,
            securityContext: RESTRICTED_POD,
            // The proxy accepts for the drain period, then gives in-flight requests half as long again.
            terminationGracePeriodSeconds: Math.ceil(drain * 1.5) + 5,
            volumes,
            containers: [
              {
                name: 'mast-proxy',
                image: props.image ?? DEFAULT_PROXY_IMAGE,
                imagePullPolicy: props.imagePullPolicy ?? 'IfNotPresent',
                args: [
                  '--mode',
                  'gateway',
                  '--control-plane',
                  props.controlPlaneAddress ?? `mastd.${SYSTEM_NAMESPACE}.svc:${PORTS.push}`,
                  ...CONTROL_PLANE_TRUST.args,
                  '--port-map',
                  portMap,
                  // mastd compiles for the labels a proxy announces: the pod's own, so policies selecting any of them apply.
                  '--labels',
                  Object.entries(labels)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(','),
                  '--status-port',
                  String(GATEWAY_STATUS_PORT),
                  '--drain-seconds',
                  String(drain),
                  ...gatewayTopologyFlags(props),
                  ...(props.workers && props.workers > 1 ? ['--workers', String(props.workers)] : []),
                ],
                env: [...IDENTITY_ENV, ...LOCALITY_ENV],
                ports: [
                  ...this.ports.map((p) => ({ name: p.name, containerPort: p.targetPort, protocol: 'TCP' })),
                  { name: 'status-port', containerPort: GATEWAY_STATUS_PORT, protocol: 'TCP' },
                  { name: 'http-envoy-prom', containerPort: PROMETHEUS_PORT, protocol: 'TCP' },
                ],
                readinessProbe: {
                  httpGet: { path: GATEWAY_READY_PATH, port: GATEWAY_STATUS_PORT },
                  periodSeconds: 2,
                  failureThreshold: 30,
                },
                // No liveness probe on the readiness endpoint (a gateway waiting for mastd is not dead); the
                // startup probe restarts one that never got its first config, as Istio's sidecar template does.
                startupProbe: { httpGet: { path: GATEWAY_READY_PATH, port: GATEWAY_STATUS_PORT }, periodSeconds: 1, failureThreshold: 600 },
                resources: resourcesOf(props.resources ?? { cpu: '100m', memory: '128Mi', memoryLimit: '1Gi' }),
                securityContext: restrictedContainer(PROXY_UID),
                volumeMounts,
              },
            ],
          },
        },
      },
    });
    new ApiObject(this, 'service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { ...meta, ...(props.serviceAnnotations ? { annotations: props.serviceAnnotations } : {}) },
      spec: {
        type: this.serviceType,
        selector: this.selectorLabels,
        ports: this.ports.map((p) => ({
          name: p.name,
          port: p.port,
          targetPort: p.targetPort,
          protocol: 'TCP',
          ...(this.serviceType === 'NodePort' && p.nodePort ? { nodePort: p.nodePort } : {}),
        })),
        ...(this.serviceType === 'LoadBalancer' ? { externalTrafficPolicy: 'Local' } : {}),
      },
    });
    // With one replica, `minAvailable: 1` would block every node drain: a budget only when there are several.
    if (replicas.min > 1)
      new ApiObject(this, 'pdb', {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: meta,
        spec: { minAvailable: 1, selector: { matchLabels: this.selectorLabels } },
      });
    new ApiObject(this, 'hpa', {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: meta,
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
        minReplicas: replicas.min,
        maxReplicas: replicas.max,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: replicas.cpuUtilization ?? 80 } },
          },
        ],
      },
    });
  }

  private readonly credentials = new Set<string>();
  private readonly credentialSources: Array<() => string[]> = [];

  /** Mounts a TLS Secret of the gateway's namespace for Gateways that name it as `credentialName`. */
  addCredential(secretName: string | (() => string[])): void {
    if (typeof secretName === 'function') this.credentialSources.push(secretName);
    else this.credentials.add(secretName);
  }

  private check(replicas: { min: number; max: number }, drain: number, workers: number | undefined, hops: number | undefined): string[] {
    const errors: string[] = [];
    if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1 && workers <= 64))
      errors.push(badProp(this.role.construct, 'workers', workers, 'a whole number from 1 to 64'));
    if (!(Number.isInteger(replicas.min) && replicas.min >= 1 && replicas.max >= replicas.min))
      errors.push(badProp(this.role.construct, 'replicas', replicas, 'min >= 1 and max >= min'));
    if (!(drain >= 0)) errors.push(badProp(this.role.construct, 'drainSeconds', drain, 'a number >= 0'));
    if (hops !== undefined && !(Number.isInteger(hops) && hops >= 0))
      errors.push(badProp(this.role.construct, 'numTrustedProxies', hops, 'a whole number of proxies (0 or more)'));
    for (const c of this.credentials)
      if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(c) || c.length > 253)
        errors.push(badProp(this.role.construct, 'credentials', c, 'a Secret name (lowercase DNS-1123)'));
    const seen = new Set<number>();
    for (const p of this.ports) {
      for (const [field, value] of [
        ['port', p.port],
        ['targetPort', p.targetPort],
      ] as const)
        if (!(Number.isInteger(value) && value >= 1 && value <= 65535))
          errors.push(badProp(this.role.construct, `ports[${p.name}].${field}`, value, 'an integer 1-65535'));
      if (p.targetPort < 1024)
        errors.push(
          badProp(
            this.role.construct,
            `ports[${p.name}].targetPort`,
            p.targetPort,
            'an unprivileged port (>= 1024): the proxy runs as non-root',
          ),
        );
      if (p.targetPort === GATEWAY_STATUS_PORT || p.targetPort === PROMETHEUS_PORT)
        errors.push(
          badProp(this.role.construct, `ports[${p.name}].targetPort`, p.targetPort, 'a port other than the status and metrics ports'),
        );
      if (seen.has(p.port)) errors.push(badProp(this.role.construct, `ports[${p.name}].port`, p.port, 'a port not used by another entry'));
      seen.add(p.port);
    }
    return errors;
  }
}
