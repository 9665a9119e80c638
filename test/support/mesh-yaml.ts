/**
 * Mesh YAML for tests, from the few facts a test is about: the Gateway's hosts, a ServiceEntry's
 * host and port, its endpoints or the WorkloadEntries behind it, the VirtualService routing the
 * gateway's host to it. The fixtures wrote these documents out by hand again and again, alike but
 * for names and ports; each builder gives one document, `meshYaml` joins them as a multi-document
 * file. Everything sits in one namespace (`default` unless said), as the tests' meshes do.
 */

const DEFAULT_NS = 'default';

/** The ingress Gateway `name` (default `edge`) serving `hosts` on HTTP port 80. */
export function gatewayDoc(hosts: readonly string[], name = 'edge', namespace = DEFAULT_NS): string {
  return gatewayServersDoc([`{ port: { number: 80, name: http, protocol: HTTP }, hosts: [${hosts.join(', ')}] }`], name, namespace);
}

/** The ingress Gateway `name` (default `edge`) with these servers, each a YAML flow mapping (port, hosts, tls). */
export function gatewayServersDoc(servers: readonly string[], name = 'edge', namespace = DEFAULT_NS): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  selector: { istio: ingressgateway }
  servers:
${servers.map((s) => `    - ${s}`).join('\n')}`;
}

export interface ServiceEntryFacts {
  readonly name: string;
  /** @default `${name}.default.svc.cluster.local` */
  readonly host?: string;
  /** @default 80 */
  readonly port?: number;
  /** The port's protocol (its name is the protocol in lower case). @default 'HTTP' */
  readonly protocol?: string;
  /** `location: MESH_INTERNAL` written out. @default true */
  readonly internal?: boolean;
  /** Endpoints on 127.0.0.1 by port, inline; without them the entry selects WorkloadEntries labelled `app: name`. */
  readonly endpoints?: readonly number[];
  /** Spec lines of its own (indented two spaces) in place of the endpoints or the workloadSelector. */
  readonly specLines?: string;
  readonly namespace?: string;
}

/** A STATIC ServiceEntry: inline endpoints on 127.0.0.1, a workloadSelector for `app: <name>`, or the `specLines` given. */
export function serviceEntryDoc(s: ServiceEntryFacts): string {
  const ns = s.namespace ?? DEFAULT_NS;
  const protocol = s.protocol ?? 'HTTP';
  const lines = [
    'apiVersion: networking.istio.io/v1',
    'kind: ServiceEntry',
    `metadata: { name: ${s.name}, namespace: ${ns} }`,
    'spec:',
    `  hosts: [${s.host ?? `${s.name}.${ns}.svc.cluster.local`}]`,
    `  ports: [{ number: ${s.port ?? 80}, name: ${protocol.toLowerCase()}, protocol: ${protocol} }]`,
    '  resolution: STATIC',
    ...(s.internal === false ? [] : ['  location: MESH_INTERNAL']),
    ...(s.specLines !== undefined
      ? [s.specLines]
      : s.endpoints
        ? ['  endpoints:', ...s.endpoints.map((p) => `    - { address: 127.0.0.1, ports: { ${protocol.toLowerCase()}: ${p} } }`)]
        : [`  workloadSelector: { labels: { app: ${s.name} } }`]),
  ];
  return lines.join('\n');
}

export interface WorkloadFacts {
  /** The `app` label: the service it serves. */
  readonly app: string;
  readonly version: string;
  /** The app's port on 127.0.0.1. */
  readonly port: number;
  /** The port's name (the ServiceEntry port it serves). @default 'http' */
  readonly portName?: string;
  /** @default - none (the namespace's `default`) */
  readonly serviceAccount?: string;
  /** Labelled `security.istio.io/tlsMode: istio`: its sidecar takes mTLS. @default false */
  readonly mtls?: boolean;
  /** What `mast local` runs for it (the `local.mast.dev/run` annotation). @default - none */
  readonly run?: string;
  /** @default `${app}-${version}` */
  readonly name?: string;
  readonly namespace?: string;
}

/** A WorkloadEntry on 127.0.0.1 labelled `app` and `version`. */
export function workloadEntryDoc(w: WorkloadFacts): string {
  const annotations = w.run ? `, annotations: { local.mast.dev/run: ${w.run} }` : '';
  const account = w.serviceAccount ? `, serviceAccount: ${w.serviceAccount}` : '';
  const mtls = w.mtls ? ', security.istio.io/tlsMode: istio' : '';
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${w.name ?? `${w.app}-${w.version}`}, namespace: ${w.namespace ?? DEFAULT_NS}${annotations} }
spec: { address: 127.0.0.1, ports: { ${w.portName ?? 'http'}: ${w.port} }${account}, labels: { app: ${w.app}, version: ${w.version}${mtls} } }`;
}

/** The VirtualService `name` binding `hosts` on the Gateway `gateway` to one destination host (and port, if given). */
export function gatewayRouteDoc(
  name: string,
  hosts: readonly string[],
  destination: string,
  gateway = 'edge',
  where: { readonly namespace?: string; readonly port?: number } = {},
): string {
  const port = where.port === undefined ? '' : `, port: { number: ${where.port} }`;
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${where.namespace ?? DEFAULT_NS} }
spec:
  hosts: [${hosts.join(', ')}]
  gateways: [${gateway}]
  http: [{ route: [{ destination: { host: ${destination}${port} } }] }]`;
}

/** The mesh config (`istio` ConfigMap of `namespace`, istio-system unless said) holding `mesh`, MeshConfig fields in YAML (one per line). */
export function meshConfigDoc(mesh: string, namespace = 'istio-system'): string {
  return `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: ${namespace} }
data:
  mesh: |
${mesh
  .trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}`;
}

/** A Telemetry (telemetry.istio.io/v1 unless `apiVersion` says) `name` in `namespace` with these spec lines (indented two spaces). */
export function telemetryDoc(name: string, namespace: string, spec: string, apiVersion = 'telemetry.istio.io/v1'): string {
  return `apiVersion: ${apiVersion}
kind: Telemetry
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${spec}`;
}

/** Documents joined into one YAML file (empty ones left out). */
export function meshYaml(...docs: readonly string[]): string {
  return `${docs
    .map((d) => d.trim())
    .filter(Boolean)
    .join('\n---\n')}\n`;
}
