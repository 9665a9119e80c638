/**
 * MeshWorkload: an app in the mesh. One ServiceAccount (its mTLS identity), one
 * Service, and a Deployment per version (labels `app` and `version`, which
 * DestinationRule subsets select), each with the sidecar injected at synth.
 */
import { ApiObject, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { injectSidecar, SIDECAR_PORTS, scrapeAnnotations, type SidecarOptions } from './sidecar';
import { badProp, RESTRICTED_POD, resourcesOf, type Resources } from './pod-security';

export interface WorkloadVersion {
  /** Value of the `version` label. */
  readonly version: string;
  /** @default - the workload's image */
  readonly image?: string;
  /** @default - the workload's replicas */
  readonly replicas?: number;
  /** Extra environment for this version. @default - none */
  readonly env?: Record<string, string>;
}

/** Another port of the app, on its Service and container. */
export interface WorkloadPort {
  /** Its name; the prefix tells the protocol as Istio reads it (`http`, `grpc`, `http2`, `tcp`...). */
  readonly name: string;
  readonly port: number;
  /** Kubernetes `appProtocol` (e.g. `grpc`, `kubernetes.io/h2c`): it wins over the name. @default - none */
  readonly appProtocol?: string;
}

/** Kubernetes pod settings passed through as written (Kubernetes' own field shapes). */
export interface WorkloadPodSettings {
  /** @default - none */
  readonly volumes?: Record<string, unknown>[];
  /** Mounts of the app container. @default - none */
  readonly volumeMounts?: Record<string, unknown>[];
  /** The app's probes; `readinessPath` is a shorthand for an HTTP readiness probe. @default - none */
  readonly readinessProbe?: Record<string, unknown>;
  /** @default - none */
  readonly livenessProbe?: Record<string, unknown>;
  /** @default - none */
  readonly startupProbe?: Record<string, unknown>;
  /** @default - none */
  readonly affinity?: Record<string, unknown>;
  /** @default - none */
  readonly tolerations?: Record<string, unknown>[];
  /** @default - none */
  readonly nodeSelector?: Record<string, string>;
  /** Extra pod template annotations (e.g. Istio's `traffic.sidecar.istio.io/*`). @default - none */
  readonly podAnnotations?: Record<string, string>;
}

export interface MeshWorkloadProps extends WorkloadPodSettings {
  /** Service, ServiceAccount and `app` label. @default - the construct id */
  readonly name?: string;
  /** @default - the chart's namespace */
  readonly namespace?: string;
  /** The app's container image. */
  readonly image: string;
  /** Port the app listens on; the Service exposes it under the same number. */
  readonly port: number;
  /** Port name; its prefix tells the protocol (`http`, `grpc`, `tcp`...). @default 'http' */
  readonly portName?: string;
  /** More ports of the app (e.g. a `grpc` port beside `http`). @default - none */
  readonly additionalPorts?: WorkloadPort[];
  /** @default [{ version: 'v1' }] */
  readonly versions?: WorkloadVersion[];
  /** @default 1 */
  readonly replicas?: number;
  /** @default - none */
  readonly env?: Record<string, string>;
  /** @default - the image's entrypoint */
  readonly command?: string[];
  /** @default - the image's arguments */
  readonly args?: string[];
  /** @default { cpu: '50m', memory: '64Mi' } */
  readonly resources?: Resources;
  /** Readiness probe path on the app port. @default - no probe */
  readonly readinessPath?: string;
  /** Inject the mast-proxy sidecar. @default true */
  readonly inject?: boolean;
  /** Sidecar settings (image, capture exclusions). @default - defaults of SidecarOptions */
  readonly sidecar?: SidecarOptions;
  /** Annotations for the ServiceAccount (e.g. `eks.amazonaws.com/role-arn` for IRSA). @default - none */
  readonly serviceAccountAnnotations?: Record<string, string>;
  /**
   * The app container's securityContext, as written (the app's user is its image's business: mast does not
   * force `runAsNonRoot` on it; its own sidecar is always non-root).
   * @default { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }
   */
  readonly securityContext?: Record<string, unknown>;
}

const RESERVED_PORTS = new Set<number>(Object.values(SIDECAR_PORTS));

export class MeshWorkload extends Construct {
  readonly name: string;
  readonly serviceAccountName: string;
  /** Namespace of the workload's objects (its own prop, else its chart's, else `default`). */
  readonly namespace: string;
  readonly port: number;
  readonly versions: readonly string[];

  constructor(scope: Construct, id: string, props: MeshWorkloadProps) {
    super(scope, id);
    const name = (this.name = props.name ?? id);
    this.serviceAccountName = name;
    this.namespace = props.namespace ?? Chart.of(this).namespace ?? 'default';
    this.port = props.port;
    const versions = props.versions ?? [{ version: 'v1' }];
    this.versions = versions.map((v) => v.version);
    this.node.addValidation({ validate: () => this.check(props, versions) });
    const ns = props.namespace ? { namespace: props.namespace } : {};
    const portName = props.portName ?? 'http';

    new ApiObject(this, 'service-account', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: {
        name,
        ...ns,
        labels: { app: name },
        ...(props.serviceAccountAnnotations ? { annotations: props.serviceAccountAnnotations } : {}),
      },
    });
    new ApiObject(this, 'service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, ...ns, labels: { app: name, service: name } },
      spec: {
        selector: { app: name },
        ports: [
          { name: portName, port: props.port, targetPort: props.port, protocol: 'TCP' },
          ...(props.additionalPorts ?? []).map((p) => ({
            name: p.name,
            port: p.port,
            targetPort: p.port,
            protocol: 'TCP',
            ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
          })),
        ],
      },
    });
    for (const v of versions) {
      const labels = { app: name, version: v.version };
      const env = Object.entries({ ...props.env, ...v.env }).map(([k, value]) => ({ name: k, value }));
      const app = {
        name,
        image: v.image ?? props.image,
        imagePullPolicy: 'IfNotPresent',
        ...(props.command ? { command: props.command } : {}),
        ...(props.args ? { args: props.args } : {}),
        ...(env.length ? { env } : {}),
        ports: [
          { name: portName, containerPort: props.port, protocol: 'TCP' },
          ...(props.additionalPorts ?? []).map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' })),
        ],
        ...(props.readinessPath ? { readinessProbe: { httpGet: { path: props.readinessPath, port: props.port } } } : {}),
        ...(props.readinessProbe ? { readinessProbe: props.readinessProbe } : {}),
        ...(props.livenessProbe ? { livenessProbe: props.livenessProbe } : {}),
        ...(props.startupProbe ? { startupProbe: props.startupProbe } : {}),
        ...(props.volumeMounts ? { volumeMounts: props.volumeMounts } : {}),
        resources: resourcesOf(props.resources ?? { cpu: '50m', memory: '64Mi' }),
        securityContext: props.securityContext ?? { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      };
      const pod = {
        serviceAccountName: name,
        securityContext: RESTRICTED_POD,
        containers: [app],
        ...(props.volumes ? { volumes: props.volumes } : {}),
        ...(props.affinity ? { affinity: props.affinity } : {}),
        ...(props.tolerations ? { tolerations: props.tolerations } : {}),
        ...(props.nodeSelector ? { nodeSelector: props.nodeSelector } : {}),
      };
      const annotations = { ...props.podAnnotations, 'sidecar.istio.io/inject': String(props.inject ?? true) };
      // Prometheus scrapes the sidecar; the app's own scrape, if it declares one, is merged there (Istio's).
      const scrape = scrapeAnnotations(annotations);
      new ApiObject(this, `deployment-${v.version}`, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: `${name}-${v.version}`, ...ns, labels },
        spec: {
          replicas: v.replicas ?? props.replicas ?? 1,
          selector: { matchLabels: labels },
          template: {
            // Pods with a sidecar are labelled as Istio labels them, so other proxies use mTLS to them.
            metadata: {
              labels: props.inject === false ? labels : { ...labels, 'security.istio.io/tlsMode': 'istio' },
              annotations: props.inject === false ? annotations : scrape.annotations,
            },
            spec:
              props.inject === false
                ? pod
                : injectSidecar(pod, {
                    labels,
                    workloadName: `${name}-${v.version}`,
                    ...(scrape.appScrape ? { appScrape: scrape.appScrape } : {}),
                    ...props.sidecar,
                  }),
          },
        },
      });
    }
  }

  private check(props: MeshWorkloadProps, versions: WorkloadVersion[]): string[] {
    const errors: string[] = [];
    // The name is the Service's (and the Deployments' prefix): a DNS-1035 label.
    if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(this.name) || this.name.length > 63)
      errors.push(
        badProp('MeshWorkload', 'name', this.name, 'a Service name (lowercase letters, digits and -, starting with a letter, at most 63)'),
      );
    const replicas = (field: string, n: number | undefined) => {
      if (n !== undefined && !(Number.isInteger(n) && n >= 0)) errors.push(badProp('MeshWorkload', field, n, 'an integer >= 0'));
    };
    replicas('replicas', props.replicas);
    versions.forEach((v, i) => replicas(`versions[${i}].replicas`, v.replicas));
    if (!(Number.isInteger(props.port) && props.port >= 1 && props.port <= 65535))
      errors.push(badProp('MeshWorkload', 'port', props.port, 'an integer 1-65535'));
    if (RESERVED_PORTS.has(props.port))
      errors.push(badProp('MeshWorkload', 'port', props.port, `a port the sidecar does not use (${[...RESERVED_PORTS].join(', ')})`));
    const used = new Set([props.port]);
    const names = new Set([props.portName ?? 'http']);
    (props.additionalPorts ?? []).forEach((p, i) => {
      const field = `additionalPorts[${i}]`;
      if (!(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535) || RESERVED_PORTS.has(p.port) || used.has(p.port))
        errors.push(badProp('MeshWorkload', `${field}.port`, p.port, 'an integer 1-65535, unique, not a port the sidecar uses'));
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p.name) || p.name.length > 15 || names.has(p.name))
        errors.push(badProp('MeshWorkload', `${field}.name`, p.name, 'a unique port name (lowercase letters, digits and -, at most 15)'));
      used.add(p.port);
      names.add(p.name);
    });
    if (versions.length === 0) errors.push(badProp('MeshWorkload', 'versions', versions, 'at least one version'));
    const seen = new Set<string>();
    for (const v of versions) {
      if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v.version))
        errors.push(badProp('MeshWorkload', 'versions[].version', v.version, 'a label value (lowercase letters, digits, - and .)'));
      if (seen.has(v.version)) errors.push(badProp('MeshWorkload', 'versions[].version', v.version, 'unique'));
      seen.add(v.version);
    }
    return errors;
  }
}
