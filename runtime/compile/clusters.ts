/** Clusters: one per (host, port, subset) a route uses, with the DestinationRule's policy and endpoints. */
import {
  clientTlsSettings,
  namespaceOf,
  parseDuration,
  rulesForHost,
  selects,
  type DestinationRule,
  type ServiceEntry,
  type TrafficPolicy,
} from '../../api';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  byClusterName,
  clusterName,
  type ClusterConfig,
  type LbPolicy,
  type OriginateTls,
} from '../contract/proxy-config';
import type { ClusterUse, CompileCache } from './compile-cache';
import { endpointsOf, type ServicePort } from './endpoints';
import { withMetadata } from './workload-metadata';
import { mtlsDisabledAt } from './authz';
import { byKind, type MeshIndex } from './mesh-index';
import { upstreamProtocol } from './upstream-protocol';
import { localityPolicy } from './locality';

/** DestinationRules for a host: exact ones first, then wildcards (a snapshot's rule list is indexed once). */
function rulesFor(index: MeshIndex, host: string): DestinationRule[] {
  const { exact, wildcard } = rulesForHost(byKind(index, 'DestinationRule') as DestinationRule[], host);
  return [...exact, ...wildcard];
}

/**
 * The DestinationRule with a workloadSelector that selects this proxy: such a rule applies only to
 * the workloads it selects, in its own namespace (Istio 1.14+), and before the others (Istio merges
 * the two; mast takes the selecting one whole).
 */
function selectingRule(index: MeshIndex, host: string, clientNamespace: string, labels: Labels): DestinationRule | undefined {
  return rulesFor(index, host).find(
    (r) => r.spec.workloadSelector && namespaceOf(r) === clientNamespace && selects(r.spec.workloadSelector.matchLabels ?? {}, labels),
  );
}

function ruleFor(index: MeshIndex, host: string, clientNamespace: string, labels: Labels): DestinationRule | undefined {
  const own = selectingRule(index, host, clientNamespace, labels);
  if (own) return own;
  const rules = rulesFor(index, host).filter((r) => !r.spec.workloadSelector);
  // The client's own namespace first, then the host's, then any (Istio's lookup order, simplified).
  return rules.find((r) => namespaceOf(r) === clientNamespace) ?? rules.find((r) => host.includes(`.${namespaceOf(r)}.`)) ?? rules[0];
}

type Labels = Readonly<Record<string, string>>;

/** The DestinationRules whose workloadSelector selects a proxy, by name (what tells its clusters from its namespace's others). */
export function rulesSelecting(index: MeshIndex, namespace: string, labels: Labels): string[] {
  return (byKind(index, 'DestinationRule') as DestinationRule[])
    .filter((r) => r.spec.workloadSelector && namespaceOf(r) === namespace && selects(r.spec.workloadSelector.matchLabels ?? {}, labels))
    .map((r) => `DestinationRule/${namespace}/${r.metadata.name}`)
    .sort();
}

function lbOf(p: TrafficPolicy['loadBalancer']): LbPolicy {
  const h = p?.consistentHash;
  if (h) {
    const ttl = h.httpCookie?.ttl === undefined ? undefined : parseDuration(h.httpCookie.ttl);
    return {
      kind: 'hash',
      header: h.httpHeaderName?.toLowerCase(),
      cookie: h.httpCookie?.name,
      cookieTtlMs: ttl,
      cookiePath: h.httpCookie?.path,
      sourceIp: h.useSourceIp,
      queryParameter: h.httpQueryParameterName,
    };
  }
  switch (p?.simple) {
    case 'ROUND_ROBIN':
      return { kind: 'round_robin' };
    case 'RANDOM':
      return { kind: 'random' };
    case 'PASSTHROUGH':
      return { kind: 'passthrough' };
    default:
      // LEAST_REQUEST is Istio's default; LEAST_CONN is its alias.
      return { kind: 'least_request' };
  }
}

/** Subset policy over port-level over top-level, field by field, as Istio merges them. */
function policyFor(dr: DestinationRule | undefined, port: number, subset: string | undefined) {
  const top = dr?.spec.trafficPolicy;
  const sub = dr?.spec.subsets?.find((s) => s.name === subset)?.trafficPolicy;
  const levels = [
    top,
    top?.portLevelSettings?.find((p) => p.port?.number === port),
    sub,
    sub?.portLevelSettings?.find((p) => p.port?.number === port),
  ];
  const pick = <K extends 'loadBalancer' | 'connectionPool' | 'outlierDetection' | 'tls'>(k: K) =>
    levels.reduce<TrafficPolicy[K] | undefined>((acc, l) => (l?.[k] as TrafficPolicy[K]) ?? acc, undefined);
  return { lb: pick('loadBalancer'), pool: pick('connectionPool'), outlier: pick('outlierDetection'), tls: pick('tls') };
}

/**
 * Istio applies a DestinationRule's `credentialName` at gateways, and at sidecars only when the rule
 * has a workloadSelector (so the Secret goes to the workloads it names, not to every sidecar); a
 * sidecar otherwise keeps the rule's files.
 */
const credentialApplies = (dr: DestinationRule | undefined, sidecar: boolean) => !sidecar || dr?.spec.workloadSelector !== undefined;

/**
 * TLS origination: the SNI is the rule's, else the service host (Istio's auto SNI for a host name).
 * With its credentialName applied, the certificate and the CA come from that Secret alone, as Istio's
 * SDS resources `<name>` and `<name>-cacert` do: the rule's file paths are not used.
 */
function originateTls(
  tls: NonNullable<TrafficPolicy['tls']>,
  mode: OriginateTls['mode'],
  host: string,
  withCredential: boolean,
): OriginateTls {
  const credential = withCredential ? tls.credentialName : undefined;
  return {
    mode,
    sni: tls.sni ?? host,
    ...(credential ? { credentialName: credential } : {}),
    ...(!credential && tls.caCertificates ? { caCertificates: tls.caCertificates } : {}),
    ...(!credential && mode === 'MUTUAL' && tls.clientCertificate ? { clientCertificate: tls.clientCertificate } : {}),
    ...(!credential && mode === 'MUTUAL' && tls.privateKey ? { privateKey: tls.privateKey } : {}),
    ...(tls.subjectAltNames?.length ? { subjectAltNames: tls.subjectAltNames } : {}),
    ...(tls.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
  };
}

/** Per snapshot, per host: whether a DestinationRule for it names a credentialName (then gateways' and sidecars' clusters may differ). */
const namesCredentials = new WeakMap<MeshIndex, Map<string, boolean>>();
function hostNamesCredential(index: MeshIndex, host: string): boolean {
  let byHost = namesCredentials.get(index);
  if (!byHost) namesCredentials.set(index, (byHost = new Map()));
  let known = byHost.get(host);
  if (known === undefined) {
    known = rulesFor(index, host).some((r) => clientTlsSettings(r.spec).some(({ tls }) => tls.credentialName));
    byHost.set(host, known);
  }
  return known;
}

/**
 * A port only of ServiceEntries with `resolution: NONE` (the default) and no endpoints or workload
 * selector: Istio's ORIGINAL_DST cluster, each connection to where the app sent it (the task's
 * HTTPS proxy, known by its `addresses`).
 */
function originalDestination(index: MeshIndex, port: ServicePort): boolean {
  const entries = (index.serviceEntriesByHost.get(port.host) ?? []) as ServiceEntry[];
  const own = entries.filter((se) => namespaceOf(se) === port.namespace);
  return (
    own.length > 0 &&
    own.every((se) => (se.spec.resolution ?? 'NONE') === 'NONE' && !se.spec.endpoints?.length && !se.spec.workloadSelector)
  );
}

export const clusterUse = (port: ServicePort, subset: string | undefined): ClusterUse => {
  const name = clusterName(port.number, subset, port.host);
  return { port, subset, name, key: `${name}|${port.namespace}` };
};

/** The clusters one config uses: each compiled (or taken from the cache) once, listed by name. */
export class ClusterSet {
  private readonly byName = new Map<string, ClusterConfig>();
  constructor(
    private readonly index: MeshIndex,
    private readonly cache: CompileCache,
    private readonly clientNamespace: string,
    /** A sidecar's clusters (else a gateway's): they differ on sniffed ports (upstream-protocol.ts). */
    private readonly sidecar: boolean,
    /** The proxy's labels, which a DestinationRule's workloadSelector may select. */
    private readonly labels: Labels = {},
  ) {}
  use = (_host: string, port: ServicePort, subset: string | undefined) => this.add(clusterUse(port, subset));
  add = (u: ClusterUse) => {
    if (!this.byName.has(u.name))
      this.byName.set(
        u.name,
        compileCluster(this.index, this.cache, u, { namespace: this.clientNamespace, labels: this.labels }, this.sidecar),
      );
  };
  all = () => [...this.byName.values()].sort(byClusterName);
}

/** The cluster for a client namespace: shared by every namespace the same DestinationRule applies to (ClusterChoices). */
function compileCluster(
  index: MeshIndex,
  cache: CompileCache,
  { port, subset, key }: ClusterUse,
  client: { namespace: string; labels: Labels },
  sidecar: boolean,
): ClusterConfig {
  const clientNamespace = client.namespace;
  // Only a sniffed port's cluster, or one a credentialName may apply to, differs between sidecars and gateways: the others stay shared.
  const cacheKey = port.auto || hostNamesCredential(index, port.host) ? `${key}|${sidecar ? 'sidecar' : 'gateway'}` : key;
  let choices = cache.clusters.get(cacheKey);
  if (!choices)
    cache.clusters.set(cacheKey, (choices = { owners: new Set(rulesFor(index, port.host).map(namespaceOf)), byNamespace: new Map() }));
  const build = () => {
    const dr = ruleFor(index, port.host, clientNamespace, client.labels);
    const cluster = buildCluster(index, port, subset, dr, sidecar);
    const { lb, outlier } = policyFor(dr, port.number, subset);
    const locality = localityPolicy(index.meshCompile.localityLb, lb?.localityLbSetting, outlier !== undefined);
    if (locality && cluster.lb.kind !== 'passthrough') cache.localityOf.set(cluster, locality);
    return cluster;
  };
  if (!choices.owners.has(clientNamespace)) return (choices.fallback ??= build());
  // The workloads a rule's workloadSelector selects share their cluster; the rest of the namespace another.
  const selecting = selectingRule(index, port.host, clientNamespace, client.labels);
  const by = selecting ? `${clientNamespace}|${selecting.metadata.name}` : clientNamespace;
  let own = choices.byNamespace.get(by);
  if (!own) choices.byNamespace.set(by, (own = build()));
  return own;
}

function buildCluster(
  index: MeshIndex,
  port: ServicePort,
  subset: string | undefined,
  dr: DestinationRule | undefined,
  sidecar: boolean,
): ClusterConfig {
  const { lb, pool, outlier, tls } = policyFor(dr, port.number, subset);
  const protocol = upstreamProtocol({ port, http: pool?.http, meshUpgrade: index.meshCompile.h2Upgrade, sidecar });
  // Istio sets these only when positive (0 is proto3's unset); streams per connection only on an HTTP/2 cluster.
  const maxRequests = pool?.http?.http2MaxRequests || undefined;
  const maxConcurrentStreams = protocol === 'h2' ? pool?.http?.maxConcurrentStreams || undefined : undefined;
  // A subset without labels takes every endpoint of the service (Istio's egress tasks name one for the egress gateway).
  const named = subset ? dr?.spec.subsets?.find((x) => x.name === subset) : undefined;
  // The identities mTLS servers of this service may present: every endpoint's, subsets or not (as Istio's SAN list).
  const identities = new Set<string>();
  const endpoints = withMetadata(
    index,
    endpointsOf(index, port, identities, (l, appPort) => mtlsDisabledAt(index, port.namespace, l, appPort)).filter(
      (e) => !subset || (named !== undefined && selects(named.labels ?? {}, e.labels)),
    ),
  );
  const ms = (d: string | undefined) => (d === undefined ? undefined : parseDuration(d));
  const original = originalDestination(index, port);
  return {
    name: clusterName(port.number, subset, port.host),
    host: port.host,
    port: port.number,
    subset,
    endpoints,
    lb: original ? { kind: 'passthrough' } : lbOf(lb),
    ...(original ? { originalDestination: true } : {}),
    connectTimeoutMs: ms(pool?.tcp?.connectTimeout) ?? DEFAULT_CONNECT_TIMEOUT_MS,
    maxConnections: pool?.tcp?.maxConnections,
    maxPendingRequests: pool?.http?.http1MaxPendingRequests,
    maxRequestsPerConnection: pool?.http?.maxRequestsPerConnection,
    idleTimeoutMs: ms(pool?.http?.idleTimeout ?? pool?.tcp?.idleTimeout),
    ...(protocol ? { upstreamProtocol: protocol } : {}),
    ...(maxRequests ? { maxRequests } : {}),
    ...(maxConcurrentStreams ? { maxConcurrentStreams } : {}),
    ...(tls?.mode === 'ISTIO_MUTUAL' || tls?.mode === 'DISABLE' ? { tls: tls.mode } : {}),
    ...(tls?.mode === 'ISTIO_MUTUAL' && tls.sni ? { mtlsSni: tls.sni } : {}),
    ...(identities.size && tls?.mode !== 'DISABLE' ? { identities: [...identities].sort() } : {}),
    ...(tls?.mode === 'SIMPLE' || tls?.mode === 'MUTUAL'
      ? { originate: originateTls(tls, tls.mode, port.host, credentialApplies(dr, sidecar)) }
      : {}),
    outlier: outlier && {
      consecutive5xx: outlier.consecutive5xxErrors ?? outlier.consecutiveErrors ?? 5,
      consecutiveGatewayErrors: outlier.consecutiveGatewayErrors,
      intervalMs: ms(outlier.interval) ?? 10_000,
      baseEjectionMs: ms(outlier.baseEjectionTime) ?? 30_000,
      maxEjectionPercent: outlier.maxEjectionPercent ?? 10,
      minHealthPercent: outlier.minHealthPercent ?? 0,
    },
  };
}
