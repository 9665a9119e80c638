/**
 * The example's mesh routes gRPC where the apps expect it (compile → simulate, no sockets): the
 * gateway sends `/bookinfo.Ratings/` to ratings' grpc port, reviews' sidecar sends its calls to
 * `ratings.default.svc.cluster.local:9090` there too, retried on UNAVAILABLE, and both of ratings'
 * ports reach its one sidecar in `mast local`. HTTP routes are unchanged beside them.
 */
import { join } from 'node:path';
import { loadFiles } from '../../api';
import { buildIndex, compile, makeSnapshot, type ProxyIdentity } from '../../runtime/compile';
import { throughSidecars } from '../../runtime/local/workloads';
import { simulate, type SimulatedRequest } from '../../runtime/proxy/simulate';

const EXAMPLE = join(__dirname, '..', '..', 'examples', 'bookinfo');
const RATINGS_INBOUND = 31085;
const objects = throughSidecars(loadFiles([join(EXAMPLE, 'mesh'), join(EXAMPLE, 'local')]).objects, (key) =>
  key === 'default/ratings-v1' ? RATINGS_INBOUND : 31000,
);
const index = buildIndex(makeSnapshot(objects, 'v1'));
const GATEWAY: ProxyIdentity = { mode: 'gateway', namespace: 'mast-system', labels: { istio: 'ingressgateway' }, portMap: { 80: 8080 } };
const REVIEWS_V2: ProxyIdentity = { mode: 'sidecar', namespace: 'default', labels: { app: 'reviews', version: 'v2' }, outboundPort: 15001 };

const RATINGS_GRPC = 'outbound|9090|v1|ratings.default.svc.cluster.local';
const RATINGS_HTTP = 'outbound|9080|v1|ratings.default.svc.cluster.local';

function route(proxy: ProxyIdentity, request: SimulatedRequest) {
  const r = simulate(compile(index, proxy), request);
  if (r.outcome !== 'routed') throw new Error(`${request.host}${request.path}: ${r.outcome}`);
  const retries = r.action.kind === 'forward' ? r.action.retries : undefined;
  return { route: r.route, cluster: r.cluster, endpoints: r.endpoints, retryOn: retries?.retryOn };
}

describe('bookinfo mesh: gRPC routes', () => {
  test('the gateway sends bookinfo.Ratings calls to ratings v1 on its grpc port, through its sidecar; pages still go to productpage', () => {
    expect(route(GATEWAY, { port: 80, host: 'alpha.example.com', path: '/bookinfo.Ratings/Get', method: 'POST' })).toMatchObject({
      route: 'ratings-grpc',
      cluster: RATINGS_GRPC,
      endpoints: [`127.0.0.1:${RATINGS_INBOUND}`],
    });
    expect(route(GATEWAY, { port: 80, host: 'alpha.example.com', path: '/productpage' })).toMatchObject({ route: 'productpage' });
  });

  test("reviews' sidecar sends ratings.default.svc.cluster.local:9090 to the grpc port (retried on unavailable), :9080 to the http port", () => {
    const grpc = route(REVIEWS_V2, {
      port: 9090,
      host: 'ratings.default.svc.cluster.local:9090',
      path: '/bookinfo.Ratings/Get',
      method: 'POST',
    });
    expect(grpc).toMatchObject({ route: 'grpc', cluster: RATINGS_GRPC, endpoints: [`127.0.0.1:${RATINGS_INBOUND}`] });
    expect(grpc.retryOn).toEqual(expect.arrayContaining(['unavailable', 'cancelled', 'connect-failure', 'refused-stream']));
    expect(route(REVIEWS_V2, { port: 9080, host: 'ratings:9080', path: '/productpage' })).toMatchObject({
      route: 'http',
      cluster: RATINGS_HTTP,
      endpoints: [`127.0.0.1:${RATINGS_INBOUND}`],
    });
  });
});
