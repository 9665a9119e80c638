/**
 * Locality load balancing, compiled for a proxy and then picked as the proxy picks (its pure
 * priority and locality choice, runtime/proxy/upstream/locality.ts): helloworld in several
 * localities, as Istio's locality-load-balancing tasks set it up, and a client in each.
 */
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';
import { candidates, priorityLevels } from '../../runtime/proxy/upstream/locality';
import { seededRandom } from '../support/seeded-random';
import { CLUSTER, FAILOVER, FOUR, client, clusterFor, mesh, picks } from './locality-mesh';
import { meshOf } from './simulation';

describe('failover: traffic stays in the client locality and spills as its endpoints are ejected', () => {
  const c = clusterFor(mesh(FOUR, FAILOVER), client('region1/zone1'));

  test("priorities as Istio's failover task lists them for a client in region1/zone1 (compacted: no sub-zone level)", () => {
    expect(Object.fromEntries(c.endpoints.map((e) => [e.locality, e.priority ?? 0]))).toEqual({
      'region1/zone1': 0,
      'region1/zone2': 1,
      'region2/zone3': 2,
      'region3/zone4': 3,
    });
  });

  test.each([
    { down: [], to: 'region1/zone1' },
    { down: ['region1/zone1'], to: 'region1/zone2' },
    { down: ['region1/zone1', 'region1/zone2'], to: 'region2/zone3' },
    { down: ['region1/zone1', 'region1/zone2', 'region2/zone3'], to: 'region3/zone4' },
    { down: FOUR, to: 'none' },
  ])('with $down ejected every request goes to $to', ({ down, to }) => {
    expect(picks(c, 2000, down)).toEqual({ [to]: 2000 });
  });

  test('a client in region2 prefers region2; region1 and region3 have no failover rule from region2 and share the last level', () => {
    const r2 = clusterFor(mesh(FOUR, FAILOVER), client('region2/zone3'));
    expect(Object.fromEntries(r2.endpoints.map((e) => [e.locality, e.priority ?? 0]))).toEqual({
      'region1/zone1': 1,
      'region1/zone2': 1,
      'region2/zone3': 0,
      'region3/zone4': 1,
    });
  });

  test('the failover region map: from region1 the named region2 comes before region3, whatever the order', () => {
    const toRegion3 = FAILOVER.replace('to: region2', 'to: region3');
    const c3 = clusterFor(mesh(FOUR, toRegion3), client('region1/zone1'));
    expect(c3.endpoints.find((e) => e.locality === 'region3/zone4')?.priority).toBe(2);
    expect(c3.endpoints.find((e) => e.locality === 'region2/zone3')?.priority).toBe(3);
  });

  test("zones without a region (Istio's single-cluster-lb page): the other zones share one level; failover names regions, so a zone there changes nothing", () => {
    const zonesOnly = ['/us-south10', '/us-south12', '/us-south13'];
    const c10 = clusterFor(
      mesh(zonesOnly, FAILOVER.replace('from: region1, to: region2', 'from: us-south10, to: us-south12')),
      client('/us-south10'),
    );
    expect(c10.endpoints.map((e) => [e.locality, e.priority ?? 0])).toEqual([
      ['/us-south10', 0],
      ['/us-south12', 1],
      ['/us-south13', 1],
    ]);
  });

  test('localities from topology labels (no spec.locality) order the same', () => {
    const byLabels = clusterFor(mesh(FOUR, FAILOVER, '', true), client('region1/zone1'));
    expect(byLabels.endpoints.map((e) => [e.locality, e.priority ?? 0])).toEqual(c.endpoints.map((e) => [e.locality, e.priority ?? 0]));
  });
});

describe('spill by the overprovisioning factor (1.4) when a level is partly ejected', () => {
  // Five endpoints in zone1, five in zone2; zone1 client.
  const ten = [...Array(5).fill('region1/zone1'), ...Array(5).fill('region1/zone2')];
  const c = clusterFor(mesh(ten, FAILOVER), client('region1/zone1'));
  const levels = priorityLevels(
    c.endpoints,
    c.endpoints.map((e) => e.priority ?? 0),
    c.endpoints.map((e) => e.locality ?? ''),
  );
  const share = (ejected: number) => {
    const out = new Set(c.endpoints.filter((e) => e.locality === 'region1/zone1').slice(0, ejected));
    const random = seededRandom(11);
    let zone1 = 0;
    for (let i = 0; i < 20_000; i++) if (candidates(levels, (e) => !out.has(e), random)[0]?.locality === 'region1/zone1') zone1++;
    return zone1 / 20_000;
  };

  test.each([
    { ejected: 0, zone1: 1 },
    // 4 of 5 healthy: 1.4 × 80 % = 112 %, capped at 100: nothing spills.
    { ejected: 1, zone1: 1 },
    // 3 of 5: 1.4 × 60 % = 84 %: 16 % spills to zone2.
    { ejected: 2, zone1: 0.84 },
    // 1 of 5: 28 % stays.
    { ejected: 4, zone1: 0.28 },
    { ejected: 5, zone1: 0 },
  ])('$ejected of zone1’s five ejected: zone1 keeps $zone1 of the requests', ({ ejected, zone1 }) => {
    expect(Math.abs(share(ejected) - zone1)).toBeLessThan(0.015);
  });
});

describe('distribute: per-locality weights for clients of a from locality', () => {
  const THREE = ['region1/zone1', 'region1/zone2', 'region2/zone3'];
  const DISTRIBUTE = `    loadBalancer:
      localityLbSetting:
        enabled: true
        distribute:
        - from: region1/zone1/*
          to: { "region1/zone1/*": 80, "region1/zone2/*": 20 }
    outlierDetection: { consecutive5xxErrors: 100, interval: 1s, baseEjectionTime: 1m }`;

  test('80/20 from region1/zone1 over 20,000 picks of a seeded random; region2 gets none', () => {
    const c = clusterFor(mesh(THREE, DISTRIBUTE), client('region1/zone1'));
    expect(c.localityWeights).toEqual({ 'region1/zone1': 80, 'region1/zone2': 20 });
    const got = picks(c, 20_000);
    expect(Object.keys(got).sort()).toEqual(['region1/zone1', 'region1/zone2']);
    expect(Math.abs(got['region1/zone1'] / 20_000 - 0.8)).toBeLessThan(0.015);
  });

  test("the task's table (70 zone1, 20 zone2, 10 to region3 which has no endpoint here): 7 to 2 between the zones", () => {
    const task = DISTRIBUTE.replace(
      '"region1/zone1/*": 80, "region1/zone2/*": 20',
      '"region1/zone1/*": 70, "region1/zone2/*": 20, "region3/zone4/*": 10',
    );
    const got = picks(clusterFor(mesh(THREE, task), client('region1/zone1')), 18_000);
    expect(Math.abs(got['region1/zone1'] / 18_000 - 7 / 9)).toBeLessThan(0.015);
    expect(got['region2/zone3']).toBeUndefined();
  });

  test('a client no from covers keeps the plain cluster (every locality, no weights)', () => {
    const c = clusterFor(mesh(THREE, DISTRIBUTE), client('region2/zone3'));
    expect(c.localityWeights).toBeUndefined();
    expect(c.endpoints).toHaveLength(3);
  });

  test('a weight over a wildcard is split between the localities it matches by their endpoints (rounded up)', () => {
    const policy = DISTRIBUTE.replace('"region1/zone1/*": 80, "region1/zone2/*": 20', '"region1/*": 30, "region2/*": 70');
    const c = clusterFor(mesh(['region1/zone1', 'region1/zone1', 'region1/zone2', 'region2/zone3'], policy), client('region1/zone1'));
    expect(c.localityWeights).toEqual({ 'region1/zone1': 20, 'region1/zone2': 10, 'region2/zone3': 70 });
  });
});

describe('which setting applies', () => {
  const THREE = ['region1/zone1', 'region1/zone2', 'region2/zone3'];
  const MESH_CONFIG = (setting: string) => `---
apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    localityLbSetting: ${setting}`;
  const priorities = (yaml: string, proxy = client('region1/zone1')) => clusterFor(yaml, proxy).endpoints.map((e) => e.priority ?? 0);

  const OUTLIER = '    outlierDetection: { consecutive5xxErrors: 1 }';
  const MESH_OFF = MESH_CONFIG('{ enabled: false }');
  const ruleSays = (enabled: boolean) => `    loadBalancer: { localityLbSetting: { enabled: ${enabled} } }\n${OUTLIER}`;

  // Each row: the case, the DestinationRule's trafficPolicy, the mesh config, the priorities it gives the three localities.
  test.each([
    ["outlier detection alone (Istio's mesh default enabled: true)", OUTLIER, '', [0, 1, 2]],
    ['no outlier detection: no failover, all one level', '    loadBalancer: { simple: ROUND_ROBIN }', '', [0, 0, 0]],
    ['the mesh turns it off', OUTLIER, MESH_OFF, [0, 0, 0]],
    ["the rule's enabled: false turns it off", ruleSays(false), '', [0, 0, 0]],
    ["the rule's setting over the mesh's off", ruleSays(true), MESH_OFF, [0, 1, 2]],
  ] as const)('%s', (_name, policy, meshConfig, want) => {
    expect(priorities(mesh(THREE, policy, meshConfig))).toEqual(want);
  });

  test('a proxy without locality, or a mesh without localities, gets the shared cluster unchanged', () => {
    const yaml = mesh(THREE, '    outlierDetection: { consecutive5xxErrors: 1 }');
    const index = buildIndex(makeSnapshot(meshOf(yaml), 'v1'));
    const plain = compile(index, client()).clusters.find((x) => x.name === CLUSTER)!;
    expect(plain.endpoints.map((e) => e.priority)).toEqual([undefined, undefined, undefined]);
  });

  test('a per-port setting applies to its port only', () => {
    const policy = `    outlierDetection: { consecutive5xxErrors: 1 }
    portLevelSettings:
    - port: { number: 5000 }
      loadBalancer: { localityLbSetting: { enabled: false } }`;
    expect(priorities(mesh(THREE, policy))).toEqual([0, 0, 0]);
  });
});

describe('failoverPriority: by labels, in order', () => {
  const LABELLED = `    loadBalancer:
      localityLbSetting:
        failoverPriority: [topology.kubernetes.io/region, topology.kubernetes.io/zone, tier]
    outlierDetection: { consecutive5xxErrors: 1 }`;

  test('the more of the first labels an endpoint shares with the client (its locality as topology labels, then tier), the earlier', () => {
    const yaml = mesh(['region1/zone1', 'region1/zone2', 'region2/zone3'], LABELLED);
    expect(
      clusterFor(yaml, client('region1/zone2', { app: 'sleep', tier: 'gold' })).endpoints.map((e) => [e.locality, e.priority ?? 0]),
    ).toEqual([
      ['region1/zone1', 1],
      ['region1/zone2', 0],
      ['region2/zone3', 2],
    ]);
  });

  test('a key=value entry compares the endpoints with that value, not the client’s', () => {
    const pinned = LABELLED.replace('[topology.kubernetes.io/region,', '[topology.kubernetes.io/region=region2,');
    const yaml = mesh(['region1/zone1', 'region1/zone2', 'region2/zone3'], pinned);
    expect(clusterFor(yaml, client('region1/zone1')).endpoints.map((e) => e.priority ?? 0)).toEqual([1, 1, 0]);
  });
});
