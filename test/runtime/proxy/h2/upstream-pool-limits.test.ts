/**
 * The HTTP/2 pool under the cluster's connection limit, as Envoy's pool behaves under its
 * max_connections circuit breaker (Istio's `tcp.maxConnections`): with every session full and the
 * cluster at its limit a request waits as a pending request and gets the next stream that frees;
 * past `maxPendingRequests` it overflows (503 UO); an endpoint with no connection gets one anyway;
 * a session that closes makes room for a new one. Real node:http2 servers that answer when told.
 */
import type { ClusterConfig } from '../../../../runtime/contract/proxy-config';
import { h2Pool, type H2Pool, type SessionGrant } from '../../../../runtime/proxy/h2/upstream-pool';
import { Cluster } from '../../../../runtime/proxy/upstream/cluster';
import { cluster as clusterConfig, stoppedAfterEach, until } from '../../../support/proxy';
import { holdingServer } from './holding-server';

const { stopAfter } = stoppedAfterEach();

/** An HTTP/2 server that holds every stream until the test answers it; the answer's body is `#<i>`. */
const holding = () => holdingServer(stopAfter, (i) => `#${i}`);

function poolFor(ports: number[], limits: Partial<ClusterConfig>) {
  const c = new Cluster(clusterConfig('s', ports, limits));
  stopAfter(async () => c.close());
  return { cluster: c, pools: c.endpoints.map((e) => h2Pool(c, e)) };
}

/** A request as an exchange makes one: a session asked for, a stream on it when granted, the stream's end handed back. */
function request(pool: H2Pool) {
  const r: { grant?: SessionGrant; body?: string; cancel: () => void } = { cancel: () => undefined };
  r.cancel = pool.acquire((grant) => {
    r.grant = grant;
    if (typeof grant === 'string') return;
    pool.began(grant);
    const stream = grant.session.request({ ':path': '/' });
    let body = '';
    stream.on('data', (d: Buffer) => (body += d));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      r.body = body;
      pool.ended(grant);
    });
  });
  return r;
}

test('at maxConnections with every stream taken, a request waits and gets the first stream that frees, on the same connection', async () => {
  const srv = await holding();
  const { pools } = poolFor([srv.port], { maxConnections: 1, maxConcurrentStreams: 2 });
  const [pool] = pools;
  const [a, b, c] = [request(pool), request(pool), request(pool)];
  expect([typeof a.grant, typeof b.grant, c.grant]).toEqual(['object', 'object', undefined]);
  expect(pool.pending).toBe(1);
  expect(pool.connectionOverflows).toBe(1);
  await until('the two streams at the server', () => srv.held.length === 2);

  srv.answer(0);
  await until('the waiting request’s stream at the server', () => srv.held.length === 3);
  expect(c.grant).toBe(a.grant);
  expect(pool.pending).toBe(0);
  srv.answer(1);
  srv.answer(2);
  await until('every response', () => [a, b, c].every((r) => r.body !== undefined));
  expect([a.body, b.body, c.body]).toEqual(['#0', '#1', '#2']);
  expect(srv.sessions.size).toBe(1);
});

test('past maxPendingRequests a request overflows at once, counted on the cluster; a cancelled wait is never granted', async () => {
  const srv = await holding();
  const { cluster, pools } = poolFor([srv.port], { maxConnections: 1, maxConcurrentStreams: 1, maxPendingRequests: 2 });
  const [pool] = pools;
  const first = request(pool);
  const [w1, w2] = [request(pool), request(pool)];
  const over = request(pool);
  expect(over.grant).toBe('overflow');
  expect(cluster.overflows).toBe(1);
  expect(pool.pending).toBe(2);

  w1.cancel();
  expect(pool.pending).toBe(1);
  await until('the first stream at the server', () => srv.held.length === 1);
  srv.answer(0);
  await until('the remaining waiter’s stream', () => srv.held.length === 2);
  expect([typeof first.grant, w1.grant, w2.grant]).toEqual(['object', undefined, first.grant]);
});

test('an endpoint with no connection gets one even with the cluster at its limit (Envoy: pending requests never stranded)', async () => {
  const [x, y] = [await holding(), await holding()];
  const { cluster, pools } = poolFor([x.port, y.port], { maxConnections: 1, maxConcurrentStreams: 1 });
  const onX = request(pools[0]);
  const onY = request(pools[1]);
  expect([typeof onX.grant, typeof onY.grant]).toEqual(['object', 'object']);
  expect(cluster.endpoints.map((e) => e.connections)).toEqual([1, 1]);
  // The limit still holds for the next one: X is full and the cluster over its limit.
  expect(request(pools[0]).grant).toBeUndefined();
  await until('a session at each server', () => x.sessions.size === 1 && y.sessions.size === 1);
});

test('a waiting request gets a new connection when the full one closes (GOAWAY from the server)', async () => {
  const srv = await holding();
  const { pools } = poolFor([srv.port], { maxConnections: 1, maxConcurrentStreams: 1 });
  const [pool] = pools;
  const first = request(pool);
  const waiting = request(pool);
  expect(waiting.grant).toBeUndefined();
  await until('the first stream at the server', () => srv.held.length === 1);
  const [serverSession] = srv.sessions;
  serverSession.goaway();
  srv.answer(0);
  await until('the waiting request’s stream', () => srv.held.length === 2);
  expect(waiting.grant).not.toBe(first.grant);
  expect(srv.sessions.size).toBe(2);
  srv.answer(1);
  await until('its response', () => waiting.body === '#1');
});

test('a pool that closes (its endpoint dropped by a push) tells its waiting requests so (retryable elsewhere)', async () => {
  const srv = await holding();
  const { pools } = poolFor([srv.port], { maxConnections: 1, maxConcurrentStreams: 1 });
  const [pool] = pools;
  request(pool);
  const waiting = request(pool);
  pool.close();
  expect(waiting.grant).toBe('closed');
  expect(pool.pending).toBe(0);
});

test('without maxConnections nothing waits: a full session means a new one', async () => {
  const srv = await holding();
  const { pools } = poolFor([srv.port], { maxConcurrentStreams: 1 });
  const rs = [request(pools[0]), request(pools[0]), request(pools[0])];
  expect(rs.every((r) => typeof r.grant === 'object')).toBe(true);
  expect(pools[0].pending).toBe(0);
  await until('three sessions at the server', () => srv.sessions.size === 3);
});
