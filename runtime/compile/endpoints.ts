/**
 * Endpoints of a service port, from the snapshot: ServiceEntry `endpoints` (or, resolved by DNS
 * without endpoints, its host),
 * WorkloadEntries its `workloadSelector` selects (their `ports` map a port name to
 * the port the workload listens on), and Kubernetes EndpointSlices. An endpoint the registry says
 * is not ready (a slice's `conditions.ready: false`, a health-checked WorkloadEntry not `Healthy`)
 * is left out, so it leaves the proxies' load balancers at the next push.
 */
import {
  fqdn,
  isPlainObject,
  kubernetesPortProtocol,
  parseAppProtocol,
  namespaceOf,
  selects,
  type AnyMeshResource,
  type KubeObject,
  type Registry,
  type ServiceEntry,
  type WorkloadEntry,
} from '../../api';
import { TLS_MODE_LABEL, type EndpointConfig } from '../contract/proxy-config';
import { localityOf } from './locality';

export interface ServicePort {
  readonly host: string;
  readonly namespace: string;
  readonly number: number;
  readonly name?: string;
  /** The application protocol (Istio's name), or as written when Istio knows none; absent: none given (HTTP to mast). */
  readonly protocol?: string;
  /** Istio would detect the protocol from the first bytes (no known protocol given): its sidecars then keep the client's HTTP version. */
  readonly auto?: boolean;
  readonly targetPort?: number;
}

const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB', 'HTTPS']);
/** A protocol the proxies route by HTTP request (a port without one counts as HTTP, as in mast so far). */
export const isHttpProtocol = (protocol: string | undefined) => HTTP_PROTOCOLS.has((protocol ?? 'HTTP').toUpperCase());

/** Every (host, port) the registry knows, with the port's name and protocol (built once per snapshot: MeshIndex.servicePorts). */
export function listServicePorts(registry: Registry): ServicePort[] {
  const out: ServicePort[] = [];
  for (const svc of registry.services) {
    if (svc.host.startsWith('*')) continue;
    for (const p of svc.ports) {
      const targetPort = typeof p.targetPort === 'number' ? p.targetPort : undefined;
      out.push({ host: svc.host, namespace: svc.namespace, number: p.number, name: p.name, ...protocolOf(svc.source, p), targetPort });
    }
  }
  return out;
}

/**
 * A registered port's protocol, as Istio reads it (api/protocol.ts). A Kubernetes port whose name
 * and appProtocol say nothing Istio knows stays what mast made of it before: TCP when its L4
 * protocol is written (as the API server always fills it), else HTTP; Istio would sniff both.
 */
function protocolOf(source: 'Service' | 'ServiceEntry', p: { number: number; name?: string; protocol?: string; appProtocol?: string }) {
  const known = source === 'Service' ? kubernetesPortProtocol(p) : parseAppProtocol(p.protocol);
  if (known) return { protocol: known };
  const protocol = source === 'Service' ? (p.protocol ? 'TCP' : undefined) : p.protocol;
  return { ...(protocol ? { protocol } : {}), auto: true };
}

/** The lookups endpointsOf makes, built once per snapshot (a MeshIndex is one). */
export interface EndpointIndex {
  /** ServiceEntries by lowercase host. */
  readonly serviceEntriesByHost: ReadonlyMap<string, readonly AnyMeshResource[]>;
  /** WorkloadEntries by namespace. */
  readonly workloadEntriesByNamespace: ReadonlyMap<string, readonly AnyMeshResource[]>;
  /** WorkloadEntries by `namespace|label=value`, so a selector looks at its candidates only. */
  readonly workloadEntriesByLabel: ReadonlyMap<string, readonly AnyMeshResource[]>;
  /**
   * Pods by `namespace/name`: an endpoint's labels are its pod's (subsets, `security.istio.io/tlsMode`), its
   * identity the pod's service account, its locality the pod's topology labels or else its node's.
   */
  readonly pods: ReadonlyMap<string, { readonly labels: Record<string, string>; readonly identity: string; readonly locality: string }>;
  /** Each Node's locality (`region/zone/subzone` from its topology labels), as istiod reads it for the pods on it. */
  readonly nodeLocality: ReadonlyMap<string, string>;
  readonly endpointSlices: readonly KubeObject[];
}

/** Whether the workload with these labels (in the service's namespace) has mTLS DISABLEd on the port its app listens on. */
export type MtlsDisabled = (labels: Readonly<Record<string, string>>, appPort: number) => boolean;

/** Istio's tlsMode label value for an endpoint whose sidecar takes no mTLS (its PeerAuthentication says DISABLE). */
export const TLS_MODE_DISABLED = 'disabled';

/** A route destination's service port: the one numbered, or (no number) the host's only port, else its first HTTP port, else its first. */
export type PortResolver = (host: string, port: number | undefined) => ServicePort | undefined;

export function portResolver(ports: readonly ServicePort[]): PortResolver {
  const byHost = new Map<string, ServicePort[]>();
  for (const p of ports) byHost.set(p.host, [...(byHost.get(p.host) ?? []), p]);
  return (host, port) => {
    const candidates = byHost.get(host) ?? [];
    return port === undefined
      ? candidates.length === 1
        ? candidates[0]
        : (candidates.find((p) => isHttpProtocol(p.protocol)) ?? candidates[0])
      : candidates.find((p) => p.number === port);
  };
}

/** A workload's identity as mTLS peers check it: the SPIFFE id's path, without the trust domain (the mesh root signs one). */
export const identityOf = (namespace: string, serviceAccount: string) => `ns/${namespace}/sa/${serviceAccount}`;

/**
 * The endpoints of a service port; `identities`, when given, collects the identities they run as
 * (Pods' service accounts, `serviceAccount` of WorkloadEntries and ServiceEntry endpoints, a
 * ServiceEntry's SPIFFE `subjectAltNames`), as Istio collects a service's accounts.
 */
export function endpointsOf(
  index: EndpointIndex,
  port: ServicePort,
  identities?: Set<string>,
  mtlsDisabled?: MtlsDisabled,
): EndpointConfig[] {
  const out: EndpointConfig[] = [];
  /** An endpoint with a sidecar whose PeerAuthentication DISABLEs mTLS on its app's port is labelled so: clients send it plain text. */
  const checked = (labels: Record<string, string>, appPort: number): Record<string, string> =>
    labels[TLS_MODE_LABEL] === 'istio' && mtlsDisabled?.(labels, appPort) ? { ...labels, [TLS_MODE_LABEL]: TLS_MODE_DISABLED } : labels;
  for (const se of (index.serviceEntriesByHost.get(port.host) ?? []) as ServiceEntry[]) {
    if (namespaceOf(se) !== port.namespace) continue;
    const sePort = se.spec.ports?.find((p) => p.number === port.number);
    for (const san of se.spec.subjectAltNames ?? [])
      if (san.startsWith('spiffe://')) identities?.add(san.slice('spiffe://'.length).replace(/^[^/]*\//, ''));
    for (const ep of se.spec.endpoints ?? []) {
      if (!ep.address) continue;
      const epPort = (sePort && ep.ports?.[sePort.name]) ?? sePort?.targetPort ?? port.number;
      out.push({
        address: ep.address,
        port: epPort,
        labels: checked(ep.labels ?? {}, epPort),
        ...located(localityOf(ep.locality, ep.labels)),
      });
      if (ep.serviceAccount) identities?.add(identityOf(port.namespace, ep.serviceAccount));
    }
    // DNS resolution without endpoints: the host itself, resolved by the proxy on each new connection.
    const dns = se.spec.resolution === 'DNS' || se.spec.resolution === 'DNS_ROUND_ROBIN';
    if (dns && !se.spec.endpoints?.length && !se.spec.workloadSelector)
      out.push({ address: port.host, port: sePort?.targetPort ?? port.number, labels: {} });
    const selector = se.spec.workloadSelector?.labels;
    if (selector)
      for (const we of candidates(index, port.namespace, selector)) {
        if (!selects(selector, we.spec.labels) || !we.spec.address || !healthy(we)) continue;
        const wePort = (sePort && we.spec.ports?.[sePort.name]) ?? sePort?.targetPort ?? port.number;
        const appPort = listenerPortOf(we, wePort) ?? (Number(we.metadata.annotations?.[APP_PORT_ANNOTATION]) || wePort);
        out.push({
          address: we.spec.address,
          port: wePort,
          labels: checked(we.spec.labels ?? {}, appPort),
          ...located(localityOf(we.spec.locality, we.spec.labels)),
        });
        if (we.spec.serviceAccount) identities?.add(identityOf(namespaceOf(we), we.spec.serviceAccount));
      }
  }
  for (const slice of index.endpointSlices)
    for (const e of sliceEndpoints(slice, port, index, identities)) out.push({ ...e, labels: checked(e.labels ?? {}, e.port) });
  return out;
}

const located = (locality: string) => (locality ? { locality } : {});

/**
 * `mast local`'s: the port a fronted WorkloadEntry's app listens on, its `ports` having been
 * rewritten to its sidecar's inbound port (runtime/local/workloads.ts). A pod's endpoint port is
 * the app's own; this says which port PeerAuthentication's `portLevelMtls` means for the endpoint.
 */
export const APP_PORT_ANNOTATION = 'local.mast.dev/app-port';

/**
 * `mast local`'s: the Sidecar ingress listeners a fronted WorkloadEntry's sidecar listens for, as
 * `<port listened on>=<listener port>` pairs (`32080=9080,32081=9081`): an endpoint on one of them
 * is the pod's listener port for `portLevelMtls`.
 */
export const INGRESS_PORTS_ANNOTATION = 'local.mast.dev/ingress-ports';

function listenerPortOf(we: WorkloadEntry, port: number): number | undefined {
  const pairs = we.metadata.annotations?.[INGRESS_PORTS_ANNOTATION];
  if (!pairs) return undefined;
  const pair = pairs.split(',').find((p) => p.startsWith(`${port}=`));
  return pair ? Number(pair.slice(pair.indexOf('=') + 1)) : undefined;
}

/** Istio's annotation that puts a WorkloadEntry's endpoint under its `Healthy` condition. */
export const HEALTH_CHECKS_ANNOTATION = 'proxy.istio.io/health-checks-enabled';

/** The spellings Go's strconv.ParseBool reads as true, as Istio parses the annotation. */
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

/**
 * As Istio's isHealthy: with health checks enabled (the annotation "true"), a WorkloadEntry is an
 * endpoint only while its status says `Healthy: True` (not yet probed counts as unhealthy); without
 * them it always is. `mast local`'s supervisor sets both for a workload whose app is down.
 */
export function healthy(we: WorkloadEntry): boolean {
  if (!GO_TRUE.has(we.metadata.annotations?.[HEALTH_CHECKS_ANNOTATION] ?? '')) return true;
  const conditions = (we as { status?: { conditions?: unknown } }).status?.conditions;
  const condition = Array.isArray(conditions) ? conditions.find((c) => isPlainObject(c) && c.type === 'Healthy') : undefined;
  return condition?.status === 'True';
}

/** WorkloadEntries that may match a selector: those sharing its rarest label (all of the namespace for an empty one). */
function candidates(index: EndpointIndex, namespace: string, selector: Record<string, string>): WorkloadEntry[] {
  const lists = Object.entries(selector).map(([k, v]) => index.workloadEntriesByLabel.get(`${namespace}|${k}=${v}`) ?? []);
  if (lists.length === 0) return (index.workloadEntriesByNamespace.get(namespace) ?? []) as WorkloadEntry[];
  return lists.reduce((a, b) => (b.length < a.length ? b : a)) as WorkloadEntry[];
}

function sliceEndpoints(
  slice: KubeObject,
  port: ServicePort,
  { pods, nodeLocality }: Pick<EndpointIndex, 'pods' | 'nodeLocality'>,
  identities?: Set<string>,
): EndpointConfig[] {
  const service = slice.metadata.labels?.['kubernetes.io/service-name'];
  if (!service || fqdn(service, namespaceOf(slice)) !== port.host) return [];
  const ports = Array.isArray(slice.ports) ? slice.ports.filter(isPlainObject) : [];
  const match = ports.find((p) => p.name === (port.name ?? '')) ?? (ports.length === 1 ? ports[0] : undefined);
  if (!match || typeof match.port !== 'number') return [];
  const endpoints = Array.isArray(slice.endpoints) ? slice.endpoints.filter(isPlainObject) : [];
  return endpoints
    .filter((e) => (e.conditions as { ready?: boolean } | undefined)?.ready !== false)
    .flatMap((e) => {
      const ref = e.targetRef as { kind?: string; name?: string; namespace?: string } | undefined;
      const pod = ref?.kind === 'Pod' ? pods.get(`${ref.namespace ?? namespaceOf(slice)}/${ref.name}`) : undefined;
      if (pod) identities?.add(pod.identity);
      const labels = pod?.labels ?? {};
      // The pod's (its topology labels, else its node's); without a pod, the node the slice names. Not the
      // slice's `zone` alone: without a region it would never match a proxy's region/zone.
      const locality = pod?.locality ?? (typeof e.nodeName === 'string' ? (nodeLocality.get(e.nodeName) ?? '') : '');
      return ((e.addresses as string[]) ?? []).map((address) => ({ address, port: match.port as number, labels, ...located(locality) }));
    });
}
