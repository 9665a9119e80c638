/**
 * The live service graph: calls between workloads and services, read from the proxies'
 * `istio_requests_total` and duration histograms (reporter="source", as Kiali reads Istio's).
 * Rates come from the difference between two scrapes. Pure.
 */
import { GATEWAY_NAME } from '../../api/well-known';

export interface EdgeSample {
  readonly source: string;
  readonly destination: string;
  readonly requests: number;
  /** 5xx responses, and gRPC calls that ended with a status other than OK (as Kiali counts gRPC errors). */
  readonly errors: number;
  /** Cumulative duration buckets: upper bound in ms → count. */
  readonly buckets: ReadonlyMap<number, number>;
  /** `grpc` when any of its series is (`request_protocol="grpc"`, or a `grpc_response_status`). */
  readonly protocol: Protocol;
}

export type Protocol = 'http' | 'grpc';

export interface Scrape {
  readonly atMs: number;
  readonly edges: readonly EdgeSample[];
}

export interface GraphNode {
  readonly id: string;
  readonly kind: 'gateway' | 'service';
  readonly versions: string[];
  readonly x: number;
  readonly y: number;
}

export interface GraphEdge {
  readonly source: string;
  readonly destination: string;
  readonly requests: number;
  readonly rps: number;
  readonly errorRate: number;
  readonly p99Ms: number | null;
  readonly protocol: Protocol;
}

export interface Graph {
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
}

export const GATEWAY_NODE = GATEWAY_NAME;

const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;
const SERIES = /^(\w+)\{(.*)\}\s+(\S+)$/;

function labelsOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(LABEL)) out[m[1]] = m[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  return out;
}

/** Sums one proxy's (or several proxies') Prometheus text into edges. */
export function parseEdges(texts: readonly string[]): EdgeSample[] {
  const edges = new Map<
    string,
    { source: string; destination: string; requests: number; errors: number; buckets: Map<number, number>; protocol: Protocol }
  >();
  for (const text of texts)
    for (const line of text.split('\n')) {
      const m = SERIES.exec(line);
      if (!m || (m[1] !== 'istio_requests_total' && m[1] !== 'istio_request_duration_milliseconds_bucket')) continue;
      const l = labelsOf(m[2]);
      if (l.reporter !== 'source') continue;
      // A node is a service: a sidecar's workload (reviews-v1) by its canonical service (reviews); the gateway by its workload.
      const source = l.source_workload === GATEWAY_NODE ? GATEWAY_NODE : (l.source_canonical_service ?? l.source_workload);
      const key = `${source}|${l.destination_service_name}`;
      let e = edges.get(key);
      if (!e)
        edges.set(
          key,
          (e = {
            source,
            destination: l.destination_service_name,
            requests: 0,
            errors: 0,
            buckets: new Map(),
            protocol: 'http',
          }),
        );
      const value = Number(m[3]);
      const grpcStatus = l.grpc_response_status ?? '';
      if (l.request_protocol === 'grpc' || grpcStatus !== '') e.protocol = 'grpc';
      if (m[1] === 'istio_requests_total') {
        e.requests += value;
        if (l.response_code?.startsWith('5') || (grpcStatus !== '' && grpcStatus !== '0')) e.errors += value;
      } else {
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

/**
 * Nodes are the gateway and every service (with the versions of its workloads), placed in
 * columns by their distance from the gateway along the edges seen; edges carry requests/s,
 * error rate and p99 over the window since the previous scrape (since start without one).
 */
export function buildGraph(services: ReadonlyMap<string, string[]>, now: Scrape, previous?: Scrape): Graph {
  const seconds = previous ? Math.max((now.atMs - previous.atMs) / 1000, 0.001) : 0;
  const edges: GraphEdge[] = now.edges
    .filter((e) => e.destination && e.destination !== 'unknown')
    .map((e) => {
      const before = previous?.edges.find((p) => p.source === e.source && p.destination === e.destination);
      const requests = e.requests - (before?.requests ?? 0);
      const errors = e.errors - (before?.errors ?? 0);
      const windowed = requests > 0 ? minus(e.buckets, before?.buckets) : e.buckets;
      return {
        source: e.source,
        destination: e.destination,
        requests: e.requests,
        rps: seconds ? Math.round((requests / seconds) * 10) / 10 : 0,
        errorRate: requests > 0 ? errors / requests : e.requests > 0 ? e.errors / e.requests : 0,
        p99Ms: p99(windowed),
        protocol: e.protocol,
      };
    })
    .sort((a, b) => `${a.source}|${a.destination}`.localeCompare(`${b.source}|${b.destination}`));
  const ids = new Set([GATEWAY_NODE, ...services.keys(), ...edges.flatMap((e) => [e.source, e.destination])]);
  const depth = new Map<string, number>([[GATEWAY_NODE, 0]]);
  for (let frontier = [GATEWAY_NODE]; frontier.length; ) {
    const next: string[] = [];
    for (const e of edges)
      if (frontier.includes(e.source) && !depth.has(e.destination)) {
        depth.set(e.destination, depth.get(e.source)! + 1);
        next.push(e.destination);
      }
    frontier = next;
  }
  const columns = new Map<number, string[]>();
  for (const id of [...ids].sort()) {
    const d = depth.get(id) ?? 1;
    columns.set(d, [...(columns.get(d) ?? []), id]);
  }
  const nodes: GraphNode[] = [];
  for (const [d, column] of [...columns].sort(([a], [b]) => a - b))
    column.forEach((id, i) =>
      nodes.push({
        id,
        kind: id === GATEWAY_NODE ? 'gateway' : 'service',
        versions: services.get(id) ?? [],
        x: 110 + d * 240,
        y: 70 + i * 120,
      }),
    );
  return { nodes, edges };
}
