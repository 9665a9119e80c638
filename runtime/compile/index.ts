/**
 * The compiler's entry: buildIndex(snapshot) once per snapshot, then compile(index, proxy) →
 * ProxyConfig for each proxy, pure and without I/O (gateway.ts, sidecar.ts). What the configs of
 * one index share is in a CompileCache the caller holds; configFor adds the per-equivalence-key
 * sharing the push server needs.
 */
import { ROOT_NAMESPACES, namespaceOf, selects } from '../../api';
import type { ProxyConfig } from '../contract/proxy-config';
import type { ProxyIdentity } from '../contract/push-protocol';
import { CompileCache } from './compile-cache';
import { compileGateway } from './gateway';
import { inboundGrpcWebPorts, inboundProtocols } from './inbound-protocol';
import { byKind, buildIndex, type MeshIndex } from './mesh-index';
import { compileSidecar } from './sidecar';
import { rulesSelecting } from './clusters';
import { applyLocality } from './locality';
import { sidecarResourceFor } from './sidecar-scope';
import { meshTraces, tracingFor } from './tracing';
import { accessLogsByWorkload, accessLogsFor } from './access-log';
import { metricsByWorkload, metricsFor } from './metrics';
import { selectsLabels } from '../contract/workload-metadata';
import { inboundServices, peerWorkloads } from './workload-metadata';

export { CompileCache, buildIndex, type MeshIndex, type ProxyIdentity };
export { makeSnapshot, seal, type Snapshot } from './snapshot';
export { jwksUris } from './jwt';

/** A compile given a CompileCache of another index (its shared parts would be another snapshot's). */
export class CompileCacheMismatchError extends Error {
  readonly code = 'MAST_COMPILE_CACHE_MISMATCH';
  constructor() {
    super('the CompileCache was made for another MeshIndex: make one per index');
  }
}

/** The config of one proxy; `cache` shares parts with the other configs compiled with it (a fresh one by default). */
export function compile(index: MeshIndex, identity: ProxyIdentity, cache = new CompileCache(index)): ProxyConfig {
  if (cache.index !== index) throw new CompileCacheMismatchError();
  const proxy = located(index, identity);
  const config =
    proxy.mode === 'sidecar' ? withTelemetry(index, proxy, compileSidecar(index, proxy, cache)) : compileGateway(index, proxy, cache);
  const tracing = tracingFor(index, proxy);
  const accessLogs = accessLogsFor(index, proxy);
  const metrics = metricsFor(index, proxy);
  return withLocality(cache, proxy, {
    ...config,
    ...(tracing ? { tracing } : {}),
    ...(accessLogs ? { accessLogs } : {}),
    ...(metrics ? { metrics } : {}),
  });
}

/** A proxy that says no locality but its node: the node's (its topology labels), as istiod finds a pod's. */
function located(index: MeshIndex, p: ProxyIdentity): ProxyIdentity {
  if (p.locality || !p.node) return p;
  const locality = index.nodeLocality.get(p.node);
  return locality ? { ...p, locality } : p;
}

/** The clusters with locality load balancing, as this proxy's locality and labels see them (locality.ts); the rest shared. */
function withLocality(cache: CompileCache, proxy: ProxyIdentity, config: ProxyConfig): ProxyConfig {
  if (!cache.index.localityUse.byLocality) return config;
  let changed = false;
  const clusters = config.clusters.map((c) => {
    const policy = cache.localityOf.get(c);
    const mine = policy ? applyLocality(c, policy, proxy) : c;
    changed ||= mine !== c;
    return mine;
  });
  return changed ? { ...config, clusters } : config;
}

/** A sidecar's metrics name its peers (and itself: the table names its workload) and, inbound, its services (workload-metadata.ts). */
function withTelemetry(index: MeshIndex, proxy: ProxyIdentity, config: ProxyConfig): ProxyConfig {
  const peers = peerWorkloads(index);
  const services = proxy.inbound ? servicesOf(index, proxy) : [];
  return { ...config, ...(peers.length ? { workloads: peers } : {}), ...(services.length ? { inboundServices: services } : {}) };
}

/** The services that select a sidecar's workload: its config names no other (a Sidecar's imports scope the rest). */
const servicesOf = (index: MeshIndex, p: ProxyIdentity) =>
  inboundServices(index, p.namespace).filter((s) => selectsLabels(s.selector, p.labels));

/** The config of a proxy, compiled once per equivalence key and cache: the same object for every replica of a workload. */
export function configFor(cache: CompileCache, proxy: ProxyIdentity): ProxyConfig {
  // Both find a proxy's locality from its node where it says none (located).
  const key = equivalenceKey(cache.index, proxy);
  let config = cache.configs.get(key);
  if (!config) cache.configs.set(key, (config = compile(cache.index, proxy, cache)));
  return config;
}

/**
 * Proxies with the same key get the same config, so the push server compiles once for all of
 * them (the replicas of a workload): it depends on namespace, ports and labels (which Gateways
 * and AuthorizationPolicies select it), not on the proxy's name or service account.
 */
export function equivalenceKey(index: MeshIndex, identity: ProxyIdentity): string {
  const p = located(index, identity);
  const { labels, serviceAccount: _sa, locality, node: _node, ...rest } = p;
  // The locality counts only where some cluster balances by it; failoverPriority reads every label.
  const { byLocality, byLabels } = index.localityUse;
  // A sidecar's labels matter only through the policies that select it: sidecars of different
  // workloads that no policy (nor Sidecar resource) tells apart share one config. A traced mesh tells
  // every workload apart: its spans carry the workload's service name and canonical labels (tracing.ts);
  // so does a Telemetry's accessLogging or metrics with a selector (access-log.ts, metrics.ts).
  const selectedBy =
    p.mode === 'sidecar' &&
    !index.routesBySource &&
    !meshTraces(index) &&
    !accessLogsByWorkload(index) &&
    !metricsByWorkload(index) &&
    !byLabels
      ? [...policiesSelecting(index, p), ...sidecarOf(index, p), ...rulesSelecting(index, p.namespace, p.labels)]
      : undefined;
  // ...and through the HTTP version of each port of its app, which its services declare (inbound-protocol.ts), and those services.
  const inbound =
    selectedBy && p.inbound
      ? {
          appProtocols: inboundProtocols(index, p.namespace, labels),
          grpcWeb: inboundGrpcWebPorts(index, p.namespace, labels),
          services: servicesOf(index, p).map((s) => s.host),
        }
      : {};
  const where = byLocality && locality ? { locality } : {};
  return JSON.stringify({ ...rest, ...where, labels: selectedBy ?? Object.entries(labels).sort(), ...inbound }, sortedKeys);
}

/**
 * Objects with their keys in order, at every depth (a replacer array, `JSON.stringify(key,
 * Object.keys(key))`, would also drop every nested key not in it: `inbound`, `portMap`...).
 */
const sortedKeys = (_key: string, value: unknown) =>
  value && typeof value === 'object' && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : value;

/** The Sidecar resource that applies (sidecar-scope.ts): what its config imports and its outbound policy. */
function sidecarOf(index: MeshIndex, p: ProxyIdentity): string[] {
  const sc = sidecarResourceFor(index, p.namespace, p.labels);
  return sc ? [`Sidecar/${namespaceOf(sc)}/${sc.metadata.name}`] : [];
}

function policiesSelecting(index: MeshIndex, p: ProxyIdentity): string[] {
  return (
    [...byKind(index, 'AuthorizationPolicy'), ...byKind(index, 'PeerAuthentication'), ...byKind(index, 'RequestAuthentication')]
      // A root namespace's policy with a selector selects in every namespace (authz.ts, jwt.ts).
      .filter(
        (x) =>
          x.spec.selector?.matchLabels &&
          (namespaceOf(x) === p.namespace || ROOT_NAMESPACES.includes(namespaceOf(x))) &&
          selects(x.spec.selector.matchLabels, p.labels),
      )
      .map((x) => `${x.kind}/${namespaceOf(x)}/${x.metadata.name}`)
      .sort()
  );
}
