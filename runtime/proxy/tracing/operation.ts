/**
 * A span's name, as Istio sets Envoy's route decorator: `<host>:<port><path>` for a route to one
 * destination (its cluster's host and port), `<virtual service name>:<port><path>` for a route that
 * splits (the destination host is not one), where the path is the matched URI's (`/login` exact,
 * `/static*` prefix, a regex as written) or `/*`; a sidecar's inbound `<service host>:<port>/*`
 * (compiled per app port). Without a route Envoy names the span by direction: `ingress`, or
 * `egress <host>`. Pure.
 */
import type { ClusterConfig, MatchConfig, RouteConfig } from '../../contract/proxy-config';

/** The path part of the name: the first match whose URI matches `path` decides, else the first match's. */
function pathPart(matches: readonly MatchConfig[], path: string): string {
  let chosen: MatchConfig['uri'];
  for (const m of matches) {
    const u = m.uri;
    if (!u) continue;
    chosen ??= u;
    if (('exact' in u && u.exact === path) || ('prefix' in u && path.startsWith(u.prefix))) {
      chosen = u;
      break;
    }
  }
  if (!chosen) return '/*';
  if ('exact' in chosen) return chosen.exact;
  if ('prefix' in chosen) return `${chosen.prefix}*`;
  if ('regex' in chosen) return chosen.regex;
  return '/*';
}

/** A compiled route's name is the VirtualService http route's `name`, else `<ns>/<vs>#<i>`: the VirtualService's name. */
const virtualServiceName = (routeName: string) => {
  const m = /^[^/]+\/([^#]+)#\d+$/.exec(routeName);
  return m ? m[1] : routeName;
};

export interface OperationInputs {
  readonly route?: RouteConfig;
  readonly cluster?: ClusterConfig;
  /** The port the route was chosen on (a gateway server's, a service's). */
  readonly port: number;
  /** The request's path (without its query). */
  readonly path: string;
  readonly authority: string;
  /** The client span of a proxy sending out (a gateway, a sidecar's outbound): `egress`. */
  readonly egress: boolean;
}

export function operationName(x: OperationInputs): string {
  const route = x.route;
  if (!route) return x.egress ? `egress ${x.authority}` : 'ingress';
  const path = pathPart(route.matches, x.path);
  const action = route.action;
  if (action.kind === 'forward' && action.destinations.length === 1 && x.cluster?.host) return `${x.cluster.host}:${x.cluster.port}${path}`;
  return `${virtualServiceName(route.name)}:${x.port}${path}`;
}
