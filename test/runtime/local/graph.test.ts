import { buildGraph, GATEWAY_NODE, p99, parseEdges } from '../../../runtime/local/graph';
import { renderPage, renderSvg } from '../../../runtime/local/page';

const series = (src: string, dst: string, code: number, n: number, reporter = 'source') =>
  `istio_requests_total{reporter="${reporter}",source_workload="${src}",destination_service_name="${dst}",response_code="${code}",response_flags="-"} ${n}`;
const bucket = (src: string, dst: string, le: string, n: number) =>
  `istio_request_duration_milliseconds_bucket{reporter="source",source_workload="${src}",destination_service_name="${dst}",response_code="200",le="${le}"} ${n}`;

describe('service graph', () => {
  const gateway = [
    series(GATEWAY_NODE, 'productpage', 200, 90),
    series(GATEWAY_NODE, 'productpage', 503, 10),
    bucket(GATEWAY_NODE, 'productpage', '10', 50),
    bucket(GATEWAY_NODE, 'productpage', '100', 99),
    bucket(GATEWAY_NODE, 'productpage', '+Inf', 100),
  ].join('\n');
  const productpage = [
    series('productpage', 'reviews', 200, 100),
    series('productpage', 'reviews', 200, 7, 'destination'),
    series('reviews', 'ratings', 200, 5),
  ].join('\n');

  test('edges from reporter="source" series, summed over proxies; destination-side series are not double counted', () => {
    const edges = parseEdges([gateway, productpage]);
    expect(edges.map((e) => [e.source, e.destination, e.requests, e.errors])).toEqual([
      [GATEWAY_NODE, 'productpage', 100, 10],
      ['productpage', 'reviews', 100, 0],
      ['reviews', 'ratings', 5, 0],
    ]);
  });

  test('an edge with gRPC series is a gRPC edge (labelled so on the page); a gRPC status other than OK is an error', () => {
    const grpc = (status: string, n: number) =>
      `istio_requests_total{reporter="source",source_workload="reviews",destination_service_name="ratings",request_protocol="grpc",response_code="200",grpc_response_status="${status}",response_flags="-"} ${n}`;
    const [edge] = parseEdges([[grpc('0', 8), grpc('14', 2)].join('\n')]);
    expect(edge).toMatchObject({ source: 'reviews', destination: 'ratings', requests: 10, errors: 2, protocol: 'grpc' });
    expect(parseEdges([productpage]).map((e) => e.protocol)).toEqual(['http', 'http']);
    const svg = renderSvg(buildGraph(new Map(), { atMs: 0, edges: [edge] }));
    expect(svg).toMatch(/data-source="reviews" data-destination="ratings">.*?>grpc · 0 rps · 20\.0% err/);
  });

  test('p99 is the upper bound of the bucket holding it', () => {
    expect(
      p99(
        new Map([
          [10, 50],
          [100, 99],
          [Infinity, 100],
        ]),
      ),
    ).toBe(100);
    expect(
      p99(
        new Map([
          [10, 100],
          [Infinity, 100],
        ]),
      ),
    ).toBe(10);
    expect(p99(new Map())).toBeNull();
  });

  test('rates over the window between two scrapes; columns by distance from the gateway', () => {
    const before = { atMs: 0, edges: parseEdges([series(GATEWAY_NODE, 'productpage', 200, 40)]) };
    const now = { atMs: 2000, edges: parseEdges([gateway, productpage]) };
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
    const gw = g.edges.find((e) => e.source === GATEWAY_NODE)!;
    expect(gw).toMatchObject({ requests: 100, rps: 30, p99Ms: 100 });
    expect(gw.errorRate).toBeCloseTo(10 / 60);
    const x = Object.fromEntries(g.nodes.map((n) => [n.id, n.x]));
    expect(x[GATEWAY_NODE]).toBeLessThan(x.productpage);
    expect(x.productpage).toBeLessThan(x.reviews);
    expect(x.reviews).toBeLessThan(x.ratings);
    expect(g.nodes.find((n) => n.id === 'reviews')?.versions).toEqual(['v1', 'v2']);
    // details has no traffic yet: still drawn.
    expect(g.nodes.map((n) => n.id)).toContain('details');
  });

  test('the page draws every node and edge, escapes names, and shows proxies and findings', () => {
    const g = buildGraph(new Map([['<b>', []]]), { atMs: 0, edges: parseEdges([gateway]) });
    const svg = renderSvg(g);
    expect(svg).toContain('data-id="&#60;b&#62;"');
    expect(svg).not.toContain('<b>');
    expect(svg.match(/class="node"/g)).toHaveLength(3);
    expect(svg.match(/class="edge"/g)).toHaveLength(1);
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
