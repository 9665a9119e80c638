/**
 * The service registry an input set describes: Kubernetes Services and
 * ServiceEntries (hosts, ports, exportTo), the workloads behind them (Pods with
 * their Node's topology labels, pod templates of Deployments and friends,
 * WorkloadEntries, ServiceEntry endpoints), Namespaces and Secrets.
 */
import { fqdn, namespaceOf } from './hosts';
import { isPlainObject } from './shape';
import type { KubeObject, ServiceEntry, WorkloadEntry } from './resources';
import { exportScopes, type ExportScope } from './visibility';
import { GATEWAY_NAME, GATEWAY_POD_LABELS, GATEWAY_SELECTOR_LABELS, SYSTEM_NAMESPACE } from './well-known';

export interface RegisteredService {
  readonly host: string;
  readonly namespace: string;
  readonly source: 'Service' | 'ServiceEntry';
  readonly name: string;
  /** `protocol` as written: a Service's L4 protocol (TCP, UDP), a ServiceEntry's application protocol; `appProtocol`: a Service's. */
  readonly ports: ReadonlyArray<{ number: number; name?: string; protocol?: string; appProtocol?: string; targetPort?: unknown }>;
  /** Labels selecting the service's workloads; undefined when it has none (external hosts). */
  readonly selector?: Record<string, string>;
  /** Namespaces that see this service ('*' for all). */
  readonly exportTo: ExportScope;
  readonly addresses?: readonly string[];
}

export interface Workload {
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly source: string;
}

export interface RegistryOptions {
  /**
   * Assume mast's default ingress gateway exists (namespace `mast-system`, labels
   * `istio: ingressgateway`, Service ports 80 and 443), as `istioctl analyze` assumes
   * Istio's when it has no cluster to look at.
   */
  readonly defaultIngressGateway?: boolean;
}

const POD_TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);
const TOPOLOGY_LABELS = ['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'kubernetes.io/hostname'];
export const DEFAULT_GATEWAY_NAMESPACE = SYSTEM_NAMESPACE;
/** The `source` of the assumed default gateway's workload. */
export const DEFAULT_GATEWAY_SOURCE = 'default ingress gateway';
export const DEFAULT_GATEWAY_LABELS = GATEWAY_SELECTOR_LABELS;
/**
 * Where the assumed default gateway (mast local's; `mast validate` with no gateway pods in its
 * input) takes its `credentialName` Secrets from: its own namespace, and `istio-system`, where
 * Istio's tasks create them for the `istio-ingressgateway` it stands in for. A real gateway's pods
 * read only their own namespace's.
 */
export const DEFAULT_GATEWAY_SECRET_NAMESPACES: readonly string[] = [DEFAULT_GATEWAY_NAMESPACE, 'istio-system'];

export class Registry {
  readonly services: RegisteredService[] = [];
  readonly workloads: Workload[] = [];
  readonly namespaces = new Set<string>();
  readonly secrets = new Set<string>();
  /** True when the input has any Service or ServiceEntry of the user's: only then can a host be "not found". */
  readonly hasServices: boolean;
  /**
   * True when the input describes some workload (Pods, pod templates, WorkloadEntries, ServiceEntry
   * endpoints), the assumed default gateway aside: only then can a selector be said to match none.
   */
  readonly knowsWorkloads: boolean;

  constructor(objects: readonly KubeObject[], options: RegistryOptions = {}) {
    const nodes = new Map(objects.filter((o) => o.kind === 'Node').map((n) => [n.metadata.name, n.metadata.labels ?? {}]));
    for (const obj of objects) this.add(obj, nodes);
    this.knowsWorkloads = this.workloads.length > 0;
    // mast's own Services (control plane, gateway) say nothing about where the user's hosts live.
    this.hasServices = objects.some(
      (o) => (o.kind === 'Service' || o.kind === 'ServiceEntry') && o.metadata.labels?.['app.kubernetes.io/part-of'] !== 'mast',
    );
    if (options.defaultIngressGateway) {
      const ns = DEFAULT_GATEWAY_NAMESPACE;
      this.workloads.push({ namespace: ns, labels: { ...GATEWAY_POD_LABELS }, source: DEFAULT_GATEWAY_SOURCE });
      this.services.push({
        host: fqdn(GATEWAY_NAME, ns),
        namespace: ns,
        source: 'Service',
        name: GATEWAY_NAME,
        selector: DEFAULT_GATEWAY_LABELS,
        exportTo: '*',
        ports: [
          { number: 80, name: 'http', protocol: 'TCP' },
          { number: 443, name: 'https', protocol: 'TCP' },
        ],
      });
    }
  }

  private add(obj: KubeObject, nodes: Map<string, Record<string, string>>): void {
    const namespace = namespaceOf(obj);
    if (obj.kind !== 'Namespace') this.namespaces.add(namespace);
    const spec = isPlainObject(obj.spec) ? obj.spec : {};
    if (obj.kind === 'Namespace') this.namespaces.add(obj.metadata.name);
    else if (obj.kind === 'Secret' && obj.apiVersion === 'v1') this.secrets.add(`${namespace}/${obj.metadata.name}`);
    else if (obj.kind === 'Service' && obj.apiVersion === 'v1') {
      const ports = Array.isArray(spec.ports)
        ? spec.ports.filter(isPlainObject).map((p) => ({
            number: Number(p.port),
            name: p.name as string | undefined,
            protocol: p.protocol as string | undefined,
            ...(typeof p.appProtocol === 'string' ? { appProtocol: p.appProtocol } : {}),
            targetPort: p.targetPort,
          }))
        : [];
      const selector = isPlainObject(spec.selector) ? (spec.selector as Record<string, string>) : undefined;
      const annotation = obj.metadata.annotations?.['networking.istio.io/exportTo'];
      const exportTo = exportScopes(annotation ? annotation.split(',').map((s) => s.trim()) : undefined, namespace);
      this.services.push({
        host: fqdn(obj.metadata.name, namespace),
        namespace,
        source: 'Service',
        name: obj.metadata.name,
        ports,
        selector,
        exportTo,
      });
    } else if (obj.kind === 'Pod' && obj.apiVersion === 'v1') {
      const node = typeof spec.nodeName === 'string' ? nodes.get(spec.nodeName) : undefined;
      const topology = Object.fromEntries(TOPOLOGY_LABELS.filter((l) => node?.[l]).map((l) => [l, node![l]]));
      this.workloads.push({ namespace, labels: { ...topology, ...obj.metadata.labels }, source: `Pod ${obj.metadata.name}` });
    } else if (POD_TEMPLATE_KINDS.has(obj.kind)) {
      const template = isPlainObject(spec.template) && isPlainObject(spec.template.metadata) ? spec.template.metadata : {};
      this.workloads.push({
        namespace,
        labels: (template.labels as Record<string, string>) ?? {},
        source: `${obj.kind} ${obj.metadata.name}`,
      });
    } else if (obj.kind === 'ServiceEntry' && isPlainObject(obj.spec)) {
      const se = obj as unknown as ServiceEntry;
      const exportTo = exportScopes(se.spec.exportTo, namespace);
      for (const host of se.spec.hosts ?? [])
        this.services.push({
          host: host.toLowerCase(),
          namespace,
          source: 'ServiceEntry',
          name: obj.metadata.name,
          ports: se.spec.ports ?? [],
          selector: se.spec.workloadSelector?.labels,
          exportTo,
          addresses: se.spec.addresses,
        });
      for (const ep of se.spec.endpoints ?? [])
        this.workloads.push({ namespace, labels: ep.labels ?? {}, source: `ServiceEntry ${obj.metadata.name} endpoint` });
    } else if (obj.kind === 'WorkloadEntry' && isPlainObject(obj.spec)) {
      const we = obj as unknown as WorkloadEntry;
      this.workloads.push({ namespace, labels: we.spec.labels ?? {}, source: `WorkloadEntry ${obj.metadata.name}` });
    }
  }

  /** Workloads of `namespace` (all namespaces when undefined) carrying all of `labels`. */
  select(namespace: string | undefined, labels: Record<string, string> | undefined): Workload[] {
    const wanted = Object.entries(labels ?? {});
    // Only the workloads carrying the rarest wanted label are looked at (the analysis stays linear).
    let candidates: readonly Workload[] = this.workloads;
    for (const [k, v] of wanted) {
      const list = this.index().workloadsByLabel.get(`${k}=${v}`) ?? [];
      if (list.length < candidates.length) candidates = list;
    }
    return candidates.filter((w) => (namespace === undefined || w.namespace === namespace) && wanted.every(([k, v]) => w.labels[k] === v));
  }

  /** Services whose host is exactly `host`. */
  withHost(host: string): RegisteredService[] {
    return this.index().servicesByHost.get(host) ?? [];
  }

  /** Services with a wildcard host (`*.example.com`). */
  wildcardServices(): RegisteredService[] {
    return this.index().wildcards;
  }

  private lookups?: {
    servicesByHost: Map<string, RegisteredService[]>;
    wildcards: RegisteredService[];
    workloadsByLabel: Map<string, Workload[]>;
  };

  /** Built on first use, once the registry is complete. */
  private index() {
    if (this.lookups) return this.lookups;
    const servicesByHost = new Map<string, RegisteredService[]>();
    const workloadsByLabel = new Map<string, Workload[]>();
    for (const s of this.services) servicesByHost.set(s.host, [...(servicesByHost.get(s.host) ?? []), s]);
    for (const w of this.workloads)
      for (const [k, v] of Object.entries(w.labels)) {
        const list = workloadsByLabel.get(`${k}=${v}`);
        if (list) list.push(w);
        else workloadsByLabel.set(`${k}=${v}`, [w]);
      }
    return (this.lookups = { servicesByHost, wildcards: this.services.filter((s) => s.host.startsWith('*')), workloadsByLabel });
  }
}

export function buildRegistry(objects: readonly KubeObject[], options: RegistryOptions = {}): Registry {
  return new Registry(objects, options);
}
