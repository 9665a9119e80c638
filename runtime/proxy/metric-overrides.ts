/**
 * Telemetry `metrics` overrides as a proxy applies them (ProxyConfig.metrics, merged by mastd's
 * compile/metrics.ts), as Istio's stats filter does: per side, families not reported, labels
 * removed, labels set to the value of a CEL expression over Envoy's attributes and the peers
 * (`request.host`, `string(destination.port)`, `upstream_peer.labels['app'].value`). An expression
 * that errors (an attribute the request has not) gives `unknown`, as Istio's; one that is not CEL
 * leaves its label out (validation says so: MAST0186). The values are part of a series' key, so a
 * request pays for its expressions only when a config has some; planned once per config.
 */
import { celLibrary } from '../../api';
import type { ClusterConfig, MetricsConfig, SideMetricsConfig } from '../contract/proxy-config';
import { UNKNOWN, type WorkloadMetadata } from '../contract/workload-metadata';
import { attributesOf, connectionAttributesOf, plan, rootsNamed } from './access-log/filter';
import { CLUSTER_ID, endpointOf } from './metric-context';
import { type LabelPairs, labelText } from './metric-labels';
import type { ShapedLabels } from './metrics';
import type { RequestRecord } from './request/record';
import type { ConnectionRecord } from './tcp-record';

/** Telemetry's names of the families a series has, in the series' order (metrics.ts). */
const HTTP_FAMILIES = [
  'REQUEST_COUNT',
  'REQUEST_DURATION',
  'REQUEST_SIZE',
  'RESPONSE_SIZE',
  'GRPC_REQUEST_MESSAGES',
  'GRPC_RESPONSE_MESSAGES',
];
const TCP_FAMILIES = ['TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES', 'TCP_OPENED_CONNECTIONS', 'TCP_CLOSED_CONNECTIONS'];

/** One family's shape: dropped, or its labels changed (by name: an expression's index, or -1 to remove). */
interface Family {
  readonly drop: boolean;
  readonly tags: ReadonlyArray<readonly [string, number]>;
}

/** A side's overrides, planned. */
export interface SidePlan {
  /** No Istio metric on this side. */
  readonly off: boolean;
  readonly http: readonly Family[];
  readonly tcp: readonly Family[];
  /** Every distinct expression once; null where it is not CEL. */
  readonly expressions: ReadonlyArray<((attributes: never) => unknown) | null>;
  /** The attribute roots the expressions name (only those are made for a request). */
  readonly roots: readonly string[];
}

/** A proxy's overrides by side; a side absent reports Istio's standard metrics as they are. */
export interface MetricPlan {
  readonly server?: SidePlan;
  readonly client?: SidePlan;
}

const ROOTS = ['request', 'response', 'source', 'destination', 'connection', 'upstream', 'xds'];
const PEER_ROOTS = ['upstream_peer', 'downstream_peer'];

function planSide(side: SideMetricsConfig): SidePlan | undefined {
  if (side.disabled) return { off: true, http: [], tcp: [], expressions: [], roots: [] };
  if (!side.overrides?.length) return undefined;
  const sources: string[] = [];
  const indexOf = (value: string) => {
    const i = sources.indexOf(value);
    return i >= 0 ? i : sources.push(value) - 1;
  };
  const family = (metric: string): Family => {
    const o = side.overrides?.find((x) => x.metric === metric);
    return {
      drop: o?.disabled === true,
      tags: (o?.tags ?? []).map((t) => [t.name, t.value === undefined ? -1 : indexOf(t.value)] as const),
    };
  };
  const http = HTTP_FAMILIES.map(family);
  const tcp = TCP_FAMILIES.map(family);
  const expressions = sources.map((src) => {
    try {
      return plan(src);
    } catch {
      return null;
    }
  });
  return { off: false, http, tcp, expressions, roots: rootsNamed([...ROOTS, ...PEER_ROOTS], sources) };
}

const plans = new WeakMap<MetricsConfig, MetricPlan>();
/** The plan of a config's overrides, made once per config object. */
export function metricPlan(config: MetricsConfig): MetricPlan {
  let p = plans.get(config);
  if (!p) {
    const server = planSide(config.server);
    const client = planSide(config.client);
    plans.set(config, (p = { ...(server ? { server } : {}), ...(client ? { client } : {}) }));
  }
  return p;
}

/** A CEL value as Istio's stats filter prints it into a label. */
function printed(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  const lib = celLibrary();
  if (lib.isCelUint(v)) return String(v.value);
  return UNKNOWN;
}

/** Each expression's value for one request or connection: `unknown` for an error, '' for one that is not CEL. */
export function evaluate(p: SidePlan, attributes: Record<string, unknown>): string[] {
  return p.expressions.map((run) => {
    if (!run) return '';
    try {
      const v = run(attributes as never);
      return celLibrary().isCelError(v) ? UNKNOWN : printed(v);
    } catch {
      return UNKNOWN;
    }
  });
}

/** A peer as Istio's stats filter exposes it (its node metadata: `labels['app'].value`, `namespace`, `workload_name`). */
export function peerAttribute(peer: WorkloadMetadata | undefined, labels: Readonly<Record<string, string>> = {}): unknown {
  if (!peer) return undefined;
  const all: Record<string, string> = {
    ...labels,
    ...(peer.app !== UNKNOWN ? { app: peer.app } : {}),
    ...(peer.version !== UNKNOWN ? { version: peer.version } : {}),
    'service.istio.io/canonical-name': peer.canonicalService,
    'service.istio.io/canonical-revision': peer.canonicalRevision,
  };
  const map = new Map(Object.entries(all).map(([k, v]) => [k, { key: k, value: v }]));
  return {
    name: peer.workload,
    namespace: peer.namespace,
    workload_name: peer.workload,
    cluster_id: CLUSTER_ID,
    labels: celLibrary().celMap(map),
  };
}

type Peers = { readonly upstream?: unknown; readonly downstream?: unknown };

/** The attributes an expression names, of a request or (what a TCP series knows as it opens) a connection, the peers given. */
function withPeers<R>(p: SidePlan, of: (r: R, roots: readonly string[]) => Record<string, unknown>, r: R, peers: Peers) {
  const out = of(
    r,
    p.roots.filter((x) => ROOTS.includes(x)),
  );
  if (peers.upstream !== undefined) out.upstream_peer = peers.upstream;
  if (peers.downstream !== undefined) out.downstream_peer = peers.downstream;
  return out;
}
export const requestAttributes = (p: SidePlan, r: RequestRecord, peers: Peers) => withPeers(p, attributesOf, r, peers);
export const connectionAttributes = (p: SidePlan, c: ConnectionRecord, peers: Peers) => withPeers(p, connectionAttributesOf, c, peers);

/** One family's label text: the standard pairs with their overrides applied (set in place, removed, or added after them); null when dropped. */
function shape(pairs: LabelPairs, f: Family, values: readonly string[]): string | null {
  if (f.drop) return null;
  if (!f.tags.length) return labelText(pairs);
  const out: LabelPairs = [];
  const tags = new Map(f.tags);
  for (const [k, v] of pairs) {
    const i = tags.get(k);
    if (i === undefined) out.push([k, v]);
    else if (i >= 0 && values[i] !== '') out.push([k, values[i]]);
  }
  for (const [k, i] of f.tags) if (i >= 0 && values[i] !== '' && !pairs.some(([name]) => name === k)) out.push([k, values[i]]);
  return labelText(out);
}

/** A request series' labels per family. */
export const shapeRequest = (p: SidePlan, pairs: LabelPairs, values: readonly string[]): ShapedLabels => ({
  shaped: p.http.map((f) => shape(pairs, f, values)),
});

/** A TCP series' labels per family. */
export const shapeConnection = (p: SidePlan, pairs: LabelPairs, values: readonly string[]): ShapedLabels => ({
  shaped: p.tcp.map((f) => shape(pairs, f, values)),
});

/**
 * The series group of a cluster under a plan: a push may keep a cluster object and change the
 * overrides, and a series found by its key must then be shaped anew.
 */
const groups = new WeakMap<SidePlan, WeakMap<object, object>>();
export function groupOf(plan: SidePlan, group: object): object {
  let byGroup = groups.get(plan);
  if (!byGroup) groups.set(plan, (byGroup = new WeakMap()));
  let g = byGroup.get(group);
  if (!g) byGroup.set(group, (g = {}));
  return g;
}

/** An endpoint's workload as an expression's `upstream_peer`. */
export function upstreamPeer(c: ClusterConfig, upstream: string): unknown {
  const e = endpointOf(c, upstream);
  return peerAttribute(e?.metadata, e?.labels);
}
