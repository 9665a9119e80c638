/**
 * The live service graph, Kiali's versioned app graph: a node per app and version (reviews v1,
 * v2 and v3 apart), the gateway, clients outside the mesh (`unknown`) and services past the
 * mesh; an edge per caller, callee and kind of traffic (HTTP, gRPC, TCP) with its rate, error rate,
 * p99 and how much of it went over mTLS. Read from the proxies' Istio metrics: each call as its
 * client's sidecar reports it (reporter="source"), and calls from outside the mesh, which only
 * the server's sidecar sees, as it reports them. Rates come from the difference between two
 * scrapes. Pure.
 */
import { GATEWAY_NAME } from '../../api/well-known';

export type Protocol = 'http' | 'grpc' | 'tcp';

export interface EdgeSample {
  readonly source: string;
  readonly destination: string;
  /** Requests; for TCP, connections opened. */
  readonly requests: number;
  /** 5xx responses, gRPC calls that ended with a status other than OK (as Kiali counts gRPC errors), TCP connections with a response flag. */
  readonly errors: number;
  /** Of `requests`, those over mTLS. */
  readonly mtls: number;
  /** TCP bytes both ways (0 for HTTP). */
  readonly bytes: number;
  /** Cumulative duration buckets: upper bound in ms → count. */
  readonly buckets: ReadonlyMap<number, number>;
  /** `grpc` when any of its series is (`request_protocol="grpc"`, or a `grpc_response_status`); `tcp` for the TCP families. */
  readonly protocol: Protocol;
}

export interface Scrape {
  readonly atMs: number;
  readonly edges: readonly EdgeSample[];
}

export interface GraphNode {
  readonly id: string;
  readonly kind: 'gateway' | 'service' | 'unknown';
  /** The app (canonical service) the node is a version of; the node's id without a version. */
  readonly app: string;
  readonly version?: string;
  readonly x: number;
  readonly y: number;
}

export interface GraphEdge {
  readonly source: string;
  readonly destination: string;
  readonly protocol: Protocol;
  /** Since the proxies started: requests (TCP: connections). */
  readonly requests: number;
  /** Over the window: requests (TCP: connections) per second. */
  readonly rps: number;
  readonly errorRate: number;
  readonly p99Ms: number | null;
  /** The share of its traffic over mTLS, 0 to 1 (Kiali's lock on an edge). */
  readonly mtls: number;
  /** TCP only: bytes per second both ways over the window. */
  readonly bytesPerSecond?: number;
}

export interface Graph {
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
}

export const GATEWAY_NODE = GATEWAY_NAME;
/** Clients outside the mesh (no sidecar, no certificate), as Kiali names them. */
export const UNKNOWN_NODE = 'unknown';

/** A node's id: the app, and its version when it has one (`reviews v2`). */
export const nodeId = (app: string, version?: string): string => (version ? `${app} ${version}` : app);

const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;
const SERIES = /^(\w+)\{(.*)\}\s+(\S+)$/;
type Labels = Record<string, string | undefined>;

function labelsOf(text: string): Labels {
  const out: Labels = {};
  for (const m of text.matchAll(LABEL)) out[m[1]] = m[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  return out;
}

const known = (v: string | undefined) => (v && v !== 'unknown' ? v : undefined);

function sourceNode(l: Labels): string {
  if (l.source_workload === GATEWAY_NODE) return GATEWAY_NODE;
  const app = known(l.source_canonical_service) ?? known(l.source_app) ?? known(l.source_workload);
  return app ? nodeId(app, known(l.source_version)) : UNKNOWN_NODE;
}

/** The workload's app and version; a destination with no workload (past the mesh, no endpoint) by its service. */
function destinationNode(l: Labels): string | undefined {
  const app = known(l.destination_workload) && (known(l.destination_canonical_service) ?? known(l.destination_app));
  if (app) return nodeId(app, known(l.destination_version));
  return known(l.destination_service_name);
}

const FAMILIES: Readonly<Record<string, 'requests' | 'duration' | 'opened' | 'bytes'>> = {
  istio_requests_total: 'requests',
  istio_request_duration_milliseconds_bucket: 'duration',
  istio_tcp_connections_opened_total: 'opened',
  istio_tcp_sent_bytes_total: 'bytes',
  istio_tcp_received_bytes_total: 'bytes',
};

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
export const edgeKey = (e: Pick<EdgeSample, 'source' | 'destination' | 'protocol'>): string =>
  `${e.source}|${e.destination}|${e.protocol === 'tcp' ? 'tcp' : 'l7'}`;

/** Sums one proxy's (or several proxies') Prometheus text into edges. */
export function parseEdges(texts: readonly string[]): EdgeSample[] {
  const edges = new Map<string, Mutable<EdgeSample> & { buckets: Map<number, number> }>();
  for (const text of texts)
    for (const line of text.split('\n')) {
      const m = SERIES.exec(line);
      const family = m && FAMILIES[m[1]];
      if (!family) continue;
      const l = labelsOf(m[2]);
      // Each call once: as its client reports it, or, for a client outside the mesh (no sidecar: it reports nothing, and
      // has no identity), as its server does.
      const outsider = l.reporter === 'destination' && !known(l.source_principal) && !known(l.source_workload);
      if (l.reporter !== 'source' && !outsider) continue;
      const source = sourceNode(l);
      const destination = destinationNode(l);
      if (!destination) continue;
      const tcp = family === 'opened' || family === 'bytes';
      const grpc = l.request_protocol === 'grpc' || (l.grpc_response_status ?? '') !== '';
      const key = edgeKey({ source, destination, protocol: tcp ? 'tcp' : 'http' });
      let e = edges.get(key);
      if (!e)
        edges.set(
          key,
          (e = { source, destination, requests: 0, errors: 0, mtls: 0, bytes: 0, buckets: new Map(), protocol: tcp ? 'tcp' : 'http' }),
        );
      if (grpc && !tcp) e.protocol = 'grpc';
      const value = Number(m[3]);
      // A client's sidecar knows it spoke mTLS by the server's verified identity; a server by its policy.
      const secure = outsider ? l.connection_security_policy === 'mutual_tls' : (l.destination_principal ?? '').startsWith('spiffe://');
      if (family === 'requests' || family === 'opened') {
        e.requests += value;
        if (secure) e.mtls += value;
        const status = l.grpc_response_status ?? '';
        const failed = tcp ? (l.response_flags ?? '-') !== '-' : l.response_code?.startsWith('5') || (status !== '' && status !== '0');
        if (failed) e.errors += value;
      } else if (family === 'bytes') e.bytes += value;
      else {
        const le = l.le === '+Inf' ? Infinity : Number(l.le);
        e.buckets.set(le, (e.buckets.get(le) ?? 0) + value);
      }
    }
  return [...edges.values()];
}

/** The upper bound of the bucket holding the 99th percentile (as histogram_quantile would bound it). */
export function p99(buckets: ReadonlyMap<number, number>): number | null {
  const sorted = [...buckets.entries()].sort(([a], [b]) => a - b);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const hit = sorted.find(([, count]) => count >= total * 0.99);
  return hit && Number.isFinite(hit[0]) ? hit[0] : (sorted.filter(([le]) => Number.isFinite(le)).at(-1)?.[0] ?? null);
}

function minus(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number> | undefined): Map<number, number> {
  return new Map([...a].map(([le, n]) => [le, n - (b?.get(le) ?? 0)]));
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** One edge over the window since `before` (`seconds` long; 0 without a previous scrape: totals since start). */
function windowed(e: EdgeSample, before: EdgeSample | undefined, seconds: number): GraphEdge {
  const requests = e.requests - (before?.requests ?? 0);
  const share = (part: number, whole: number, totalPart: number, total: number) =>
    whole > 0 ? part / whole : total > 0 ? totalPart / total : 0;
  return {
    source: e.source,
    destination: e.destination,
    protocol: e.protocol,
    requests: e.requests,
    rps: seconds ? round1(requests / seconds) : 0,
    errorRate: share(e.errors - (before?.errors ?? 0), requests, e.errors, e.requests),
    p99Ms: e.protocol === 'tcp' ? null : p99(requests > 0 ? minus(e.buckets, before?.buckets) : e.buckets),
    mtls: share(e.mtls - (before?.mtls ?? 0), requests, e.mtls, e.requests),
    ...(e.protocol === 'tcp' ? { bytesPerSecond: seconds ? round1((e.bytes - (before?.bytes ?? 0)) / seconds) : 0 } : {}),
  };
}

/**
 * Nodes are the gateway and every app version of the mesh (`apps`: app → its versions), and any
 * other end an edge names; placed in columns by their distance from the gateway (clients outside
 * the mesh beside it), the versions of an app one under the other.
 */
export function buildGraph(apps: ReadonlyMap<string, string[]>, now: Scrape, previous?: Scrape): Graph {
  const seconds = previous ? Math.max((now.atMs - previous.atMs) / 1000, 0.001) : 0;
  const before = new Map(previous?.edges.map((e) => [edgeKey(e), e]));
  const edges = now.edges.map((e) => windowed(e, before.get(edgeKey(e)), seconds)).sort((a, b) => edgeKey(a).localeCompare(edgeKey(b)));
  const ids = new Set([
    GATEWAY_NODE,
    ...[...apps].flatMap(([app, versions]) => (versions.length ? versions.map((v) => nodeId(app, v)) : [app])),
    ...edges.flatMap((e) => [e.source, e.destination]),
  ]);
  const depth = new Map<string, number>([
    [GATEWAY_NODE, 0],
    [UNKNOWN_NODE, 0],
  ]);
  for (let frontier = [GATEWAY_NODE, UNKNOWN_NODE]; frontier.length; ) {
    const next: string[] = [];
    for (const e of edges)
      if (frontier.includes(e.source) && !depth.has(e.destination)) {
        depth.set(e.destination, depth.get(e.source)! + 1);
        next.push(e.destination);
      }
    frontier = next;
  }
  // A version with no traffic yet stands in the column of its app's others (one app box), else next to the gateway.
  const appDepth = new Map<string, number>();
  for (const [id, d] of depth) {
    const app = id.split(' ')[0];
    appDepth.set(app, Math.min(d, appDepth.get(app) ?? d));
  }
  const columns = new Map<number, string[]>();
  for (const id of [...ids].sort()) {
    const d = depth.get(id) ?? appDepth.get(id.split(' ')[0]) ?? 1;
    columns.set(d, [...(columns.get(d) ?? []), id]);
  }
  const nodes: GraphNode[] = [];
  for (const [d, column] of [...columns].sort(([a], [b]) => a - b))
    column.forEach((id, i) => {
      // Label values hold no spaces: the one in an id parts app and version.
      const [app, version] = id.split(' ');
      nodes.push({
        id,
        kind: id === GATEWAY_NODE ? 'gateway' : id === UNKNOWN_NODE ? 'unknown' : 'service',
        app,
        ...(version ? { version } : {}),
        x: 110 + d * 260,
        y: 70 + i * 110,
      });
    });
  return { nodes, edges };
}
