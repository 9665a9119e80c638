import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadYaml } from '../../api';
import { startApp } from '../../examples/bookinfo/app/server';
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';
import { MeshProxy } from '../../runtime/proxy/mesh-proxy';
import { get } from '../runtime/support';

const servers: http.Server[] = [];
const portOf = (s: http.Server) => (s.address() as AddressInfo).port;
async function app(service: string, version: string, calls: string[] = [], outbound?: string) {
  const s = await startApp({ service, version, port: 0, calls, outbound, host: '127.0.0.1' });
  servers.push(s);
  return s;
}
afterAll(() => servers.forEach((s) => s.close()));

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
