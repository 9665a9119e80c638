/** compile(index, proxy) end to end on the local fixture mesh, and the CompileCache contract. */
import { validate } from '../../api';
import { CompileCache, CompileCacheMismatchError, buildIndex, compile, configFor, makeSnapshot } from '../../runtime/compile';
import { simulate } from '../../runtime/proxy/simulate';
import { localMesh } from '../fixtures/local-mesh';

const PORTS = { reviewsV1: 19001, reviewsV2: 19002, details: 19003 };
const GATEWAY = { mode: 'gateway' as const, namespace: 'mast-system', labels: { istio: 'ingressgateway' }, portMap: { 80: 8080 } };

describe('compile → simulate', () => {
  const objects = localMesh(PORTS);
  const config = compile(buildIndex(makeSnapshot(objects, 'v1')), GATEWAY);
  const at = (host: string, path = '/', headers?: Record<string, string>, random = 0) =>
    simulate(config, { port: 80, host, path, headers }, random);

  test('the fixture mesh is valid', () => {
    expect(validate(objects, { defaultIngressGateway: true }).filter((f) => f.severity === 'Error')).toEqual([]);
  });

  test('a gateway listener per Gateway port, listening on the mapped port', () => {
    expect(config.listeners.map((l) => [l.name, l.port, l.matchPort])).toEqual([['0.0.0.0_80', 8080, 80]]);
  });

  test('header route: end-user jason → reviews v2', () => {
    expect(at('alpha.example.com', '/', { 'end-user': 'jason' })).toMatchObject({
      outcome: 'routed',
      route: 'jason',
      cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local',
      endpoints: ['127.0.0.1:19002'],
    });
  });

  test('weights: the canary sends weight/sum to each subset', () => {
    expect(at('alpha.example.com', '/', {}, 0.89)).toMatchObject({ cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local' });
    expect(at('alpha.example.com', '/', {}, 0.91)).toMatchObject({ cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local' });
  });

  test('prefix match with rewrite, redirect, unknown host', () => {
    expect(at('alpha.example.com', '/details/1')).toMatchObject({
      route: 'details',
      action: { kind: 'forward', rewrite: { uriPrefix: '/api/details' } },
      endpoints: ['127.0.0.1:19003'],
    });
    expect(at('alpha.example.com', '/old')).toMatchObject({ route: 'old', action: { kind: 'redirect', uri: '/new', status: 302 } });
    expect(at('beta.example.com')).toEqual({ outcome: 'no-route', listener: '0.0.0.0_80' });
  });

  test('clusters carry the DestinationRule policy and the subset endpoints', () => {
    const v1 = config.clusters.find((c) => c.name === 'outbound|9080|v1|reviews.default.svc.cluster.local')!;
    expect(v1.lb).toEqual({ kind: 'round_robin' });
    expect(v1.endpoints).toEqual([
      expect.objectContaining({ address: '127.0.0.1', port: 19001, labels: { app: 'reviews', version: 'v1' } }),
    ]);
    expect(config.clusters.find((c) => c.name.endsWith('|details.default.svc.cluster.local'))!.lb).toEqual({ kind: 'least_request' });
  });

  test('consistentHash on an httpCookie carries its ttl and path (the proxy makes the cookie for clients without one)', () => {
    const rule = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'details', namespace: 'default' },
      spec: {
        host: 'details',
        trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: 'user', ttl: '1h', path: '/' } } } },
      },
    };
    const withCookie = compile(buildIndex(makeSnapshot([...objects, rule as (typeof objects)[number]], 'v2')), GATEWAY);
    expect(withCookie.clusters.find((c) => c.name.endsWith('|details.default.svc.cluster.local'))!.lb).toEqual({
      kind: 'hash',
      cookie: 'user',
      cookieTtlMs: 3_600_000,
      cookiePath: '/',
    });
  });

  test('a sidecar sees every service by its short and long names, with default routes', () => {
    const sidecar = compile(buildIndex(makeSnapshot(objects, 'v1')), {
      mode: 'sidecar',
      namespace: 'default',
      labels: { app: 'productpage' },
      outboundPort: 15001,
    });
    for (const host of ['details', 'details:9080', 'details.default', 'details.default.svc.cluster.local'])
      expect(simulate(sidecar, { port: 9080, host })).toMatchObject({
        outcome: 'routed',
        cluster: 'outbound|9080||details.default.svc.cluster.local',
      });
  });

  test('inbound: to the app port in mast local; in a pod, to whatever port each connection was sent to', () => {
    const local = compile(buildIndex(makeSnapshot(objects, 'v1')), {
      mode: 'sidecar',
      namespace: 'default',
      labels: {},
      inbound: { port: 31000, appPort: 19001 },
    });
    expect(local.listeners.at(-1)).toMatchObject({ name: 'virtualInbound', port: 31000, matchPort: 19001 });
    expect(local.clusters.find((c) => c.name === 'inbound|19001||')).toMatchObject({ endpoints: [{ address: '127.0.0.1', port: 19001 }] });
    const pod = compile(buildIndex(makeSnapshot(objects, 'v1')), {
      mode: 'sidecar',
      namespace: 'default',
      labels: {},
      inbound: { port: 15006 },
    });
    expect(pod.listeners.at(-1)).toMatchObject({ name: 'virtualInbound', port: 15006 });
    expect(pod.clusters.find((c) => c.name === 'inbound|passthrough||')).toMatchObject({
      host: '127.0.0.1',
      endpoints: [],
      lb: { kind: 'passthrough' },
    });
  });
});

describe('CompileCache', () => {
  const index = buildIndex(makeSnapshot(localMesh(PORTS), 'v1'));
  const sidecar = (app: string) => ({ mode: 'sidecar' as const, namespace: 'default', labels: { app }, outboundPort: 15001 });

  test('configs compiled with one cache share their outbound parts, and equal what a fresh cache compiles', () => {
    const cache = new CompileCache(index);
    const a = compile(index, sidecar('productpage'), cache);
    const b = compile(index, sidecar('ratings'), cache);
    expect(a.clusters).toBe(b.clusters);
    expect(a.listeners[0].virtualHosts).toBe(b.listeners[0].virtualHosts);
    expect(JSON.stringify(a)).toBe(JSON.stringify(compile(index, sidecar('productpage'))));
  });

  test('configFor: one config object per equivalence key', () => {
    const cache = new CompileCache(index);
    expect(configFor(cache, sidecar('productpage'))).toBe(configFor(cache, { ...sidecar('ratings'), serviceAccount: 'ratings' }));
    expect(configFor(cache, GATEWAY)).not.toBe(configFor(cache, sidecar('productpage')));
  });

  test("a cache of another index is refused (its parts are another snapshot's)", () => {
    const other = buildIndex(makeSnapshot(localMesh(PORTS), 'v2'));
    expect(() => compile(other, GATEWAY, new CompileCache(index))).toThrow(CompileCacheMismatchError);
    expect(() => compile(other, GATEWAY, new CompileCache(index))).toThrow(
      expect.objectContaining({ code: 'MAST_COMPILE_CACHE_MISMATCH' }),
    );
  });
});
