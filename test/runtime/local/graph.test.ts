/** The versioned app graph of mast local's page, from the proxies' Istio metrics (pure). */
import { buildGraph, GATEWAY_NODE, type GraphEdge, p99, parseEdges, UNKNOWN_NODE } from '../../../runtime/local/graph';
import { edgeLabel, renderPage, renderSvg } from '../../../runtime/local/page';

const SPIFFE = (sa: string) => `spiffe://cluster.local/ns/default/sa/${sa}`;

/** One series as a proxy exposes it: the labels the graph reads, the rest as a sidecar writes them. */
function line(name: string, labels: Record<string, string>, value: number): string {
  return `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}} ${value}`;
}
/** A call from `src` (workload name, app, version) to `dst`, as the client's sidecar reports it (over mTLS unless `principal` says). */
function call(src: [string, string, string], dst: [string, string, string], code: number, n: number, extra: Record<string, string> = {}) {
  return line(
    'istio_requests_total',
    {
      reporter: 'source',
      source_workload: src[0],
      source_canonical_service: src[1],
      source_version: src[2],
      destination_workload: dst[0],
      destination_canonical_service: dst[1],
      destination_version: dst[2],
      destination_service_name: dst[1],
      destination_principal: SPIFFE(dst[1]),
      connection_security_policy: 'unknown',
      response_code: String(code),
      response_flags: '-',
      ...extra,
    },
    n,
  );
}
const GW: [string, string, string] = [GATEWAY_NODE, GATEWAY_NODE, 'unknown'];
const PRODUCTPAGE: [string, string, string] = ['productpage-v1', 'productpage', 'v1'];
const REVIEWS = (v: string): [string, string, string] => [`reviews-${v}`, 'reviews', v];
const RATINGS: [string, string, string] = ['ratings-v1', 'ratings', 'v1'];

const edge = (edges: readonly GraphEdge[], source: string, destination: string) =>
  edges.find((e) => e.source === source && e.destination === destination);

describe('the versioned app graph', () => {
  test('reviews v1, v2 and v3 are nodes of their own, each with its own edge from productpage and to ratings', () => {
    const productpage = [
      call(PRODUCTPAGE, REVIEWS('v1'), 200, 90),
      call(PRODUCTPAGE, REVIEWS('v2'), 200, 8),
      call(PRODUCTPAGE, REVIEWS('v3'), 200, 2),
    ].join('\n');
    const reviews = [call(REVIEWS('v2'), RATINGS, 200, 8), call(REVIEWS('v3'), RATINGS, 200, 2)].join('\n');
    const edges = parseEdges([productpage, reviews]);
    expect(edges.map((e) => [e.source, e.destination, e.requests]).sort()).toEqual([
      ['productpage v1', 'reviews v1', 90],
      ['productpage v1', 'reviews v2', 8],
      ['productpage v1', 'reviews v3', 2],
      ['reviews v2', 'ratings v1', 8],
      ['reviews v3', 'ratings v1', 2],
    ]);
    const g = buildGraph(new Map([['reviews', ['v1', 'v2', 'v3']]]), { atMs: 0, edges });
    expect(g.nodes.filter((n) => n.app === 'reviews').map((n) => [n.id, n.version])).toEqual([
      ['reviews v1', 'v1'],
      ['reviews v2', 'v2'],
      ['reviews v3', 'v3'],
    ]);
    // The page boxes the three versions as one app.
    expect(renderSvg(g).match(/class="app" data-app="reviews"/g)).toHaveLength(1);
  });

  test("the server's own reports of calls from inside the mesh are not counted twice", () => {
    const inbound = line(
      'istio_requests_total',
      {
        reporter: 'destination',
        source_workload: 'productpage-v1',
        source_canonical_service: 'productpage',
        source_version: 'v1',
        source_principal: SPIFFE('productpage'),
        destination_workload: 'reviews-v1',
        destination_canonical_service: 'reviews',
        destination_version: 'v1',
        destination_service_name: 'reviews',
        connection_security_policy: 'mutual_tls',
        response_code: '200',
      },
      90,
    );
    expect(parseEdges([call(PRODUCTPAGE, REVIEWS('v1'), 200, 90), inbound]).map((e) => e.requests)).toEqual([90]);
  });

  test('mTLS per edge: by the verified server identity on the client side, by connection_security_policy for callers outside the mesh', () => {
    const plainToDetails = call(PRODUCTPAGE, ['details-v1', 'details', 'v1'], 200, 3, { destination_principal: 'unknown' });
    const mixed = [
      call(PRODUCTPAGE, REVIEWS('v1'), 200, 3),
      call(PRODUCTPAGE, REVIEWS('v1'), 200, 1, { destination_principal: 'unknown' }),
    ];
    // A client with no sidecar: only reviews-v1's sidecar saw it, in plain text.
    const outsider = line(
      'istio_requests_total',
      {
        reporter: 'destination',
        source_workload: 'unknown',
        source_principal: 'unknown',
        destination_workload: 'reviews-v1',
        destination_canonical_service: 'reviews',
        destination_version: 'v1',
        destination_service_name: 'reviews',
        connection_security_policy: 'none',
        response_code: '200',
      },
      5,
    );
    const g = buildGraph(new Map(), {
      atMs: 0,
      edges: parseEdges([[call(GW, PRODUCTPAGE, 200, 10), plainToDetails, ...mixed, outsider].join('\n')]),
    });
    expect(edge(g.edges, GATEWAY_NODE, 'productpage v1')?.mtls).toBe(1);
    expect(edge(g.edges, 'productpage v1', 'details v1')?.mtls).toBe(0);
    expect(edge(g.edges, 'productpage v1', 'reviews v1')?.mtls).toBe(0.75);
    expect(edge(g.edges, UNKNOWN_NODE, 'reviews v1')).toMatchObject({ requests: 5, mtls: 0 });
    expect(g.nodes.find((n) => n.id === UNKNOWN_NODE)).toMatchObject({ kind: 'unknown', x: g.nodes.find((n) => n.id === GATEWAY_NODE)!.x });
    const svg = renderSvg(g);
    expect(svg).toContain(`class="edge mtls" data-source="${GATEWAY_NODE}" data-destination="productpage v1"`);
    expect(svg).toMatch(/class="edge" data-source="productpage v1" data-destination="details v1".*?stroke-dasharray/);
    expect(edgeLabel(edge(g.edges, 'productpage v1', 'reviews v1')!)).toMatch(/ · mTLS 75%$/);
  });

  test('TCP edges: connections per second, bytes both ways per second, and connections a response flag marks as errors', () => {
    const tcp = (name: string, value: number, flags = '-') =>
      line(
        name,
        {
          reporter: 'source',
          source_workload: GATEWAY_NODE,
          source_canonical_service: GATEWAY_NODE,
          destination_workload: 'tcp-echo-v1',
          destination_canonical_service: 'tcp-echo',
          destination_version: 'v1',
          destination_service_name: 'tcp-echo',
          destination_principal: SPIFFE('tcp-echo'),
          request_protocol: 'tcp',
          response_flags: flags,
        },
        value,
      );
    const at = (n: number, bytes: number) =>
      parseEdges([
        [
          tcp('istio_tcp_connections_opened_total', n),
          tcp('istio_tcp_connections_opened_total', 1, 'UF'),
          tcp('istio_tcp_sent_bytes_total', bytes),
          tcp('istio_tcp_received_bytes_total', bytes / 2),
          // An HTTP edge between the same two is another edge.
          call(GW, ['tcp-echo-v1', 'tcp-echo', 'v1'], 200, 4),
        ].join('\n'),
      ]);
    const g = buildGraph(new Map(), { atMs: 4000, edges: at(21, 3000) }, { atMs: 0, edges: at(1, 1000) });
    const edges = g.edges.filter((e) => e.source === GATEWAY_NODE && e.destination === 'tcp-echo v1');
    expect(edges.map((e) => e.protocol)).toEqual(['http', 'tcp']);
    // 20 connections in 4 s; (2000 + 1000) bytes in 4 s; 1 flagged of the 22 since start (none in the window).
    expect(edges[1]).toMatchObject({ requests: 22, rps: 5, bytesPerSecond: 750, errorRate: 0, mtls: 1, p99Ms: null });
    expect(edgeLabel(edges[1])).toBe('tcp · 5 conn/s · 750 B/s · mTLS');
    const first = buildGraph(new Map(), { atMs: 0, edges: at(1, 10) }).edges.find((e) => e.protocol === 'tcp');
    expect(first?.errorRate).toBe(0.5);
  });

  test('request rate, error rate and p99 per edge over the window between two scrapes; columns by distance from the gateway', () => {
    const bucket = (le: string, n: number) =>
      line(
        'istio_request_duration_milliseconds_bucket',
        {
          reporter: 'source',
          source_workload: GATEWAY_NODE,
          destination_workload: 'productpage-v1',
          destination_canonical_service: 'productpage',
          destination_version: 'v1',
          le,
        },
        n,
      );
    const before = { atMs: 0, edges: parseEdges([call(GW, PRODUCTPAGE, 200, 40)]) };
    const now = {
      atMs: 2000,
      edges: parseEdges([
        [call(GW, PRODUCTPAGE, 200, 90), call(GW, PRODUCTPAGE, 503, 10), bucket('10', 50), bucket('100', 99), bucket('+Inf', 100)].join(
          '\n',
        ),
        [call(PRODUCTPAGE, REVIEWS('v2'), 200, 5), call(REVIEWS('v2'), RATINGS, 200, 5)].join('\n'),
      ]),
    };
    const g = buildGraph(
      new Map([
        ['productpage', ['v1']],
        ['reviews', ['v1', 'v2']],
        ['ratings', ['v1']],
        ['details', ['v1']],
      ]),
      now,
      before,
    );
    const gw = edge(g.edges, GATEWAY_NODE, 'productpage v1')!;
    expect(gw).toMatchObject({ requests: 100, rps: 30, p99Ms: 100 });
    expect(gw.errorRate).toBeCloseTo(10 / 60);
    const x = Object.fromEntries(g.nodes.map((n) => [n.id, n.x]));
    expect(x[GATEWAY_NODE]).toBeLessThan(x['productpage v1']);
    expect(x['productpage v1']).toBeLessThan(x['reviews v2']);
    expect(x['reviews v2']).toBeLessThan(x['ratings v1']);
    // Versions with no traffic yet are drawn, beside their app's others.
    expect(g.nodes.map((n) => n.id)).toEqual(expect.arrayContaining(['details v1', 'reviews v1']));
    expect(x['reviews v1']).toBe(x['reviews v2']);
  });

  test('an edge with gRPC series is a gRPC edge (labelled so on the page); a gRPC status other than OK is an error', () => {
    const grpc = (status: string, n: number) =>
      call(REVIEWS('v2'), RATINGS, 200, n, { request_protocol: 'grpc', grpc_response_status: status });
    const [e] = parseEdges([[grpc('0', 8), grpc('14', 2)].join('\n')]);
    expect(e).toMatchObject({ source: 'reviews v2', destination: 'ratings v1', requests: 10, errors: 2, protocol: 'grpc' });
    const svg = renderSvg(buildGraph(new Map(), { atMs: 0, edges: [e] }));
    expect(svg).toMatch(/data-source="reviews v2" data-destination="ratings v1" data-protocol="grpc">.*?>grpc · 0 rps · 20\.0% err/);
  });

  test('a destination with no workload (past the mesh, no route) is its service; one with neither is left out', () => {
    const passthrough = call(PRODUCTPAGE, ['unknown', 'unknown', 'unknown'], 200, 2, { destination_service_name: 'PassthroughCluster' });
    const noRoute = call(GW, ['unknown', 'unknown', 'unknown'], 404, 3, { destination_service_name: 'unknown' });
    expect(parseEdges([[passthrough, noRoute].join('\n')]).map((e) => [e.source, e.destination])).toEqual([
      ['productpage v1', 'PassthroughCluster'],
    ]);
  });

  test('p99 is the upper bound of the bucket holding it', () => {
    const buckets = (...pairs: Array<[number, number]>) => new Map(pairs);
    expect(p99(buckets([10, 50], [100, 99], [Infinity, 100]))).toBe(100);
    expect(p99(buckets([10, 100], [Infinity, 100]))).toBe(10);
    expect(p99(new Map())).toBeNull();
  });

  test('the page draws every node and edge, escapes names, and shows proxies and findings', () => {
    const g = buildGraph(new Map([['<b>', []]]), { atMs: 0, edges: parseEdges([call(GW, PRODUCTPAGE, 200, 1)]) });
    const svg = renderSvg(g);
    expect(svg).toContain('data-id="&#60;b&#62;"');
    expect(svg).not.toContain('<b>');
    expect(svg.match(/class="node"/g)).toHaveLength(3);
    expect(svg.match(/class="edge/g)).toHaveLength(1);
    const html = renderPage({
      graph: g,
      snapshot: 'v7',
      proxies: [{ id: 'gw', mode: 'gateway', version: 'v7', status: 'SYNCED' }],
      findings: ['Warning MAST0205 x'],
    });
    expect(html).toContain('snapshot v7');
    expect(html).toContain('<td class="SYNCED">SYNCED</td>');
    expect(html).toContain('<li>Warning MAST0205 x</li>');
  });
});
