/**
 * What a proxy's metrics say of who talks to whom: this proxy's own workload, its peers (by the
 * verified identity of an mTLS client, from the table mastd pushes), the workload behind an
 * endpoint and the service an inbound request was for, made into Istio's labels. Built once per
 * config and called once per series, never per request (telemetry.ts and tcp.ts key their series).
 */
import { type ClusterConfig, type EndpointConfig, type ProxyConfig, TLS_MODE_LABEL } from '../contract/proxy-config';
import { type InboundService, selectsLabels, UNKNOWN, type WorkloadMetadata, workloadMetadata } from '../contract/workload-metadata';
import type { PeerLabels } from './metric-labels';
import { DEFAULT_TRUST_DOMAIN } from '../../api/trust-domain';

/** Who this proxy reports as. */
export interface ProxyIdentityInfo {
  readonly mode: 'gateway' | 'sidecar';
  readonly workload: string;
  readonly namespace: string;
  /** Its pod's labels: app, version and canonical service/revision. @default none */
  readonly labels?: Readonly<Record<string, string>>;
  /** The service account of its certificate (its principal). */
  readonly serviceAccount?: string;
}

/** What the metrics read of a proxy: its identity and the config it runs. */
export interface MetricOwner {
  readonly identity: ProxyIdentityInfo;
  readonly config?: ProxyConfig;
}

/** Istio's cluster name for a single-cluster mesh (its default `CLUSTER_ID`). */
export const CLUSTER_ID = 'Kubernetes';

/** `<name>.<namespace>.svc.<domain>`: a Kubernetes service host, whose name and namespace it spells. */
const KUBE_HOST = /^([^.]+)\.([^.]+)\.svc(\.|$)/;

export class LabelContext {
  readonly self: WorkloadMetadata;
  private readonly peers = new Map<string, WorkloadMetadata>();
  private readonly services: readonly InboundService[];
  /** Every name a client may use for one of this workload's services (FQDN, `name.namespace[.svc]`, short name): its index. */
  private readonly byName = new Map<string, number>();
  /** Learned from the first mTLS client's principal (`<trust domain>/ns/...`). */
  /** mastd's and Istio's default trust domain, until an mTLS peer shows the mesh's own. */
  trustDomain = DEFAULT_TRUST_DOMAIN;

  constructor(identity: ProxyIdentityInfo, config: ProxyConfig | undefined) {
    for (const w of config?.workloads ?? []) if (w.identity) this.peers.set(w.identity, w);
    const labels = identity.labels ?? {};
    this.services = (config?.inboundServices ?? []).filter((s) => selectsLabels(s.selector, labels));
    this.services.forEach((x, i) => {
      for (const name of [x.host, x.name, `${x.name}.${x.namespace}`, `${x.name}.${x.namespace}.svc`])
        if (!this.byName.has(name)) this.byName.set(name, i);
    });
    const own = workloadMetadata(identity.workload, identity.namespace, identity.labels ?? {}, identity.serviceAccount);
    // mastd knows the workload's name (its Deployment, its WorkloadEntry) when its identity is its own.
    const known = own.identity ? this.peers.get(own.identity) : undefined;
    this.self =
      known && known.workload !== UNKNOWN && known.app === own.app && known.version === own.version
        ? { ...own, workload: known.workload }
        : own;
  }

  private spiffe(identity: string | undefined): string {
    return identity ? `spiffe://${this.trustDomain}/${identity}` : UNKNOWN;
  }

  /**
   * Which of this workload's services an inbound request was for: the one its authority names
   * (FQDN, `name.namespace`, or short name), else the only one; -1 when none can be told (the
   * labels say `unknown`: a Host header never becomes a label, so its values cannot grow them).
   */
  serviceIndex(authority: string): number {
    if (this.services.length === 0) return -1;
    const colon = authority.lastIndexOf(':');
    const host = colon > 0 && authority.indexOf(']') < colon ? authority.slice(0, colon) : authority;
    return this.byName.get(host) ?? this.byName.get(host.toLowerCase()) ?? (this.services.length === 1 ? 0 : -1);
  }

  /** The workload behind a verified principal (`td/ns/x/sa/y`), as mastd's table names it; undefined when it does not. */
  peerOf(principal: string | undefined): WorkloadMetadata | undefined {
    const slash = principal ? principal.indexOf('/') : -1;
    return principal && slash > 0 ? this.peers.get(principal.slice(slash + 1)) : undefined;
  }

  /** The labels of a sidecar's inbound (reporter="destination"): the client by its verified principal (`td/ns/x/sa/y`), the service by index. */
  destination(principal: string | undefined, service: number): PeerLabels {
    const slash = principal ? principal.indexOf('/') : -1;
    if (principal && slash > 0) this.trustDomain = principal.slice(0, slash);
    const peer = principal && slash > 0 ? this.peers.get(principal.slice(slash + 1)) : undefined;
    const peerNamespace = principal ? /\/ns\/([^/]+)\//.exec(principal)?.[1] : undefined;
    const svc = service >= 0 ? this.services[service] : undefined;
    const me = this.self;
    return {
      reporter: 'destination',
      sourceWorkload: peer?.workload ?? UNKNOWN,
      sourceCanonicalService: peer?.canonicalService ?? UNKNOWN,
      sourceCanonicalRevision: peer?.canonicalRevision ?? 'latest',
      sourceWorkloadNamespace: peerNamespace ?? peer?.namespace ?? UNKNOWN,
      sourcePrincipal: principal ? `spiffe://${principal}` : UNKNOWN,
      sourceApp: peer?.app ?? UNKNOWN,
      sourceVersion: peer?.version ?? UNKNOWN,
      sourceCluster: peer ? CLUSTER_ID : UNKNOWN,
      destinationWorkload: me.workload,
      destinationWorkloadNamespace: me.namespace,
      destinationPrincipal: principal ? this.spiffe(me.identity) : UNKNOWN,
      destinationApp: me.app,
      destinationVersion: me.version,
      destinationService: svc?.host ?? UNKNOWN,
      destinationCanonicalService: me.canonicalService,
      destinationCanonicalRevision: me.canonicalRevision,
      destinationServiceName: svc?.name ?? UNKNOWN,
      destinationServiceNamespace: me.namespace,
      destinationCluster: CLUSTER_ID,
      connectionSecurityPolicy: principal ? 'mutual_tls' : 'none',
    };
  }

  /**
   * The labels of what this proxy sends (reporter="source"): to `cluster`'s endpoint `upstream`
   * (`address:port`), or to no cluster (a local reply: `unknown`), or past the mesh (`PassthroughCluster`).
   */
  source(cluster: ClusterConfig | undefined, upstream: string | undefined): PeerLabels {
    const endpoint = cluster && upstream ? endpointOf(cluster, upstream) : undefined;
    const peer = endpoint?.metadata;
    const mtls = cluster !== undefined && !cluster.originate && isMutual(cluster, endpoint);
    // A ServiceEntry's original-destination cluster is its host's, as Istio reports it; the others passed through by their names.
    const passthrough = cluster?.lb.kind === 'passthrough' && !cluster.originalDestination;
    const host = cluster && !passthrough ? cluster.host || cluster.name : undefined;
    const kube = host ? KUBE_HOST.exec(host) : null;
    const me = this.self;
    return {
      reporter: 'source',
      sourceWorkload: me.workload,
      sourceCanonicalService: me.canonicalService,
      sourceCanonicalRevision: me.canonicalRevision,
      sourceWorkloadNamespace: me.namespace,
      sourcePrincipal: mtls ? this.spiffe(me.identity) : UNKNOWN,
      sourceApp: me.app,
      sourceVersion: me.version,
      sourceCluster: CLUSTER_ID,
      destinationWorkload: peer?.workload ?? UNKNOWN,
      destinationWorkloadNamespace: peer?.namespace ?? UNKNOWN,
      destinationPrincipal: mtls ? this.spiffe(peer?.identity) : UNKNOWN,
      destinationApp: peer?.app ?? UNKNOWN,
      destinationVersion: peer?.version ?? UNKNOWN,
      // Istio names the Host there; a label fed by a header would grow without bound, so the cluster's name it is.
      destinationService: passthrough ? cluster.name : (host ?? UNKNOWN),
      destinationCanonicalService: peer?.canonicalService ?? UNKNOWN,
      destinationCanonicalRevision: peer?.canonicalRevision ?? 'latest',
      destinationServiceName: passthrough ? cluster.name : kube ? kube[1] : (host ?? UNKNOWN),
      destinationServiceNamespace: peer?.namespace ?? (kube ? kube[2] : UNKNOWN),
      destinationCluster: peer ? CLUSTER_ID : UNKNOWN,
      connectionSecurityPolicy: 'unknown',
    };
  }
}

/** The endpoint `address:port` of a cluster. */
export function endpointOf(cluster: ClusterConfig, key: string): EndpointConfig | undefined {
  for (const e of cluster.endpoints) if (`${e.address}:${e.port}` === key) return e;
  return undefined;
}

/** mTLS to that endpoint as the upstream decides it (ISTIO_MUTUAL, or auto: the endpoint has a sidecar). */
const isMutual = (c: ClusterConfig, e: EndpointConfig | undefined) =>
  c.tls === 'ISTIO_MUTUAL' || (c.tls === undefined && e?.labels?.[TLS_MODE_LABEL] === 'istio');

/** One LabelContext per proxy and config it runs (proxies in one process may run one config object: tests do). */
const contexts = new WeakMap<MetricOwner, { config?: ProxyConfig; context: LabelContext }>();
export function labelContext(owner: MetricOwner): LabelContext {
  let c = contexts.get(owner);
  if (!c || c.config !== owner.config)
    contexts.set(owner, (c = { config: owner.config, context: new LabelContext(owner.identity, owner.config) }));
  return c.context;
}
