import * as http2 from 'node:http2';
import type * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { loadYaml } from '../../api';
import { closeRatingsClients, RatingsClient } from '../../examples/bookinfo/app/ratings-client';
import { startApp } from '../../examples/bookinfo/app/server';
import { freePort } from '../../runtime/local/local-mesh';
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';
import { MeshProxy } from '../../runtime/proxy/mesh-proxy';
import { get } from '../support/proxy';

const servers: net.Server[] = [];
const clients: grpc.Client[] = [];
const portOf = (s: net.Server) => (s.address() as AddressInfo).port;
async function app(service: string, version: string, calls: string[] = [], outbound?: string, grpcPort?: number) {
  const s = await startApp({ service, version, port: 0, calls, outbound, host: '127.0.0.1', grpcPort });
  servers.push(s);
  return s;
}
/** A gRPC client of bookinfo.Ratings at 127.0.0.1:port (HTTP/2 with prior knowledge). */
function ratingsAt(port: number) {
  const c = new RatingsClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  clients.push(c);
  return c;
}
const unary = (c: InstanceType<typeof RatingsClient>, request: object, metadata = new grpc.Metadata()) =>
  new Promise<{ err: grpc.ServiceError | null; reply?: Record<string, unknown> }>((resolve) =>
    c.Get(request, metadata, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null, reply?: Record<string, unknown>) =>
      resolve({ err, reply }),
    ),
  );
function stream(
  c: InstanceType<typeof RatingsClient>,
  request: object,
): Promise<{ messages: Array<Record<string, unknown>>; code: number }> {
  return new Promise((resolve) => {
    const messages: Array<Record<string, unknown>> = [];
    const call = c.Watch(request, { deadline: Date.now() + 5000 });
    call.on('data', (m: Record<string, unknown>) => messages.push(m));
    call.on('error', (err: grpc.ServiceError) => resolve({ messages, code: err.code }));
    call.on('status', (s: grpc.StatusObject) => s.code === grpc.status.OK && resolve({ messages, code: s.code }));
  });
}
afterAll(() => {
  clients.forEach((c) => c.close());
  closeRatingsClients();
  servers.forEach((s) => s.close());
});

describe('bookinfo apps', () => {
  test('productpage calls details and reviews; reviews v2 calls ratings; headers are passed on', async () => {
    const ratings = await app('ratings', 'v1');
    const reviews = await app('reviews', 'v2', [`http://127.0.0.1:${portOf(ratings)}`]);
    const details = await app('details', 'v1');
    const page = await app('productpage', 'v1', [`http://127.0.0.1:${portOf(details)}`, `http://127.0.0.1:${portOf(reviews)}`]);
    const r = await get(portOf(page), '/productpage', { 'x-request-id': 'req-1' });
    expect(JSON.parse(r.body)).toEqual({
      service: 'productpage',
      version: 'v1',
      path: '/productpage',
      calls: [
        { status: 200, service: 'details', version: 'v1', path: '/productpage' },
        {
          status: 200,
          service: 'reviews',
          version: 'v2',
          path: '/productpage',
          calls: [{ status: 200, service: 'ratings', version: 'v1', path: '/productpage' }],
        },
      ],
    });
  });

  test('through a sidecar outbound listener: short names resolve, the end-user header route applies', async () => {
    const v1 = await app('reviews', 'v1');
    const v2 = await app('reviews', 'v2');
    const mesh = loadYaml(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec: { hosts: [reviews.default.svc.cluster.local], ports: [{ number: 9080, name: http, protocol: HTTP }], resolution: STATIC, workloadSelector: { labels: { app: reviews } } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: reviews-v1, namespace: default }
spec: { address: 127.0.0.1, ports: { http: ${portOf(v1)} }, labels: { app: reviews, version: v1 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: reviews-v2, namespace: default }
spec: { address: 127.0.0.1, ports: { http: ${portOf(v2)} }, labels: { app: reviews, version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec: { host: reviews, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
    - match: [{ headers: { end-user: { exact: jason } } }]
      route: [{ destination: { host: reviews, subset: v2 } }]
    - route: [{ destination: { host: reviews, subset: v1 } }]
`).objects;
    const sidecar = new MeshProxy({ mode: 'sidecar', workload: 'productpage', namespace: 'default' });
    const result = await sidecar.apply(
      compile(buildIndex(makeSnapshot(mesh, 'v1')), {
        mode: 'sidecar',
        namespace: 'default',
        labels: { app: 'productpage' },
        outboundPort: 0,
      }),
    );
    expect(result.ok).toBe(true);
    const outbound = `127.0.0.1:${sidecar.boundPort('outbound_9080')}`;
    const page = await app('productpage', 'v1', ['http://reviews:9080'], outbound);
    const anonymous = JSON.parse((await get(portOf(page), '/p')).body);
    const jason = JSON.parse((await get(portOf(page), '/p', { 'end-user': 'jason' })).body);
    expect(anonymous.calls[0]).toMatchObject({ status: 200, service: 'reviews', version: 'v1' });
    expect(jason.calls[0]).toMatchObject({ status: 200, service: 'reviews', version: 'v2' });
    expect(sidecar.metrics.requestCount(200)).toBe(2);
    await sidecar.drain(100);
  });
});

describe('bookinfo apps: ratings over gRPC', () => {
  const STARS = { Reviewer1: 5, Reviewer2: 4 };

  test('ratings answers HTTP/1.1 and gRPC on one port: unary Get, server-streaming Watch, then HTTP again', async () => {
    const ratings = await app('ratings', 'v1');
    const c = ratingsAt(portOf(ratings));
    expect(await unary(c, { productId: 7, path: '/productpage' })).toEqual({
      err: null,
      reply: { service: 'ratings', version: 'v1', productId: 7, path: '/productpage', stars: STARS },
    });
    const watched = await stream(c, { count: 5 });
    expect(watched.code).toBe(grpc.status.OK);
    expect(watched.messages.map((m) => [m.seq, m.stars])).toEqual([1, 2, 3, 4, 5].map((seq) => [seq, STARS]));
    expect(JSON.parse((await get(portOf(ratings), '/x')).body)).toEqual({ service: 'ratings', version: 'v1', path: '/x' });
  });

  test('GRPC_PORT is a port for gRPC alone (the Kubernetes Service port named grpc); an HTTP/1.1 client there is closed', async () => {
    const grpcOnly = await freePort();
    await app('ratings', 'v1', [], undefined, grpcOnly);
    expect((await unary(ratingsAt(grpcOnly), { productId: 1 })).reply).toMatchObject({ service: 'ratings', stars: STARS });
    await expect(get(grpcOnly, '/x')).rejects.toThrow();
  });

  test('the demo knobs travel as metadata: x-bookinfo-fail gives the gRPC code of that HTTP status; Watch fails the same way', async () => {
    const ratings = await app('ratings', 'v1');
    const c = ratingsAt(portOf(ratings));
    const md = (fail: string) => {
      const m = new grpc.Metadata();
      m.set('x-bookinfo-fail', fail);
      return m;
    };
    expect((await unary(c, {}, md('ratings'))).err?.code).toBe(grpc.status.UNAVAILABLE);
    expect((await unary(c, {}, md('ratings=403'))).err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect((await unary(c, {}, md('reviews=403'))).err).toBeNull();
    const watch = await new Promise<number>((resolve) => {
      const call = c.Watch({ count: 3 }, md('ratings=503'), { deadline: Date.now() + 5000 });
      call.on('data', () => resolve(-1));
      call.on('error', (err: grpc.ServiceError) => resolve(err.code));
    });
    expect(watch).toBe(grpc.status.UNAVAILABLE);
  });

  test('reviews v2 with CALLS=grpc://… calls ratings over gRPC directly (no sidecar): the stars, and the headers as metadata', async () => {
    const ratings = await app('ratings', 'v1');
    const reviews = await app('reviews', 'v2', [`grpc://127.0.0.1:${portOf(ratings)}`]);
    const page = JSON.parse((await get(portOf(reviews), '/productpage')).body);
    expect(page).toEqual({
      service: 'reviews',
      version: 'v2',
      path: '/productpage',
      calls: [
        {
          url: `grpc://127.0.0.1:${portOf(ratings)}`,
          protocol: 'grpc',
          status: 200,
          grpcStatus: 0,
          service: 'ratings',
          version: 'v1',
          productId: 0,
          path: '/productpage',
          stars: STARS,
        },
      ],
    });
    // x-bookinfo-fail reaches ratings as metadata: reviews degrades (ratings unavailable) and still answers.
    const failed = await get(portOf(reviews), '/productpage', { 'x-bookinfo-fail': 'ratings' });
    expect(failed.status).toBe(200);
    expect(JSON.parse(failed.body).calls).toEqual([
      expect.objectContaining({
        status: 503,
        grpcStatus: grpc.status.UNAVAILABLE,
        error: expect.stringMatching(/^ratings unavailable: 14 UNAVAILABLE/),
      }),
    ]);
  });

  test('ratings down: reviews answers with ratings unavailable (503 / UNAVAILABLE), as for a failed HTTP call, and does not crash', async () => {
    const gone = await app('ratings', 'v1');
    const port = portOf(gone);
    await new Promise((r) => gone.close(r));
    const reviews = await app('reviews', 'v3', [`grpc://127.0.0.1:${port}`]);
    const page = await get(portOf(reviews), '/p');
    expect(page.status).toBe(200);
    expect(JSON.parse(page.body).calls).toEqual([
      {
        url: `grpc://127.0.0.1:${port}`,
        protocol: 'grpc',
        status: 503,
        grpcStatus: 14,
        error: expect.stringMatching(/^ratings unavailable: /),
      },
    ]);
    expect((await get(portOf(reviews), '/health')).body).toBe('ok\n');
  });

  test('with MAST_OUTBOUND the call goes to the sidecar as h2c with :authority the service host:port and :path the method', async () => {
    // A stand-in outbound listener: it records the request and answers as a proxy with no route does for gRPC (trailers-only UNAVAILABLE).
    const seen: http2.IncomingHttpHeaders[] = [];
    const outbound = http2.createServer();
    outbound.on('stream', (s, headers) => {
      seen.push(headers);
      s.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'no healthy upstream' },
        { endStream: true },
      );
    });
    await new Promise<void>((r) => outbound.listen(0, '127.0.0.1', r));
    try {
      const reviews = await app(
        'reviews',
        'v2',
        ['grpc://ratings.default.svc.cluster.local:9090'],
        `127.0.0.1:${portOf(outbound as unknown as net.Server)}`,
      );
      const page = JSON.parse((await get(portOf(reviews), '/productpage', { 'x-request-id': 'req-7', 'end-user': 'jason' })).body);
      expect(page.calls).toEqual([
        expect.objectContaining({ status: 503, grpcStatus: 14, error: 'ratings unavailable: 14 UNAVAILABLE: no healthy upstream' }),
      ]);
      expect(seen).toEqual([
        expect.objectContaining({
          ':method': 'POST',
          ':scheme': 'http',
          ':authority': 'ratings.default.svc.cluster.local:9090',
          ':path': '/bookinfo.Ratings/Get',
          'content-type': 'application/grpc',
          te: 'trailers',
          'x-request-id': 'req-7',
          'end-user': 'jason',
        }),
      ]);
    } finally {
      closeRatingsClients();
      outbound.close();
    }
  });
});
