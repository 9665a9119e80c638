/**
 * Mesh: the whole mesh as three charts, in the order they must be applied:
 * CRDs → control plane and ingress gateway (`mast-system`) → workloads and mesh
 * resources. Charts need no AWS stack; image URIs may be CDK tokens.
 */
import { ApiObject, Chart } from 'cdk8s';
import { Construct, type IConstruct } from 'constructs';
import { stringify } from 'yaml';
import {
  clientTlsSettings,
  type DestinationRuleSpec,
  type Finding,
  formatFinding,
  gatewayTopologyOf,
  isError,
  loadFiles,
  MESH_CONFIG_KEY,
  MESH_CONFIGMAP,
  type MeshConfig,
  meshConfigFindings,
  ROOT_NAMESPACES,
  selects,
  trustDomainProblem,
  type KubeObject,
} from '../api';
import { injectManifests, injectObject, type InjectOptions, refusedBecause, WORKLOAD_KINDS } from './inject';
import { MeshCrds } from './crds';
import { MeshControlPlane, type MeshControlPlaneProps } from './control-plane';
import { MeshDashboards, type MeshDashboardsProps } from './dashboards';
import { IngressGateway, type IngressGatewayProps } from './ingress-gateway';
import { EgressGateway, type EgressGatewayProps } from './egress-gateway';
import { MeshWorkload, type MeshWorkloadProps } from './mesh-workload';
import { fromObject } from './mesh-resources';
import { localitySetting, type LocalityLoadBalancing } from './mesh-config';
import type { SidecarOptions } from './sidecar';

export interface MeshProps {
  /** Namespace of the workloads and mesh resources that name none. @default 'default' */
  readonly namespace?: string;
  /** @default - MeshControlPlane defaults */
  readonly controlPlane?: MeshControlPlaneProps;
  /** The ingress gateway; `false` for none. @default - IngressGateway defaults */
  readonly gateway?: IngressGatewayProps | false;
  /**
   * An egress gateway (Istio's `istio-egressgateway`, which Gateways select by `istio: egressgateway`):
   * `true` for one with the EgressGateway defaults, or its props. @default false
   */
  readonly egressGateway?: EgressGatewayProps | boolean;
  /** Proxy image for the gateways and every sidecar. @default 'mast/proxy:<package version>' */
  readonly proxyImage?: string;
  /** Defaults for every workload's sidecar. @default - SidecarOptions defaults */
  readonly sidecar?: SidecarOptions;
  /** Prefix of the chart ids (and file names). @default 'mast' */
  readonly prefix?: string;
  /**
   * Istio's mesh config, as far as mast applies it (outbound traffic policy, path normalization,
   * HTTP/2 upgrade, tracing providers, locality load balancing): written as the `istio` ConfigMap of
   * the control plane's namespace, which mastd watches; checked at synth (a bad value throws, naming the field).
   * @default - none: Istio's defaults (ALLOW_ANY, BASE normalization, no upgrade, no tracing)
   */
  readonly meshConfig?: MeshConfig;
  /**
   * Mesh-wide locality load balancing (Istio's MeshConfig `localityLbSetting`), written to the `istio`
   * mesh config ConfigMap in the control plane's namespace: `true` keeps each request in its client's
   * zone while that zone has healthy endpoints (zone-aware routing; it acts on services whose
   * DestinationRule sets `outlierDetection`, as Istio's), `false` turns it off, or a whole setting
   * (`distribute`, `failover`, `failoverPriority`). Leave it out when your YAML brings its own `istio` ConfigMap.
   * @default - no ConfigMap: Istio's default, enabled
   */
  readonly localityLoadBalancing?: LocalityLoadBalancing;
  /**
   * mast's Grafana dashboards (Mesh, Service, Workload, Control Plane) as ConfigMaps labelled for
   * Grafana's dashboard sidecar (`grafana_dashboard: "1"`, as the Grafana chart and
   * kube-prometheus-stack expect), in the control plane's namespace unless told otherwise.
   * @default false
   */
  readonly dashboards?: boolean | MeshDashboardsProps;
}

export class MeshInputError extends Error {
  readonly code = 'MAST_INPUT_INVALID';
}

/** mastd signs in the mesh config's `trustDomain` (as istiod reads it), or in `controlPlane.trustDomain`; both, when they differ, is an error. */
function trustDomainOf(props: MeshProps): { trustDomain?: string } {
  const fromMesh = props.meshConfig?.trustDomain;
  const fromControlPlane = props.controlPlane?.trustDomain;
  if (fromMesh !== undefined && fromControlPlane !== undefined && fromMesh !== fromControlPlane)
    throw new MeshInputError(
      `meshConfig.trustDomain "${fromMesh}" and controlPlane.trustDomain "${fromControlPlane}" differ: set one (mastd signs workload certificates in it)`,
    );
  const trustDomain = fromMesh ?? fromControlPlane;
  const problem = trustDomain === undefined ? undefined : trustDomainProblem(trustDomain);
  if (problem) throw new MeshInputError(`${fromMesh !== undefined ? 'meshConfig' : 'controlPlane'}.trustDomain: MAST0138 ${problem}`);
  return trustDomain === undefined ? {} : { trustDomain };
}

export class Mesh extends Construct {
  readonly crds: MeshCrds;
  readonly system: Chart;
  readonly apps: Chart;
  readonly controlPlane: MeshControlPlane;
  readonly gateway?: IngressGateway;
  readonly egressGateway?: EgressGateway;
  /** The dashboards' ConfigMaps, when `dashboards` asked for them. */
  readonly dashboards?: MeshDashboards;
  /** Workloads added as objects or YAML that got no sidecar, and why (MAST0401, as `istioctl analyze` reports IST0103). */
  readonly findings: Finding[] = [];
  private readonly sidecar: SidecarOptions;
  private readonly namespace: string;

  constructor(scope: Construct, id: string, props: MeshProps = {}) {
    super(scope, id);
    const prefix = props.prefix ?? 'mast';
    this.crds = new MeshCrds(scope, `${prefix}-0-crds`);
    this.system = new Chart(scope, `${prefix}-1-system`);
    this.namespace = props.namespace ?? 'default';
    this.apps = new Chart(scope, `${prefix}-2-apps`, { namespace: this.namespace });
    this.system.addDependency(this.crds);
    this.apps.addDependency(this.system);
    this.controlPlane = new MeshControlPlane(this.system, 'control-plane', { ...props.controlPlane, ...trustDomainOf(props) });
    const locality = props.localityLoadBalancing;
    if (props.meshConfig || locality !== undefined)
      this.addMeshConfig({ ...props.meshConfig, ...(locality !== undefined ? { localityLbSetting: localitySetting(locality) } : {}) });
    if (props.dashboards)
      this.dashboards = new MeshDashboards(this.system, 'dashboards', {
        namespace: this.controlPlane.namespace,
        ...(props.dashboards === true ? {} : props.dashboards),
      });
    const controlPlaneAddress = this.controlPlane.address;
    const gatewayDefaults = {
      namespace: this.controlPlane.namespace,
      controlPlaneAddress,
      // What the mesh config says is in front of the gateways (a gateway's own props win, as a pod's proxy.istio.io/config does).
      ...gatewayTopologyOf(props.meshConfig),
      ...(props.proxyImage ? { image: props.proxyImage } : {}),
    };
    if (props.gateway !== false)
      this.gateway = new IngressGateway(this.system, 'ingress-gateway', { ...gatewayDefaults, ...props.gateway });
    if (props.egressGateway)
      this.egressGateway = new EgressGateway(this.system, 'egress-gateway', {
        ...gatewayDefaults,
        ...(props.egressGateway === true ? {} : props.egressGateway),
      });
    // The Secrets their Gateways name as credentialName, mounted into each gateway (read at synth).
    for (const gateway of [this.gateway, this.egressGateway]) gateway?.addCredential(() => credentialNames(this.apps, gateway.labels));
    this.sidecar = { controlPlaneAddress, ...(props.proxyImage ? { image: props.proxyImage } : {}), ...props.sidecar };
  }

  private addMeshConfig(mesh: MeshConfig): void {
    const namespace = this.controlPlane.namespace;
    if (!ROOT_NAMESPACES.includes(namespace))
      throw new MeshInputError(
        `meshConfig: mast reads the mesh config in a root namespace (${ROOT_NAMESPACES.join(', ')}); the control plane's namespace is ${namespace}`,
      );
    const configMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: MESH_CONFIGMAP, namespace },
      data: { [MESH_CONFIG_KEY]: stringify(mesh) },
    };
    const errors = (meshConfigFindings(configMap) ?? []).filter(isError);
    if (errors.length) throw new MeshInputError(`meshConfig: ${errors.map(formatFinding).join('\n')}`);
    new ApiObject(this.system, 'mesh-config', configMap);
  }

  /** A workload with its Service, ServiceAccount and injected Deployments. */
  addWorkload(id: string, props: MeshWorkloadProps): MeshWorkload {
    return new MeshWorkload(this.apps, id, { ...props, sidecar: { ...this.sidecar, ...props.sidecar } });
  }

  /**
   * Objects as loaded from YAML (yours, or a Helm chart's output): mesh kinds become typed constructs;
   * workloads get the sidecar where Istio's injection would give it (`istio-injection=enabled` on their
   * namespace, or `sidecar.istio.io/inject: "true"` on the pod; see inject.ts), those left out are in
   * `findings`; the rest pass through. Namespaces that exist in the cluster already and are not among
   * the objects: their labels in `options.namespaceLabels`.
   */
  addObjects(objects: readonly KubeObject[], options: Pick<InjectOptions, 'namespaceLabels'> = {}): string[] {
    const result = injectManifests(objects, { ...this.sidecar, ...options, defaultNamespace: this.namespace });
    this.findings.push(...result.findings);
    result.objects.forEach((obj) => fromObject(this.apps, `${obj.kind}-${obj.metadata.namespace ?? ''}-${obj.metadata.name}`, obj));
    return result.injected;
  }

  /**
   * Your own cdk8s workloads get the sidecar, as `istioctl kube-inject` gives it: every `ApiObject` of a
   * workload kind (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod) at or under each
   * scope — one `ApiObject`, a cdk8s-plus `Deployment` (its `apiObject` is found under it), or a whole
   * chart — whatever its namespace's labels, unless its pod says `sidecar.istio.io/inject: "false"` or
   * uses the host network (a MAST0401 finding each, in `findings` once the chart is synthesized). The
   * pod template is read when the object is synthesized, so containers, labels and JSON patches added
   * after this call are injected too. Returns the construct paths of the objects it will inject.
   */
  inject(...scopes: IConstruct[]): string[] {
    const options = { ...this.sidecar, defaultNamespace: this.namespace };
    const paths: string[] = [];
    for (const scope of scopes)
      for (const c of scope.node.findAll()) {
        if (!ApiObject.isApiObject(c) || !WORKLOAD_KINDS.includes(c.kind) || injecting.has(c)) continue;
        injecting.add(c);
        paths.push(c.node.path);
        // Synthesis calls toJson(): the injection runs on what it renders (lazy values resolved, the
        // user's patches applied), the way a webhook sees the final object.
        const render = c.toJson.bind(c);
        c.toJson = () => {
          const r = injectObject(render() as KubeObject, options, (_namespace, pod, spec) => refusedBecause(pod, spec));
          const f = r.finding;
          if (f && !this.findings.some((g) => g.code === f.code && g.name === f.name && g.namespace === f.namespace && g.kind === f.kind))
            this.findings.push(f);
          return r.object;
        };
      }
    return paths;
  }

  /** Loads YAML files or directories into the mesh; a syntax error throws with file and line. */
  addYaml(...paths: string[]): void {
    const { objects, findings } = loadFiles(paths);
    if (findings.length) throw new MeshInputError(findings.map(formatFinding).join('\n'));
    this.addObjects(objects);
  }
}

/** ApiObjects whose synthesis already injects (a second `inject()` over them adds nothing). */
const injecting = new WeakSet<ApiObject>();

/**
 * `credentialName`s of the Gateways in `chart` that select a gateway with `labels` (Secrets of the
 * gateway's namespace, as Istio reads them), and for a server that verifies clients with no
 * `caCertificates`, the `<name>-cacert` Secret Istio may take its CA from; and those of the
 * DestinationRules without workloadSelector, which gateways originate TLS with.
 */
function credentialNames(chart: Chart, labels: Record<string, string>): string[] {
  const names: string[] = [];
  type Tls = { mode?: string; credentialName?: string; credentialNames?: string[]; caCertificates?: string };
  for (const c of chart.node.findAll()) {
    if (c instanceof ApiObject && c.kind === 'DestinationRule' && c.apiVersion.startsWith('networking.istio.io/')) {
      // A DestinationRule without workloadSelector originates TLS with its credentialName at the gateways (its CA maybe in `<name>-cacert`).
      const spec = (c.toJson() as { spec?: DestinationRuleSpec }).spec;
      if (spec && !spec.workloadSelector)
        for (const { tls } of clientTlsSettings(spec))
          if (tls.credentialName && !tls.credentialName.includes('/') && (tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL'))
            names.push(tls.credentialName, `${tls.credentialName}-cacert`);
    }
    if (!(c instanceof ApiObject) || c.kind !== 'Gateway' || !c.apiVersion.startsWith('networking.istio.io/')) continue;
    const spec = (c.toJson() as { spec?: { selector?: Record<string, string>; servers?: Array<{ tls?: Tls }> } }).spec;
    if (!selects(spec?.selector ?? {}, labels)) continue;
    for (const server of spec?.servers ?? []) {
      const tls = server.tls;
      const own = [tls?.credentialName, ...(tls?.credentialNames ?? [])].filter((n): n is string => !!n && !n.includes('/'));
      const verifies = (tls?.mode === 'MUTUAL' || tls?.mode === 'OPTIONAL_MUTUAL') && !tls.caCertificates;
      names.push(...own, ...(verifies ? own.map((n) => `${n}-cacert`) : []));
    }
  }
  return names;
}
