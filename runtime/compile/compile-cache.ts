/**
 * CompileCache: what the configs compiled from one MeshIndex share, held by whoever compiles a
 * snapshot's configs (mastd: a new one per snapshot) and passed to compile(). What every sidecar
 * of a namespace sees is the same, as is a service port's routes for every namespace that sees the
 * same VirtualServices: compiled once, compile time grows with services × namespaces instead of
 * services × proxies, and configs of one snapshot share their parts (so comparing them for a
 * delta push is cheap). Only data here: the functions that fill it are in sidecar.ts and clusters.ts.
 */
import type { VirtualService } from '../../api';
import type { ClusterConfig, ListenerConfig, ProxyConfig, RouteConfig, VirtualHostConfig } from '../contract/proxy-config';
import type { ServicePort } from './endpoints';
import type { MeshIndex } from './mesh-index';
import type { LocalityPolicy } from './locality';
import type { RouteContext } from './routes';

/** A cluster a route sends to, with its name and cache key built once. */
export interface ClusterUse {
  readonly port: ServicePort;
  readonly subset: string | undefined;
  readonly name: string;
  readonly key: string;
}

/**
 * A cluster depends on the client's namespace only through which DestinationRule applies (the
 * client's own first): the cluster under the rule every other namespace gets is built once, and
 * only namespaces with a rule of their own for the host get theirs.
 */
export interface ClusterChoices {
  /** Namespaces with a DestinationRule of their own for the host. */
  readonly owners: ReadonlySet<string>;
  fallback?: ClusterConfig;
  readonly byNamespace: Map<string, ClusterConfig>;
}

/** A service port's mesh routes for one list of VirtualServices (and one client, when routes are by source). */
export interface MeshRoutes {
  readonly routes: RouteConfig[];
  readonly uses: ClusterUse[];
  /** The virtual host as clients in the service's own namespace see it (short name too), and as all others do. */
  own?: VirtualHostConfig;
  other?: VirtualHostConfig;
}

export interface SidecarOutbound {
  readonly listeners: ListenerConfig[];
  readonly clusters: ClusterConfig[];
}

export class CompileCache {
  constructor(readonly index: MeshIndex) {}
  /** Whole configs by equivalence key (configFor): the replicas of a workload get one. */
  readonly configs = new Map<string, ProxyConfig>();
  /** A sidecar's outbound listeners and clusters, by namespace and Sidecar resource (and the client's labels when some route is by source). */
  readonly outbound = new Map<string, SidecarOutbound>();
  /** Each service port's mesh routes, by the VirtualServices a namespace sees for it. */
  readonly meshRoutes = new Map<
    ServicePort,
    Array<{ vss: readonly VirtualService[]; source: RouteContext['source']; result: MeshRoutes }>
  >();
  /** Clusters by `name|service namespace`. */
  readonly clusters = new Map<string, ClusterChoices>();
  /** The locality load balancing of the clusters that have it: applied per proxy, after the shared parts (locality.ts). */
  readonly localityOf = new WeakMap<ClusterConfig, LocalityPolicy>();
}
