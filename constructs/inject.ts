/**
 * Sidecar injection for workloads mast did not write (a Helm chart's output, an existing Deployment's
 * YAML), decided as Istio's injection webhooks decide it, at synth time: a pod template gets the sidecar
 * when its namespace is labelled `istio-injection=enabled` (and the pod does not say
 * `sidecar.istio.io/inject: "false"`), or when the pod is labelled `sidecar.istio.io/inject: "true"` in a
 * namespace not labelled `istio-injection=disabled`. Every workload left out is reported (MAST0401), so
 * none goes without a sidecar silently. A workload asked for by name (`Mesh.inject`) is injected as
 * `istioctl kube-inject` does it: whatever its namespace, unless the pod refuses. Pure: objects in,
 * objects and findings out.
 */
import { finding, type Finding, type KubeObject } from '../api';
import { injectSidecar, scrapeAnnotations, type SidecarOptions } from './sidecar';

export const INJECTION_NAMESPACE_LABEL = 'istio-injection';
export const INJECT_POD_LABEL = 'sidecar.istio.io/inject';
/** Istio's per-pod capture exclusions (pod template annotations), honoured. */
const EXCLUDE = {
  inbound: 'traffic.sidecar.istio.io/excludeInboundPorts',
  outbound: 'traffic.sidecar.istio.io/excludeOutboundPorts',
  cidrs: 'traffic.sidecar.istio.io/excludeOutboundIPRanges',
} as const;

type Meta = { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
type Template = { metadata?: Meta; spec?: Record<string, unknown> & { containers?: unknown[]; hostNetwork?: boolean } };
type Obj = KubeObject & { spec?: Record<string, unknown> };

export interface InjectOptions extends SidecarOptions {
  /** Labels of namespaces not among the objects (they exist in the cluster already). @default - none */
  readonly namespaceLabels?: Record<string, Record<string, string>>;
  /** The namespace of objects that name none. @default 'default' */
  readonly defaultNamespace?: string;
}

export interface InjectResult {
  readonly objects: KubeObject[];
  /** The workloads that were injected, as `Kind namespace/name`. */
  readonly injected: string[];
  /** One finding per workload left without a sidecar, saying why. */
  readonly findings: Finding[];
}

/** Where a workload kind keeps its pod template. */
const TEMPLATE_PATH: Record<string, string[]> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

const isInjected = (spec: Template['spec']) =>
  [...((spec?.initContainers as Array<{ name?: string }>) ?? []), ...((spec?.containers as Array<{ name?: string }>) ?? [])].some(
    (c) => c.name === 'mast-proxy',
  );

const list = (v: string | undefined, parse: (s: string) => number | string) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(parse);

/** Why this pod gets no sidecar, or undefined when it gets one (Istio's webhook selectors). */
export function notInjectedBecause(namespaceLabels: Record<string, string>, pod: Meta, spec: Template['spec']): string | undefined {
  const ns = namespaceLabels[INJECTION_NAMESPACE_LABEL];
  const podSays = pod.labels?.[INJECT_POD_LABEL] ?? pod.annotations?.[INJECT_POD_LABEL];
  if (ns === 'disabled') return `its namespace is labelled ${INJECTION_NAMESPACE_LABEL}=disabled`;
  if (podSays === 'false') return `the pod says ${INJECT_POD_LABEL}: "false"`;
  if (ns !== 'enabled' && podSays !== 'true')
    return `neither its namespace is labelled ${INJECTION_NAMESPACE_LABEL}=enabled nor the pod ${INJECT_POD_LABEL}: "true"`;
  if (spec?.hostNetwork) return 'it uses the host network (its traffic cannot be captured)';
  return undefined;
}

/** Istio's annotations that give the proxy volumes and their mounts: JSON objects, each key a volume's name. */
export const USER_VOLUME_ANNOTATIONS = { volumes: 'sidecar.istio.io/userVolume', mounts: 'sidecar.istio.io/userVolumeMount' } as const;

/** An annotation's JSON object of named volumes (or mounts); a value that is not one is an error naming the workload and the annotation. */
function namedObjects(a: Record<string, string>, key: string, workload: string): Record<string, object> | undefined {
  const text = a[key];
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(value) || !Object.values(value).every(isObject))
    throw new Error(`${workload}: annotation ${key} must be a JSON object of {"<volume name>": {...}}, not ${JSON.stringify(text)}`);
  return value as Record<string, object>;
}

function injectTemplate(template: Template, options: SidecarOptions, workloadName: string): Template {
  const a = template.metadata?.annotations ?? {};
  const userVolumes = namedObjects(a, USER_VOLUME_ANNOTATIONS.volumes, workloadName);
  const userVolumeMounts = namedObjects(a, USER_VOLUME_ANNOTATIONS.mounts, workloadName);
  // Prometheus scrapes the sidecar's status port; an app's own scrape moves to the proxy (Istio's metrics merging).
  const scrape = scrapeAnnotations(a);
  const sidecar: SidecarOptions = {
    ...options,
    workloadName,
    ...(scrape.appScrape ? { appScrape: scrape.appScrape } : {}),
    labels: { ...options.labels, ...template.metadata?.labels },
    excludeInboundPorts: [...(options.excludeInboundPorts ?? []), ...(list(a[EXCLUDE.inbound], Number) as number[])],
    excludeOutboundPorts: [...(options.excludeOutboundPorts ?? []), ...(list(a[EXCLUDE.outbound], Number) as number[])],
    excludeOutboundCidrs: [...(options.excludeOutboundCidrs ?? []), ...(list(a[EXCLUDE.cidrs], String) as string[])],
    ...(userVolumes ? { userVolumes: { ...options.userVolumes, ...userVolumes } } : {}),
    ...(userVolumeMounts ? { userVolumeMounts: { ...options.userVolumeMounts, ...userVolumeMounts } } : {}),
  };
  const spec = template.spec as Parameters<typeof injectSidecar>[0];
  return {
    ...template,
    metadata: { ...template.metadata, annotations: scrape.annotations },
    spec: injectSidecar({ ...spec, containers: spec.containers ?? [] }, sidecar),
  };
}

function withTemplate(obj: Obj, path: readonly string[], template: Template): Obj {
  const [head, ...rest] = path;
  const inner = (obj as unknown as Record<string, unknown>)[head] as Obj;
  return { ...obj, [head]: rest.length ? withTemplate(inner, rest, template) : template } as Obj;
}

function templateOf(obj: Obj, path: readonly string[]): Template | undefined {
  let at: unknown = obj;
  for (const key of path) at = (at as Record<string, unknown> | undefined)?.[key];
  return at as Template | undefined;
}

/** The kinds whose pod template injection edits (and Pod itself). */
export const WORKLOAD_KINDS: readonly string[] = ['Pod', ...Object.keys(TEMPLATE_PATH)];

/** Why a pod asked for by name gets no sidecar (`istioctl kube-inject`'s rules: only the pod can refuse), or undefined. */
export function refusedBecause(pod: Meta, spec: Template['spec']): string | undefined {
  const podSays = pod.labels?.[INJECT_POD_LABEL] ?? pod.annotations?.[INJECT_POD_LABEL];
  if (podSays === 'false') return `the pod says ${INJECT_POD_LABEL}: "false"`;
  if (spec?.hostNetwork) return 'it uses the host network (its traffic cannot be captured)';
  return undefined;
}

/** What injection did to one object: `injected` or `finding` is set when it is a workload. */
export interface InjectOutcome {
  readonly object: KubeObject;
  readonly injected?: string;
  readonly finding?: Finding;
}

/**
 * One object: a workload gets the sidecar unless `refuse` gives a reason (then a MAST0401 finding);
 * anything else, and a workload already injected, comes back as it is.
 */
export function injectObject(
  raw: KubeObject,
  options: SidecarOptions & { readonly defaultNamespace?: string },
  refuse: (namespace: string, pod: Meta, spec: Template['spec']) => string | undefined,
): InjectOutcome {
  const obj = raw as Obj;
  const path = obj.kind === 'Pod' ? [] : TEMPLATE_PATH[obj.kind];
  if (!path || !/^(apps|batch)\/v1$|^v1$/.test(obj.apiVersion)) return { object: raw };
  const template: Template | undefined = path.length ? templateOf(obj, path) : { metadata: obj.metadata, spec: obj.spec };
  if (!template?.spec || isInjected(template.spec)) return { object: raw };
  const namespace = obj.metadata.namespace ?? options.defaultNamespace ?? 'default';
  const why = refuse(namespace, template.metadata ?? {}, template.spec);
  if (why)
    return {
      object: raw,
      finding: finding(
        'MAST0401',
        { kind: obj.kind, metadata: { name: obj.metadata.name, namespace } },
        path.join('.'),
        `not injected: ${why}`,
      ),
    };
  // The workload as Istio names it: the Deployment (or other owner) itself; a CronJob's, its own name.
  const next = injectTemplate(template, options, obj.metadata.name);
  const object = (path.length ? withTemplate(obj, path, next) : { ...obj, metadata: next.metadata, spec: next.spec }) as KubeObject;
  return { object, injected: `${obj.kind} ${namespace}/${obj.metadata.name}` };
}

export function injectManifests(objects: readonly KubeObject[], options: InjectOptions = {}): InjectResult {
  const namespaces: Record<string, Record<string, string>> = { ...options.namespaceLabels };
  for (const o of objects) if (o.kind === 'Namespace' && o.apiVersion === 'v1') namespaces[o.metadata.name] = o.metadata.labels ?? {};
  const injected: string[] = [];
  const findings: Finding[] = [];
  const out = objects.map((raw) => {
    const r = injectObject(raw, options, (namespace, pod, spec) => notInjectedBecause(namespaces[namespace] ?? {}, pod, spec));
    if (r.injected) injected.push(r.injected);
    if (r.finding) findings.push(r.finding);
    return r.object;
  });
  return { objects: out, injected, findings };
}
