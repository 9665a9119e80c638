/**
 * Istio's `tcp.maxConnections` on an HTTP/2 cluster, through the proxy: with the cluster's one
 * connection full (maxConcurrentStreams), the next request waits as pending and is served on that
 * connection when its stream frees; past `http1MaxPendingRequests` a request gets 503 `UO`, as
 * Envoy answers a pending overflow. HTTP/2 and HTTP/1.1 clients alike.
 */
import type { MeshProxy } from '../../../../runtime/proxy/mesh-proxy';
import type { H2Pool } from '../../../../runtime/proxy/h2/upstream-pool';
import { cluster, config, forward, get, stoppedAfterEach, until } from '../../../support/proxy';
import { h2c, h2request } from './h2-client';
import { holdingServer } from './holding-server';

const { proxyFor, stopAfter } = stoppedAfterEach();

/** An HTTP/2 server that holds every stream until the test answers it; the answer's body is `answer <path>`. */
const holding = () => holdingServer(stopAfter, (_i, path) => `answer ${path}`);

/** Requests the proxy holds for a stream to the cluster's one endpoint. */
const pendingAt = (proxy: MeshProxy) => (proxy.cluster('s')!.endpoints[0].h2 as H2Pool | undefined)?.pending ?? 0;

const pool = { upstreamProtocol: 'h2' as const, maxConnections: 1, maxConcurrentStreams: 1, maxPendingRequests: 1 };

test('HTTP/2 clients: one request on the one connection, the next pending until its stream frees, the one after 503 UO', async () => {
  const srv = await holding();
  const { proxy, port } = await proxyFor(
    config([forward('s', { retries: { attempts: 0, retryOn: [] } })], [cluster('s', [srv.port], pool)]),
  );
  const session = h2c(port);
  stopAfter(async () => void session.destroy());

  const first = h2request(session, { ':path': '/first' });
  await until('the first stream at the server', () => srv.held.length === 1);
  const pending = h2request(session, { ':path': '/pending' });
  // The pending request is held by the proxy, not sent: the server's one connection has no free stream.
  await until('the second request to wait in the pool', () => pendingAt(proxy) === 1);
  const over = await h2request(session, { ':path': '/over' });
  expect(over.status).toBe(503);
  expect(over.body).toMatch(/overflow/);
  expect(srv.held).toHaveLength(1);

  srv.answer(0);
  expect(await first).toMatchObject({ status: 200, body: 'answer /first' });
  await until('the pending request at the server', () => srv.held.length === 2);
  srv.answer(1);
  expect(await pending).toMatchObject({ status: 200, body: 'answer /pending' });
  expect(srv.sessions.size).toBe(1);
  expect(proxy.renderMetrics()).toMatch(/response_code="503",response_flags="UO"[^\n]*\} 1/);
  expect(proxy.cluster('s')!.overflows).toBe(1);
});

test('an HTTP/1.1 client of the HTTP/2 cluster: the same limit, the same 503 UO', async () => {
  const srv = await holding();
  const { proxy, port } = await proxyFor(
    config([forward('s', { retries: { attempts: 0, retryOn: [] } })], [cluster('s', [srv.port], pool)]),
  );
  const first = get(port, '/first');
  await until('the first stream at the server', () => srv.held.length === 1);
  const pending = get(port, '/pending');
  await until('the second request to wait in the pool', () => pendingAt(proxy) === 1);
  const over = await get(port, '/over');
  expect(over.status).toBe(503);
  expect(over.body).toMatch(/overflow/);
  srv.answer(0);
  expect(await first).toMatchObject({ status: 200, body: 'answer /first' });
  await until('the pending request at the server', () => srv.held.length === 2);
  srv.answer(1);
  expect(await pending).toMatchObject({ status: 200, body: 'answer /pending' });
  expect(srv.sessions.size).toBe(1);
});
