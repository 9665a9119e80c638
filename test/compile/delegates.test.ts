/** VirtualService delegation: a root's route stands for a delegate's routes, each match within the root's. */
import { validate, type KubeObject } from '../../api';
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';
import { mergeMatch } from '../../runtime/compile/delegates';
import { simulate } from '../../runtime/proxy/simulate';
import { localMesh } from '../fixtures/local-mesh';

const GATEWAY = { mode: 'gateway' as const, namespace: 'mast-system', labels: { istio: 'ingressgateway' }, portMap: { 80: 8080 } };

const vs = (name: string, spec: object, namespace = 'default'): KubeObject =>
  ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace }, spec }) as KubeObject;

// The fixture's gateway, reviews (v1, v2) and details; its own edge VirtualService replaced by a root that delegates.
const ROOT = vs('edge', {
  hosts: ['alpha.example.com'],
  gateways: ['edge'],
  http: [
    { name: 'reviews', match: [{ uri: { prefix: '/reviews' } }], delegate: { name: 'reviews-routes' } },
    { name: 'rest', route: [{ destination: { host: 'details' } }] },
  ],
});
const CHILD = vs('reviews-routes', {
  http: [
    {
      name: 'v2',
      match: [{ uri: { prefix: '/reviews/v2' } }, { uri: { prefix: '/other' } }],
      route: [{ destination: { host: 'reviews', subset: 'v2' } }],
    },
    {
      name: 'jason',
      match: [{ headers: { 'end-user': { exact: 'jason' } } }],
      route: [{ destination: { host: 'reviews', subset: 'v2' } }],
    },
    { name: 'v1', route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
  ],
});

function mesh(...extra: KubeObject[]): KubeObject[] {
  return [
    ...localMesh({ reviewsV1: 19001, reviewsV2: 19002, details: 19003 }).filter(
      (o) => !(o.kind === 'VirtualService' && o.metadata.name === 'edge'),
    ),
    ...extra,
  ];
}

describe('at the gateway', () => {
  const config = compile(buildIndex(makeSnapshot(mesh(ROOT, CHILD), 'v1')), GATEWAY);
  const at = (path: string, headers?: Record<string, string>) =>
    simulate(config, { port: 80, host: 'alpha.example.com', path, headers }, 0);

  test('the valid mesh has no errors', () => {
    expect(validate(mesh(ROOT, CHILD), { defaultIngressGateway: true }).filter((f) => f.severity === 'Error')).toEqual([]);
  });

  test("the delegate's routes answer under the root's prefix, in its order", () => {
    expect(at('/reviews/v2/1')).toMatchObject({ route: 'reviews-v2', cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local' });
    expect(at('/reviews/1', { 'end-user': 'jason' })).toMatchObject({
      route: 'reviews-jason',
      cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local',
    });
    expect(at('/reviews/1')).toMatchObject({ route: 'reviews-v1', cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local' });
  });

  test("a child match outside the root's is dropped; what the root does not cover goes on to its next route", () => {
    expect(at('/other')).toMatchObject({ route: 'rest', cluster: 'outbound|9080||details.default.svc.cluster.local' });
    // The jason route holds only within /reviews.
    expect(at('/', { 'end-user': 'jason' })).toMatchObject({ route: 'rest' });
  });

  test('a missing delegate, or one not exported to the root, routes nothing there', () => {
    const hidden = vs('reviews-routes', { ...(CHILD.spec as object), exportTo: ['.'] }, 'shop');
    const root = vs('edge', {
      ...(ROOT.spec as object),
      http: [{ name: 'reviews', match: [{ uri: { prefix: '/reviews' } }], delegate: { name: 'reviews-routes', namespace: 'shop' } }],
    });
    const c = compile(buildIndex(makeSnapshot(mesh(root, hidden), 'v1')), GATEWAY);
    expect(simulate(c, { port: 80, host: 'alpha.example.com', path: '/reviews/1' }, 0)).toMatchObject({ outcome: 'no-route' });
  });
});

describe('merging a match', () => {
  test('conditions add up; the narrower uri wins', () => {
    expect(
      mergeMatch(
        { uri: { prefix: '/a' }, headers: { x: { exact: '1' } } },
        { uri: { exact: '/a/b' }, method: { exact: 'GET' }, headers: { y: { exact: '2' } } },
      ),
    ).toEqual({
      uri: { exact: '/a/b' },
      method: { exact: 'GET' },
      headers: { x: { exact: '1' }, y: { exact: '2' } },
    });
  });

  test('contradictions: another uri, method, port, header value, or no gateway in common', () => {
    expect(mergeMatch({ uri: { prefix: '/a' } }, { uri: { prefix: '/b' } })).toBeUndefined();
    expect(mergeMatch({ uri: { exact: '/a' } }, { uri: { prefix: '/a' } })).toBeUndefined();
    expect(mergeMatch({ method: { exact: 'GET' } }, { method: { exact: 'POST' } })).toBeUndefined();
    expect(mergeMatch({ port: 80 }, { port: 8080 })).toBeUndefined();
    expect(mergeMatch({ headers: { x: { exact: '1' } } }, { headers: { x: { exact: '2' } } })).toBeUndefined();
    expect(mergeMatch({ gateways: ['a'] }, { gateways: ['b'] })).toBeUndefined();
  });
});

describe('validation', () => {
  const errors = (...objs: KubeObject[]) =>
    validate(objs, { scope: 'resource' })
      .filter((f) => f.severity === 'Error')
      .map((f) => [f.code, f.path]);

  test('a delegate has no hosts, no gateways, and does not delegate again', () => {
    expect(errors(CHILD)).toEqual([]);
    expect(errors(vs('d', { gateways: ['edge'], http: [{ route: [{ destination: { host: 'a' } }] }] }))).toEqual([
      ['MAST0004', 'spec.gateways'],
    ]);
    expect(errors(vs('d', { http: [{ delegate: { name: 'e' } }] }))).toEqual([['MAST0004', 'spec.http[0].delegate']]);
  });
});
