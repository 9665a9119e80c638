/**
 * gRPC through the bundled example run by `mast local` (issue #22's example): a client's calls of
 * `bookinfo.Ratings` through the gateway (HTTP/2 with prior knowledge on its HTTP port, routed by
 * `:path` prefix), and reviews v2 calling ratings over gRPC through two sidecars with mTLS, as
 * Istio's metrics count it (`grpc_response_status`). Real processes on loopback.
 */
import * as grpc from '@grpc/grpc-js';
import { RatingsClient } from '../../examples/bookinfo/app/ratings-client';
import { LocalAdmin } from '../../runtime/local/admin';
import { until } from '../support/poll';
import { adminOf, request, requestsOn, startExample, type Running } from './support';

/** The gRPC message counters of one proxy (its admin port), summed over its series. */
async function messagesOn(adminPort: number): Promise<{ request: number; response: number }> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/stats/prometheus`)).text();
  const sum = (family: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${family}{`))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  return { request: sum('istio_request_messages_total'), response: sum('istio_response_messages_total') };
}

const STARS = { Reviewer1: 5, Reviewer2: 4 };

let mesh: Running;
let client: InstanceType<typeof RatingsClient>;
beforeAll(async () => {
  mesh = await startExample();
  // The gateway's HTTP port, with the Gateway's host as :authority (what `-authority` of grpcurl sets).
  client = new RatingsClient(`127.0.0.1:${mesh.port}`, grpc.credentials.createInsecure(), {
    'grpc.default_authority': 'alpha.example.com',
    'grpc.enable_http_proxy': 0,
  });
}, 60_000);
afterAll(async () => {
  client?.close();
  await mesh?.stop();
});

const deadline = () => Date.now() + 10_000;

function get(request: object): Promise<{ err: grpc.ServiceError | null; reply?: Record<string, unknown> }> {
  return new Promise((resolve) =>
    client.Get(request, new grpc.Metadata(), { deadline: deadline() }, (err: grpc.ServiceError | null, reply?: Record<string, unknown>) =>
      resolve({ err, reply }),
    ),
  );
}

function watch(request: object): Promise<{ messages: Array<Record<string, unknown>>; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    const messages: Array<Record<string, unknown>> = [];
    const call = client.Watch(request, { deadline: deadline() });
    call.on('data', (m: Record<string, unknown>) => messages.push(m));
    // A failed call emits 'error' and then 'status'; the status is what is asserted.
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => resolve({ messages, status }));
  });
}

describe('mast local: gRPC through the gateway and the sidecars (needs HTTP/2 in mast-proxy and the compiler)', () => {
  test('a unary call through the gateway reaches ratings (route by :path /bookinfo.Ratings/)', async () => {
    const { err, reply } = await get({ productId: 3, path: '/grpc' });
    expect(err?.message ?? null).toBeNull();
    expect(reply).toEqual({ service: 'ratings', version: 'v1', productId: 3, path: '/grpc', stars: STARS });
  });

  test('a server-streaming call through the gateway: every message in order, then OK', async () => {
    const { messages, status } = await watch({ count: 20 });
    expect(status.code === grpc.status.OK ? '' : `${status.code} ${status.details}`).toBe('');
    expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(messages.every((m) => m.service === 'ratings')).toBe(true);
  });

  test("the gateway counts the streaming call's messages: one from the client, twenty from the server (Istio's message counters)", async () => {
    const admin = mesh.mesh.gatewayAdminPort;
    const before = await messagesOn(admin);
    const { messages } = await watch({ count: 20 });
    expect(messages).toHaveLength(20);
    await until('the call counted', async () => (await messagesOn(admin)).response >= before.response + 20);
    const after = await messagesOn(admin);
    expect(after.request - before.request).toBe(1);
    expect(after.response - before.response).toBe(20);
  });

  test('productpage → reviews v2 → ratings over gRPC, sidecar to sidecar with mTLS: the page shows the stars', async () => {
    const page = await request(mesh.port, '/productpage', { 'end-user': 'jason' });
    expect(page.status).toBe(200);
    const reviews = page.body.calls?.find((c) => c.service === 'reviews');
    expect(reviews).toMatchObject({ status: 200, version: 'v2' });
    expect(reviews?.calls).toEqual([
      expect.objectContaining({ protocol: 'grpc', status: 200, grpcStatus: 0, service: 'ratings', stars: STARS }),
    ]);
  });

  test('ratings\' sidecar counts the gRPC calls with grpc_response_status="0"; reviews\' with the same from the source side', async () => {
    await request(mesh.port, '/productpage', { 'end-user': 'jason' });
    const ratings = adminOf(mesh.mesh, 'ratings-v1');
    expect(await requestsOn(ratings, { reporter: 'destination', grpc_response_status: '0' })).toBeGreaterThan(0);
    expect(
      await requestsOn(adminOf(mesh.mesh, 'reviews-v2'), {
        reporter: 'source',
        destination_service_name: 'ratings',
        grpc_response_status: '0',
      }),
    ).toBeGreaterThan(0);
    // Only gRPC reaches ratings in this mesh, and its sidecar took it over mTLS.
    expect(await (await fetch(`http://127.0.0.1:${ratings}/stats/prometheus`)).text()).toMatch(/mast_inbound_mtls_connections_total [1-9]/);
  });

  test('the graph page shows the reviews v2 → ratings v1 edge as gRPC', async () => {
    const admin = new LocalAdmin(mesh.mesh);
    const url = `http://127.0.0.1:${await admin.listen(0)}`;
    try {
      await request(mesh.port, '/productpage', { 'end-user': 'jason' });
      const graph = (await (await fetch(`${url}/api/graph`)).json()) as {
        edges: Array<{ source: string; destination: string; protocol?: string }>;
      };
      expect(graph.edges.find((e) => e.source === 'reviews v2' && e.destination === 'ratings v1')).toMatchObject({ protocol: 'grpc' });
      expect(await (await fetch(`${url}/`)).text()).toMatch(
        /data-source="reviews v2" data-destination="ratings v1" data-protocol="grpc">.*?>grpc · /,
      );
    } finally {
      await admin.close();
    }
  });
});
