/**
 * Sidecar injection at synth time, as a pure function over a pod spec: a capture
 * init container that installs the iptables rules, then mast-proxy as a native
 * sidecar (an init container with `restartPolicy: Always`) so it starts before
 * the app, stops after it, and lets Jobs complete.
 */
import { DEFAULT_PROXY_IMAGE, PROXY_UID, SYSTEM_NAMESPACE } from './version';
import { CONTROL_PLANE_TRUST, IDENTITY_ENV, LOCALITY_ENV, resourcesOf, restrictedContainer, type Resources } from './pod-security';
import { PORTS } from '../api';

export const SIDECAR_PORTS = {
  outbound: PORTS.sidecarOutbound,
  inbound: PORTS.sidecarInbound,
  status: PORTS.sidecarStatus,
  prometheus: PORTS.prometheus,
} as const;

/** Instance metadata (IMDS) and EKS Pod Identity, IPv4 and IPv6: never captured, or AWS credentials break. */
export const METADATA_CIDRS = ['169.254.169.254/32', '169.254.170.23/32', 'fd00:ec2::254/128', 'fd00:ec2::23/128'];

export interface SidecarOptions {
  /** @default 'mast/proxy:<package version>' */
  readonly image?: string;
  /** @default 'IfNotPresent' */
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** @default 'mastd.mast-system.svc:15012' */
  readonly controlPlaneAddress?: string;
  /** Inbound ports not captured (reach the app directly). @default - none */
  readonly excludeInboundPorts?: number[];
  /** Outbound destination ports not captured. @default - none */
  readonly excludeOutboundPorts?: number[];
  /** Outbound CIDRs not captured, in addition to the metadata addresses. @default - none */
  readonly excludeOutboundCidrs?: string[];
  /** @default { cpu: '50m', memory: '64Mi', memoryLimit: '256Mi' } */
  readonly resources?: Resources;
  /** The pod's labels, given to the proxy (its workload name and version in metrics). @default - none */
  readonly labels?: Record<string, string>;
  /**
   * Send the app containers' `httpGet`, `tcpSocket` and `grpc` probes through the proxy's status port, so
   * that they pass under STRICT mTLS (as Istio's `rewriteAppHTTPProbers`). @default true
   */
  readonly rewriteAppProbes?: boolean;
  /** The workload's name (its Deployment's), for the metrics' `*_workload` labels (Istio's ISTIO_META_WORKLOAD_NAME). @default - the `app` label */
  readonly workloadName?: string;
  /** The app's own metrics, served after the proxy's on the status port (scrapeAnnotations). @default - none */
  readonly appScrape?: AppScrapeAnnotations;
  /**
   * Volumes added to the pod for the proxy, by name (Istio's `sidecar.istio.io/userVolume`): e.g. the
   * Secret with a Sidecar ingress listener's certificate. @default - none
   */
  readonly userVolumes?: Readonly<Record<string, object>>;
  /** Where the proxy mounts them, by volume name (Istio's `sidecar.istio.io/userVolumeMount`). @default - none */
  readonly userVolumeMounts?: Readonly<Record<string, object>>;
}

/** The proxy's environment variable with the app's `prometheus.io/*` annotations (runtime/proxy/app-metrics.ts). */
export const PROMETHEUS_ANNOTATIONS_ENV = 'MAST_PROMETHEUS_ANNOTATIONS';
/** The proxy's environment variable with its workload's name. */
export const WORKLOAD_NAME_ENV = 'MAST_WORKLOAD_NAME';
/** Where Prometheus scrapes a sidecar's pod: its status port, Istio's path. */
export const SCRAPE_PATH = '/stats/prometheus';
/** Istio's opt-out of metrics merging (the pod's `prometheus.io/*` annotations are then left as written). */
export const MERGE_METRICS_ANNOTATION = 'prometheus.istio.io/merge-metrics';

export interface AppScrapeAnnotations {
  readonly scrape: 'true';
  readonly port?: string;
  readonly path?: string;
}

/**
 * A sidecar pod's annotations, as Istio's injector writes them: Prometheus scrapes the status port
 * (`prometheus.io/scrape: "true"`, `port: "15020"`, `path: /stats/prometheus`); an app that declared
 * its own scrape has it moved to the proxy (`appScrape`), which serves it after its own metrics.
 * Left as written: a pod that says `prometheus.io/scrape: "false"`, or opts out of merging.
 */
export function scrapeAnnotations(annotations: Readonly<Record<string, string>> = {}): {
  annotations: Record<string, string>;
  appScrape?: AppScrapeAnnotations;
} {
  if (annotations['prometheus.io/scrape'] === 'false' || annotations[MERGE_METRICS_ANNOTATION] === 'false')
    return { annotations: { ...annotations } };
  const own = annotations['prometheus.io/scrape'] === 'true';
  const appScrape: AppScrapeAnnotations | undefined = own
    ? {
        scrape: 'true',
        ...(annotations['prometheus.io/port'] ? { port: annotations['prometheus.io/port'] } : {}),
        ...(annotations['prometheus.io/path'] ? { path: annotations['prometheus.io/path'] } : {}),
      }
    : undefined;
  return {
    annotations: {
      ...annotations,
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(SIDECAR_PORTS.status),
      'prometheus.io/path': SCRAPE_PATH,
    },
    ...(appScrape ? { appScrape } : {}),
  };
}

/** The proxy's environment variable with the app's original probes (runtime/proxy/app-probe.ts). */
export const APP_PROBERS_ENV = 'MAST_APP_PROBERS';
const PROBE_KINDS = { livenessProbe: 'livez', readinessProbe: 'readyz', startupProbe: 'startupz' } as const;

type PodSpec = Record<string, unknown> & { initContainers?: unknown[]; containers: unknown[] };
// biome-ignore lint/suspicious/noExplicitAny: a container of the user's pod spec, passed through as written
type Container = Record<string, any> & { name: string; ports?: Array<{ name?: string; containerPort: number }> };

/**
 * The app containers with their captured `httpGet`/`tcpSocket`/`grpc` probes pointed at the
 * proxy's status port, and the original probes keyed by their new path. Left as they are: `exec`
 * probes, probes to another host, to a port that is not captured, or to a named port the
 * container does not declare.
 */
export function rewriteAppProbes(
  containers: readonly unknown[],
  excludedPorts: readonly number[],
): { containers: unknown[]; probers: Record<string, unknown> } {
  const probers: Record<string, unknown> = {};
  const rewritten = containers.map((raw) => {
    const c = raw as Container;
    const out: Container = { ...c };
    for (const [field, kind] of Object.entries(PROBE_KINDS)) {
      const probe = c[field];
      const handler = (['httpGet', 'tcpSocket', 'grpc'] as const).find((h) => probe?.[h]);
      const action = handler && probe[handler];
      if (!action || action.host) continue;
      const port = typeof action.port === 'number' ? action.port : c.ports?.find((p) => p.name === action.port)?.containerPort;
      if (port === undefined || excludedPorts.includes(port)) continue;
      const path = `/app-health/${c.name}/${kind}`;
      probers[path] = { [handler]: { ...action, port }, ...(probe.timeoutSeconds ? { timeoutSeconds: probe.timeoutSeconds } : {}) };
      const { [handler]: _original, ...rest } = probe;
      out[field] = { ...rest, httpGet: { path, port: SIDECAR_PORTS.status } };
    }
    return out;
  });
  return { containers: rewritten, probers };
}

export function injectSidecar(pod: PodSpec, options: SidecarOptions = {}): PodSpec {
  const image = options.image ?? DEFAULT_PROXY_IMAGE;
  const pullPolicy = options.imagePullPolicy ?? 'IfNotPresent';
  const list = (xs: ReadonlyArray<number | string>) => xs.join(',');
  const { containers, probers } =
    options.rewriteAppProbes === false
      ? { containers: pod.containers, probers: {} }
      : rewriteAppProbes(pod.containers, options.excludeInboundPorts ?? []);
  const probersEnv = Object.keys(probers).length ? [{ name: APP_PROBERS_ENV, value: JSON.stringify(probers) }] : [];
  const metricsEnv = [
    ...(options.workloadName ? [{ name: WORKLOAD_NAME_ENV, value: options.workloadName }] : []),
    ...(options.appScrape ? [{ name: PROMETHEUS_ANNOTATIONS_ENV, value: JSON.stringify(options.appScrape) }] : []),
  ];
  const capture = {
    name: 'mast-init',
    image,
    imagePullPolicy: pullPolicy,
    command: ['mast-capture'],
    args: [
      '--proxy-uid',
      String(PROXY_UID),
      '--outbound-port',
      String(SIDECAR_PORTS.outbound),
      '--inbound-port',
      String(SIDECAR_PORTS.inbound),
      '--exclude-inbound-ports',
      list([SIDECAR_PORTS.status, SIDECAR_PORTS.prometheus, ...(options.excludeInboundPorts ?? [])]),
      '--exclude-outbound-ports',
      list(options.excludeOutboundPorts ?? []),
      '--exclude-outbound-cidrs',
      list([...METADATA_CIDRS, ...(options.excludeOutboundCidrs ?? [])]),
    ],
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] },
    },
    resources: resourcesOf({ cpu: '10m', memory: '16Mi', memoryLimit: '64Mi' }),
  };
  const proxy = {
    name: 'mast-proxy',
    image,
    imagePullPolicy: pullPolicy,
    restartPolicy: 'Always',
    args: [
      '--mode',
      'sidecar',
      '--control-plane',
      options.controlPlaneAddress ?? `mastd.${SYSTEM_NAMESPACE}.svc:${PORTS.push}`,
      ...CONTROL_PLANE_TRUST.args,
      '--outbound-port',
      String(SIDECAR_PORTS.outbound),
      '--inbound-port',
      String(SIDECAR_PORTS.inbound),
      '--status-port',
      String(SIDECAR_PORTS.status),
      ...(options.labels && Object.keys(options.labels).length
        ? [
            '--labels',
            Object.entries(options.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
          ]
        : []),
    ],
    env: [...IDENTITY_ENV, ...LOCALITY_ENV, ...probersEnv, ...metricsEnv],
    ports: [
      { name: 'status-port', containerPort: SIDECAR_PORTS.status, protocol: 'TCP' },
      { name: 'http-envoy-prom', containerPort: SIDECAR_PORTS.prometheus, protocol: 'TCP' },
    ],
    startupProbe: { httpGet: { path: '/healthz/ready', port: SIDECAR_PORTS.status }, periodSeconds: 1, failureThreshold: 600 },
    readinessProbe: { httpGet: { path: '/healthz/ready', port: SIDECAR_PORTS.status }, periodSeconds: 15, failureThreshold: 4 },
    resources: resourcesOf(options.resources ?? { cpu: '50m', memory: '64Mi', memoryLimit: '256Mi' }),
    securityContext: restrictedContainer(PROXY_UID),
    volumeMounts: [
      CONTROL_PLANE_TRUST.volumeMount,
      ...Object.entries(options.userVolumeMounts ?? {}).map(([name, mount]) => ({ ...mount, name })),
    ],
  };
  const volumes = [
    ...((pod.volumes as unknown[] | undefined) ?? []),
    CONTROL_PLANE_TRUST.volume,
    ...Object.entries(options.userVolumes ?? {}).map(([name, volume]) => ({ ...volume, name })),
  ];
  return { ...pod, containers, volumes, initContainers: [capture, proxy, ...(pod.initContainers ?? [])] };
}
