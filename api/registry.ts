/**
 * The service registry an input set describes: Kubernetes Services and
 * ServiceEntries (hosts), and the workloads that back them (Pods, the pod
 * templates of Deployments and friends, WorkloadEntries, ServiceEntry endpoints).
 */
import { fqdn, hostMatches, namespaceOf, selects } from './hosts';
import { isPlainObject } from './shape';
import type { KubeObject, ServiceEntry, WorkloadEntry } from './resources';

export interface RegisteredService {
  readonly host: string;
  readonly namespace: string;
  readonly source: 'Service' | 'ServiceEntry';
  readonly name: string;
  readonly ports: ReadonlyArray<{ number: number; name?: string; protocol?: string }>;
  /** Labels selecting the service's workloads; undefined when it has none (external hosts). */
  readonly selector?: Record<string, string>;
}

export interface Workload {
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly source: string;
}

export interface Registry {
  readonly services: RegisteredService[];
  readonly workloads: Workload[];
  /** Registered services whose host `host` names (wildcard-aware both ways). */
  find(host: string, namespace: string): RegisteredService[];
  /** Workloads of `namespace` carrying all of `labels`. */
  select(namespace: string, labels: Record<string, string> | undefined): Workload[];
}

const POD_TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

export function buildRegistry(objects: readonly KubeObject[]): Registry {
  const services: RegisteredService[] = [];
  const workloads: Workload[] = [];
  for (const obj of objects) {
    const namespace = namespaceOf(obj);
    const spec = isPlainObject(obj.spec) ? obj.spec : {};
    if (obj.kind === 'Service' && obj.apiVersion === 'v1') {
      const ports = Array.isArray(spec.ports) ? spec.ports.filter(isPlainObject).map((p) => ({ number: Number(p.port), name: p.name as string | undefined, protocol: p.protocol as string | undefined })) : [];
      const selector = isPlainObject(spec.selector) ? (spec.selector as Record<string, string>) : undefined;
      services.push({ host: fqdn(obj.metadata.name, namespace), namespace, source: 'Service', name: obj.metadata.name, ports, selector });
    } else if (obj.kind === 'Pod' && obj.apiVersion === 'v1') {
      workloads.push({ namespace, labels: obj.metadata.labels ?? {}, source: `Pod ${obj.metadata.name}` });
    } else if (POD_TEMPLATE_KINDS.has(obj.kind)) {
      const template = isPlainObject(spec.template) && isPlainObject(spec.template.metadata) ? spec.template.metadata : {};
      workloads.push({ namespace, labels: (template.labels as Record<string, string>) ?? {}, source: `${obj.kind} ${obj.metadata.name}` });
    } else if (obj.kind === 'ServiceEntry' && isPlainObject(obj.spec)) {
      const se = obj as unknown as ServiceEntry;
      for (const host of se.spec.hosts ?? [])
        services.push({ host: host.toLowerCase(), namespace, source: 'ServiceEntry', name: obj.metadata.name, ports: se.spec.ports ?? [], selector: se.spec.workloadSelector?.labels });
      for (const ep of se.spec.endpoints ?? []) workloads.push({ namespace, labels: ep.labels ?? {}, source: `ServiceEntry ${obj.metadata.name} endpoint` });
    } else if (obj.kind === 'WorkloadEntry' && isPlainObject(obj.spec)) {
      const we = obj as unknown as WorkloadEntry;
      workloads.push({ namespace, labels: we.spec.labels ?? {}, source: `WorkloadEntry ${obj.metadata.name}` });
    }
  }
  return {
    services,
    workloads,
    find: (host, namespace) => {
      const wanted = fqdn(host, namespace);
      return services.filter((s) => hostMatches(s.host, wanted) || hostMatches(wanted, s.host));
    },
    select: (namespace, labels) => workloads.filter((w) => w.namespace === namespace && selects(labels, w.labels)),
  };
}
