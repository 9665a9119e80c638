/**
 * What `mast local` runs for a mesh: one entry per WorkloadEntry on a loopback address (its
 * inbound sidecar, and its app when the `local.mast.dev/run` annotation names one), and the
 * rewrite that sends every proxy to the sidecar instead of straight to the app. Pure.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  GATEWAY_NAME,
  GATEWAY_POD_LABELS,
  namespaceOf,
  selects,
  SYSTEM_NAMESPACE,
  sourceOf,
  type KubeObject,
  type ServiceEntry,
  type Sidecar,
  type WorkloadEntry,
} from '../../api';
import { TLS_MODE_LABEL } from '../contract/proxy-config';
import { APP_PORT_ANNOTATION, HEALTH_CHECKS_ANNOTATION, INGRESS_PORTS_ANNOTATION } from '../compile/endpoints';
import { localityOf } from '../compile/locality';
import { indexSidecars } from '../compile/mesh-index';
import { sidecarIn } from '../compile/sidecar-scope';

/** A Node entry point (`.js`, or `.ts` bundled first), relative to the YAML file. */
export const RUN_ANNOTATION = 'local.mast.dev/run';
/** Extra environment for the app: `KEY=value` pairs separated by whitespace. */
export const ENV_ANNOTATION = 'local.mast.dev/env';

export interface LocalWorkload {
  /** `namespace/name` of the WorkloadEntry. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly address: string;
  /** The WorkloadEntry's port name and the port its app listens on. */
  readonly portName: string;
  readonly appPort: number;
  readonly labels: Record<string, string>;
  /** Its identity (SPIFFE): `spec.serviceAccount`, else the `app` label, else its name. */
  readonly serviceAccount: string;
  /** Where its sidecar says it runs (`spec.locality`, else the topology labels), as a pod's node tells Istio. */
  readonly locality?: string;
  /** Absolute path of the app's entry point. */
  readonly run?: string;
  readonly env: Record<string, string>;
  /**
   * The ports of its Sidecar's `ingress` listeners (pod ports, e.g. 9080): its sidecar listens for
   * each on a port of this machine, where the services whose port targets it send their traffic.
   */
  readonly ingressPorts: number[];
  /** Changes when anything that needs a restart changes. */
  readonly fingerprint: string;
}

export interface LocalPlan {
  readonly workloads: LocalWorkload[];
  /** WorkloadEntries `mast local` cannot front with a sidecar, and why; they are reached directly. */
  readonly skipped: string[];
}

/** The identity `mast local` has mastd issue to a workload's sidecar: `spec.serviceAccount`, else the `app` label, else its name. */
const accountOf = (we: WorkloadEntry): string => we.spec.serviceAccount ?? we.spec.labels?.app ?? we.metadata.name;

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;

export function parseEnv(value: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of (value ?? '').split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

export function planLocal(objects: readonly KubeObject[], cwd = process.cwd()): LocalPlan {
  const workloads: LocalWorkload[] = [];
  const skipped: string[] = [];
  const sidecars = indexSidecars(objects.filter((o) => o.kind === 'Sidecar') as unknown as Sidecar[]);
  for (const o of objects) {
    if (o.kind !== 'WorkloadEntry') continue;
    const we = o as unknown as WorkloadEntry;
    const key = `${namespaceOf(we)}/${we.metadata.name}`;
    const address = we.spec.address ?? '';
    const ports = Object.entries(we.spec.ports ?? {});
    if (!LOOPBACK.test(address)) {
      skipped.push(
        `WorkloadEntry ${key}: address ${JSON.stringify(address)} is not a loopback address, so it is reached directly, without a sidecar`,
      );
      continue;
    }
    // Several Service ports may name one app port (ratings' http and grpc): one sidecar fronts it.
    if (new Set(ports.map(([, port]) => port)).size !== 1) {
      skipped.push(
        `WorkloadEntry ${key}: spec.ports has ${ports.length} entries; mast local fronts exactly one port per workload, so it is reached directly, without a sidecar`,
      );
      continue;
    }
    const annotations = we.metadata.annotations ?? {};
    const runPath = annotations[RUN_ANNOTATION];
    const base = sourceOf(o) ? dirname(sourceOf(o)!.file) : cwd;
    const run = runPath ? (isAbsolute(runPath) ? runPath : resolve(base, runPath)) : undefined;
    const [portName, appPort] = ports[0];
    const labels = { ...(we.spec.labels ?? {}) };
    const locality = localityOf(we.spec.locality, we.spec.labels);
    const w = {
      key,
      namespace: namespaceOf(we),
      name: we.metadata.name,
      address,
      portName,
      appPort,
      labels,
      serviceAccount: accountOf(we),
      ...(locality ? { locality } : {}),
      run,
      env: parseEnv(annotations[ENV_ANNOTATION]),
      ingressPorts: (sidecarIn(sidecars, namespaceOf(we), labels)?.spec.ingress ?? []).map((l) => l.port.number),
    };
    workloads.push({ ...w, fingerprint: JSON.stringify(w) });
  }
  return { workloads, skipped };
}

/**
 * The objects every proxy is compiled from: each fronted WorkloadEntry's port points at its
 * inbound sidecar, so no route reaches an app without passing through its sidecar.
 */
export function throughSidecars(
  objects: readonly KubeObject[],
  inboundPortOf: (key: string) => number | undefined,
  ingressPortsOf: (key: string) => Readonly<Record<number, number>> | undefined = () => undefined,
): KubeObject[] {
  const serviceEntries = objects.filter((o) => o.kind === 'ServiceEntry') as unknown as ServiceEntry[];
  return objects.map((o) => {
    if (o.kind !== 'WorkloadEntry') return o;
    const we = o as unknown as WorkloadEntry;
    const key = `${namespaceOf(we)}/${we.metadata.name}`;
    const inbound = inboundPortOf(key);
    const ports = Object.keys(we.spec.ports ?? {});
    if (inbound === undefined || new Set(Object.values(we.spec.ports ?? {})).size !== 1) return o;
    // Labelled as Istio's injector labels pods with a sidecar: other proxies then talk mTLS to it, and
    // check it presents the identity its sidecar was issued.
    const spec = {
      ...we.spec,
      ports: {
        ...Object.fromEntries(ports.map((name) => [name, inbound])),
        ...toIngressListeners(we, serviceEntries, ingressPortsOf(key)),
      },
      serviceAccount: accountOf(we),
      labels: { ...we.spec.labels, [TLS_MODE_LABEL]: 'istio' },
    };
    // The app's own port stays known: a PeerAuthentication's portLevelMtls names it, as a pod's container port.
    const appPort = String(Object.values(we.spec.ports ?? {})[0]);
    // ...and the ports of its Sidecar's ingress listeners, which portLevelMtls names for the endpoints on them.
    const listening = Object.entries(ingressPortsOf(key) ?? {}).map(([port, on]) => `${on}=${port}`);
    const annotations = {
      ...o.metadata.annotations,
      [APP_PORT_ANNOTATION]: appPort,
      ...(listening.length ? { [INGRESS_PORTS_ANNOTATION]: listening.join(',') } : {}),
    };
    const metadata = { ...o.metadata, annotations };
    return { ...o, metadata, spec } as KubeObject;
  });
}

/**
 * The service ports that reach a Sidecar ingress listener of the workload (their endpoint port, the
 * WorkloadEntry's port for the name, else `targetPort`, else the number, is the listener's): by
 * name, the port its sidecar listens on for that listener.
 */
function toIngressListeners(
  we: WorkloadEntry,
  serviceEntries: readonly ServiceEntry[],
  listening: Readonly<Record<number, number>> | undefined,
): Record<string, number> {
  if (!listening) return {};
  const out: Record<string, number> = {};
  for (const se of serviceEntries) {
    const selector = se.spec.workloadSelector?.labels;
    if (namespaceOf(se) !== namespaceOf(we) || !selector || !selects(selector, we.spec.labels)) continue;
    for (const p of se.spec.ports ?? []) {
      const target = we.spec.ports?.[p.name] ?? p.targetPort ?? p.number;
      if (listening[target] !== undefined) out[p.name] = listening[target];
    }
  }
  return out;
}

/**
 * A gateway (the ingress gateway unless named) as the Pod it is in a cluster (its name, Istio's labels, its service account;
 * no address: it serves no route), so the peers table names it: a sidecar then reports requests
 * from the gateway with `source_workload="mast-ingressgateway"`, as Istio's report its gateway.
 */
export function withGatewayPod(
  objects: readonly KubeObject[],
  name = GATEWAY_NAME,
  labels: Readonly<Record<string, string>> = GATEWAY_POD_LABELS,
): KubeObject[] {
  const present = objects.some((o) => o.kind === 'Pod' && o.metadata?.name === name && namespaceOf(o) === SYSTEM_NAMESPACE);
  if (present) return [...objects];
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: SYSTEM_NAMESPACE, labels: { ...labels } },
    spec: { serviceAccountName: name },
  };
  return [...objects, pod as KubeObject];
}

/** With --intercept: each fronted WorkloadEntry's address becomes its namespace's; its port stays the app's (captured inbound, as in a pod). */
export function throughNamespaces(objects: readonly KubeObject[], addressOf: (key: string) => string | undefined): KubeObject[] {
  return objects.map((o) => {
    if (o.kind !== 'WorkloadEntry') return o;
    const we = o as unknown as WorkloadEntry;
    const address = addressOf(`${namespaceOf(we)}/${we.metadata.name}`);
    if (!address) return o;
    return {
      ...o,
      spec: { ...we.spec, address, serviceAccount: accountOf(we), labels: { ...we.spec.labels, [TLS_MODE_LABEL]: 'istio' } },
    } as KubeObject;
  });
}

/**
 * Workloads whose app is down, as Istio marks a WorkloadEntry whose health check fails: health
 * checks on (the annotation) and `Healthy: False`, so the compiler leaves their endpoint out until
 * they are back (runtime/compile/endpoints.ts).
 */
export function withHealth(objects: readonly KubeObject[], down: (key: string) => boolean): KubeObject[] {
  return objects.map((o) => {
    if (o.kind !== 'WorkloadEntry' || !down(`${namespaceOf(o)}/${o.metadata.name}`)) return o;
    const metadata = { ...o.metadata, annotations: { ...o.metadata.annotations, [HEALTH_CHECKS_ANNOTATION]: 'true' } };
    return {
      ...o,
      metadata,
      status: {
        conditions: [{ type: 'Healthy', status: 'False', reason: 'AppDown', message: 'mast local: the app process is not running' }],
      },
    } as KubeObject;
  });
}
