/**
 * The routing decision, pure: from the listener, its route table, the request and a random source,
 * either a local reply (no route, a CORS preflight, a fault's abort, a redirect, a direct response,
 * no destination) or a forward plan (route, destination, mirrors). A fault's delay comes with
 * either. No sockets, no clock, no cluster state: what happens next is the exchange's.
 */
import { pickWeighted, type RequestView, type RouteTable } from '../routing';
import {
  PASSTHROUGH_CLUSTER,
  type ListenerConfig,
  type RouteAction,
  type RouteConfig,
  type WeightedCluster,
} from '../../contract/proxy-config';
import { corsPreflight } from './cors';
import type { Flag } from './record';

export type ForwardAction = Extract<RouteAction, { kind: 'forward' }>;
type RedirectAction = Extract<RouteAction, { kind: 'redirect' }>;

export interface LocalReply {
  readonly kind: 'reply';
  readonly status: number;
  readonly flag: Flag | '';
  readonly body: string;
  readonly headers: Array<[string, string]>;
  /** The route that answered (the access log's route name), if one matched. */
  readonly route?: RouteConfig;
  /** A fault delay first (0: none). */
  readonly delayMs: number;
  /** A fault abort's gRPC status: what a gRPC request gets instead of `status` (the codec's to apply). */
  readonly grpcStatus?: number;
}

export interface ForwardPlan {
  readonly kind: 'forward';
  readonly route: RouteConfig;
  readonly action: ForwardAction;
  readonly destination: WeightedCluster;
  /** The clusters a copy of the request goes to (each drawn by its fraction). */
  readonly mirrors?: readonly string[];
  readonly delayMs: number;
}

export type Decision = LocalReply | ForwardPlan;

/** A route table and the listener config it was compiled from (one per destination port of a listener). */
export interface ListenerEntry {
  readonly config: ListenerConfig;
  readonly table: RouteTable;
}

/** The route of a request passed through to its original destination (no retries: the request may not be idempotent to a service we know nothing of). */
const PASSTHROUGH_ROUTE: RouteConfig = {
  name: 'allow_any',
  matches: [],
  action: { kind: 'forward', destinations: [{ cluster: PASSTHROUGH_CLUSTER, weight: 100 }], retries: { attempts: 0, retryOn: [] } },
};

const NO_ROUTE: LocalReply = { kind: 'reply', status: 404, flag: 'NR', body: 'no route\n', headers: [], delayMs: 0 };

/** Istio's `block_all` route under REGISTRY_ONLY: a direct 502 with no body, for a host the mesh does not know. */
const BLOCK_ALL_ROUTE: RouteConfig = { name: 'block_all', matches: [], action: { kind: 'direct', status: 502 } };
const BLOCK_ALL: LocalReply = { kind: 'reply', status: 502, flag: '', body: '', headers: [], route: BLOCK_ALL_ROUTE, delayMs: 0 };

function reply(
  status: number,
  flag: Flag | '',
  body: string,
  headers: Array<[string, string]>,
  route: RouteConfig,
  delayMs = 0,
): LocalReply {
  return { kind: 'reply', status, flag, body, headers, route, delayMs };
}

/** Where a request goes. `random` draws in [0, 1): the fault's abort, its delay, the destination, each mirror. */
export function decide(
  entry: ListenerEntry | undefined,
  req: RequestView & { readonly originalAddress?: string },
  random: () => number,
): Decision {
  const hit = entry?.table.route(req);
  // A sidecar's captured request for a host the mesh does not know goes where the app sent it
  // (Istio's default outboundTrafficPolicy ALLOW_ANY), as it would without a sidecar.
  // Under REGISTRY_ONLY it is refused instead (Istio's block_all route).
  const route = hit ? hit.route.config : entry?.config.passthrough && req.originalAddress ? PASSTHROUGH_ROUTE : undefined;
  if (!route) return entry?.config.blackHole ? BLOCK_ALL : NO_ROUTE;
  if (route.cors) {
    const preflight = corsPreflight(route.cors, req);
    if (preflight) return reply(200, '', '', preflight, route);
  }
  const fault = route.fault;
  if (fault?.abort && random() < fault.abort.fraction) {
    const abort = reply(fault.abort.status, 'FI', 'fault filter abort\n', [], route);
    return fault.abort.grpcStatus === undefined ? abort : { ...abort, grpcStatus: fault.abort.grpcStatus };
  }
  const delayMs = fault?.delay && random() < fault.delay.fraction ? fault.delay.ms : 0;
  const action = route.action;
  if (action.kind === 'redirect') return reply(action.status, '', '', [['location', redirectLocation(action, req)]], route, delayMs);
  if (action.kind === 'direct') return reply(action.status, '', action.body ?? '', [], route, delayMs);
  const destination = pickWeighted(action.destinations, random());
  if (!destination) return reply(503, 'UH', 'no healthy upstream\n', [], route, delayMs);
  let mirrors: string[] | undefined;
  if (action.mirrors) for (const m of action.mirrors) if (random() < m.fraction) (mirrors ??= []).push(m.cluster);
  return { kind: 'forward', route, action, destination, mirrors, delayMs };
}

export function redirectLocation(a: RedirectAction, req: RequestView): string {
  const scheme = a.scheme ?? req.scheme;
  const authority = a.authority ?? req.header('host') ?? req.host;
  const host = a.port ? `${authority.replace(/:\d+$/, '')}:${a.port}` : authority;
  return `${scheme}://${host}${a.uri ?? req.target}`;
}
