/** Clusters: one per (host, port, subset) a route uses, with the DestinationRule's policy and endpoints. */
import { namespaceOf, parseDuration, rulesForHost, selects, type DestinationRule, type TrafficPolicy } from '../../api';
import { DEFAULT_CONNECT_TIMEOUT_MS, clusterName, type ClusterConfig, type LbPolicy } from '../shared/proxy-config';
import { endpointsOf, type ServicePort } from './endpoints';
import { byKind, perSnapshot, type Snapshot } from './snapshot';

/** DestinationRules for a host: exact ones first, then wildcards (a snapshot's rule list is indexed once). */
function rulesFor(s: Snapshot, host: string): DestinationRule[] {
  const { exact, wildcard } = rulesForHost(byKind(s, 'DestinationRule') as DestinationRule[], host);
  return [...exact, ...wildcard];
}

function ruleFor(s: Snapshot, host: string, clientNamespace: string): DestinationRule | undefined {
  const rules = rulesFor(s, host);
  // The client's own namespace first, then the host's, then any (Istio's lookup order, simplified).
  return rules.find((r) => namespaceOf(r) === clientNamespace) ?? rules.find((r) => host.includes(`.${namespaceOf(r)}.`)) ?? rules[0];
}

function lbOf(p: TrafficPolicy['loadBalancer']): LbPolicy {
  const h = p?.consistentHash;
  if (h) {
    const ttl = h.httpCookie?.ttl === undefined ? undefined : parseDuration(h.httpCookie.ttl);
    return { kind: 'hash', header: h.httpHeaderName?.toLowerCase(), cookie: h.httpCookie?.name, cookieTtlMs: ttl, cookiePath: h.httpCookie?.path, sourceIp: h.useSourceIp, queryParameter: h.httpQueryParameterName };
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
  const levels = [top, top?.portLevelSettings?.find((p) => p.port?.number === port), sub, sub?.portLevelSettings?.find((p) => p.port?.number === port)];
  const pick = <K extends 'loadBalancer' | 'connectionPool' | 'outlierDetection' | 'tls'>(k: K) => levels.reduce<TrafficPolicy[K] | undefined>((acc, l) => (l?.[k] as TrafficPolicy[K]) ?? acc, undefined);
  return { lb: pick('loadBalancer'), pool: pick('connectionPool'), outlier: pick('outlierDetection'), tls: pick('tls') };
}

/**
 * A cluster depends on the client's namespace only through which DestinationRule applies (the
 * client's own first): per snapshot, the cluster under the rule every other namespace gets is
 * built once and shared, and only namespaces with a rule of their own for the host get theirs.
 */
interface ClusterChoices {
  /** Namespaces with a DestinationRule of their own for the host. */
  readonly owners: ReadonlySet<string>;
  fallback?: ClusterConfig;
  readonly byNamespace: Map<string, ClusterConfig>;
}

const clusterChoices = perSnapshot(() => new Map<string, ClusterChoices>());

export function compileCluster(s: Snapshot, port: ServicePort, subset: string | undefined, clientNamespace: string, key = `${clusterName(port.number, subset, port.host)}|${port.namespace}`): ClusterConfig {
  const bySnapshot = clusterChoices(s);
  let choices = bySnapshot.get(key);
  if (!choices) bySnapshot.set(key, (choices = { owners: new Set(rulesFor(s, port.host).map(namespaceOf)), byNamespace: new Map() }));
  if (!choices.owners.has(clientNamespace)) return (choices.fallback ??= buildCluster(s, port, subset, ruleFor(s, port.host, clientNamespace)));
  let own = choices.byNamespace.get(clientNamespace);
  if (!own) choices.byNamespace.set(clientNamespace, (own = buildCluster(s, port, subset, ruleFor(s, port.host, clientNamespace))));
  return own;
}

function buildCluster(s: Snapshot, port: ServicePort, subset: string | undefined, dr: DestinationRule | undefined): ClusterConfig {
  const { lb, pool, outlier, tls } = policyFor(dr, port.number, subset);
  const labels = subset ? dr?.spec.subsets?.find((x) => x.name === subset)?.labels : undefined;
  // The identities mTLS servers of this service may present: every endpoint's, subsets or not (as Istio's SAN list).
  const identities = new Set<string>();
  const endpoints = endpointsOf(s, port, identities).filter((e) => !subset || (labels !== undefined && selects(labels, e.labels)));
  const ms = (d: string | undefined) => (d === undefined ? undefined : parseDuration(d));
  return {
    name: clusterName(port.number, subset, port.host),
    host: port.host,
    port: port.number,
    subset,
    endpoints,
    lb: lbOf(lb),
    connectTimeoutMs: ms(pool?.tcp?.connectTimeout) ?? DEFAULT_CONNECT_TIMEOUT_MS,
    maxConnections: pool?.tcp?.maxConnections,
    maxPendingRequests: pool?.http?.http1MaxPendingRequests,
    maxRequestsPerConnection: pool?.http?.maxRequestsPerConnection,
    idleTimeoutMs: ms(pool?.http?.idleTimeout ?? pool?.tcp?.idleTimeout),
    ...(tls?.mode === 'ISTIO_MUTUAL' || tls?.mode === 'DISABLE' ? { tls: tls.mode } : {}),
    ...(identities.size && tls?.mode !== 'DISABLE' ? { identities: [...identities].sort() } : {}),
    // TLS origination: the SNI is the rule's, else the service host (Istio's auto SNI for a host name).
    ...(tls?.mode === 'SIMPLE' || tls?.mode === 'MUTUAL'
      ? {
          originate: {
            mode: tls.mode,
            sni: tls.sni ?? port.host,
            ...(tls.caCertificates ? { caCertificates: tls.caCertificates } : {}),
            ...(tls.mode === 'MUTUAL' && tls.clientCertificate ? { clientCertificate: tls.clientCertificate } : {}),
            ...(tls.mode === 'MUTUAL' && tls.privateKey ? { privateKey: tls.privateKey } : {}),
            ...(tls.subjectAltNames?.length ? { subjectAltNames: tls.subjectAltNames } : {}),
            ...(tls.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
          },
        }
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
