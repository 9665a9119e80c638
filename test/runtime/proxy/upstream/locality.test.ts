/**
 * The proxy's choice among priorities and localities (Envoy's): the pure functions as tables, then
 * a Cluster picking by its config's priorities while outlier detection ejects endpoints. No sockets.
 */
import type { ClusterConfig } from '../../../../runtime/contract/proxy-config';
import { Cluster } from '../../../../runtime/proxy/upstream/cluster';
import { candidates, health, pickWeighted, priorityLevels, priorityLoad } from '../../../../runtime/proxy/upstream/locality';
import { seededRandom } from '../../../support/seeded-random';

test.each([
  { healthy: 5, total: 5, want: 100 },
  { healthy: 4, total: 5, want: 100 },
  { healthy: 3, total: 5, want: 84 },
  { healthy: 1, total: 3, want: 46 },
  { healthy: 0, total: 5, want: 0 },
  { healthy: 0, total: 0, want: 0 },
])('a level with $healthy of $total healthy has health $want % (× 1.4, capped)', ({ healthy, total, want }) => {
  expect(health(healthy, total)).toBe(want);
});

test.each([
  { healths: [100, 100, 100], load: [100, 0, 0] },
  { healths: [84, 100], load: [84, 16] },
  { healths: [0, 100, 100], load: [0, 100, 0] },
  { healths: [28, 28, 100], load: [28, 28, 44] },
  // All levels together under 100 %: scaled up to fill it (Envoy's normalized total health).
  { healths: [20, 30], load: [40, 60] },
  // 49.25 % and 50.7 % rounded down: the point left goes to the first level with healthy hosts.
  { healths: [33, 34, 0], load: [50, 50, 0] },
  { healths: [0, 0], load: [0, 0] },
])('priority load of levels with health $healths is $load', ({ healths, load }) => {
  expect(priorityLoad(healths)).toEqual(load);
  if (load.some((l) => l > 0)) expect(load.reduce((a, b) => a + b, 0)).toBe(100);
});

test.each([
  { weights: [84, 16], draw: 0, want: 0 },
  { weights: [84, 16], draw: 0.839, want: 0 },
  { weights: [84, 16], draw: 0.84, want: 1 },
  { weights: [0, 100, 0], draw: 0.999999, want: 1 },
  { weights: [0, 0], draw: 0.5, want: -1 },
])('pickWeighted($weights, $draw) = $want', ({ weights, draw, want }) => {
  expect(pickWeighted(weights, draw)).toBe(want);
});

describe('candidates: the level drawn by load, then the locality by weight × health', () => {
  const hosts = ['a1', 'a2', 'b1', 'c1'];
  const levels = priorityLevels(hosts, [0, 0, 1, 2], ['r/a', 'r/a', 'r/b', 's/c']);

  test('everything healthy: level 0 only', () => {
    expect(candidates(levels)).toEqual(['a1', 'a2']);
  });

  test('one of two ejected in level 0 (1.4 × 50 % = 70 %): 70 % stays, 30 % spills to level 1, none to level 2', () => {
    const random = seededRandom(3);
    const n = { a: 0, b: 0, c: 0 } as Record<string, number>;
    for (let i = 0; i < 20_000; i++) n[candidates(levels, (h) => h !== 'a1', random)[0][0]]++;
    expect(Math.abs(n.a / 20_000 - 0.7)).toBeLessThan(0.015);
    expect(n.c).toBe(0);
  });

  test('nothing healthy anywhere: no candidate (Istio sets no panic threshold)', () => {
    expect(candidates(levels, () => false)).toEqual([]);
  });

  test('panic below minHealthPercent: health is ignored, level 0 again', () => {
    expect(candidates(levels, () => false, Math.random, 50)).toEqual(['a1', 'a2']);
  });

  test('locality weights split level 0 by weight; an ejected locality loses its share', () => {
    const weighted = priorityLevels(['x1', 'x2', 'y1'], [0, 0, 0], ['r/x', 'r/x', 'r/y'], { 'r/x': 80, 'r/y': 20 });
    const random = seededRandom(5);
    let x = 0;
    for (let i = 0; i < 20_000; i++) if (candidates(weighted, undefined, random)[0].startsWith('x')) x++;
    expect(Math.abs(x / 20_000 - 0.8)).toBeLessThan(0.015);
    expect(candidates(weighted, (h) => !h.startsWith('x'), random)).toEqual(['y1']);
  });
});

describe('Cluster: picks by priority and fails over as outlier detection ejects', () => {
  const config: ClusterConfig = {
    name: 'outbound|5000||helloworld.sample.svc.cluster.local',
    host: 'helloworld.sample.svc.cluster.local',
    port: 5000,
    endpoints: [
      { address: '10.0.0.1', port: 5000, locality: 'region1/zone1' },
      { address: '10.0.0.2', port: 5000, locality: 'region1/zone2', priority: 1 },
      { address: '10.0.0.3', port: 5000, locality: 'region2/zone3', priority: 2 },
    ],
    lb: { kind: 'round_robin' },
    connectTimeoutMs: 1000,
    outlier: { consecutive5xx: 1, intervalMs: 1000, baseEjectionMs: 600_000, maxEjectionPercent: 100 },
  };
  const picks = (c: Cluster, n = 10) => [...new Set(Array.from({ length: n }, () => c.pick()?.config.locality))];

  test('zone1 while healthy; zone2 once zone1 is ejected; region2 once zone2 is too', () => {
    const c = new Cluster(config);
    expect(picks(c)).toEqual(['region1/zone1']);
    c.recordResult(c.endpoints[0], 503);
    expect(picks(c)).toEqual(['region1/zone2']);
    c.recordResult(c.endpoints[1], 503);
    expect(picks(c)).toEqual(['region2/zone3']);
    c.recordResult(c.endpoints[2], 503);
    expect(c.pick()).toBeUndefined();
  });

  test('a push that changes priorities re-levels the endpoints it keeps (with their ejections)', () => {
    const first = new Cluster(config);
    first.recordResult(first.endpoints[0], 503);
    const swapped = { ...config, endpoints: config.endpoints.map((e, i) => ({ ...e, priority: [1, 2, 0][i] })) };
    const second = new Cluster(swapped, first);
    expect(picks(second)).toEqual(['region2/zone3']);
    second.recordResult(second.endpoints[2], 503);
    // zone1 (now level 1) is still ejected: level 2, zone2.
    expect(picks(second)).toEqual(['region1/zone2']);
  });

  test('an ejection that ends brings its level back (the cached health plan expires with it)', () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    try {
      const c = new Cluster({ ...config, outlier: { ...config.outlier!, baseEjectionMs: 1000 } });
      c.recordResult(c.endpoints[0], 503);
      expect(picks(c)).toEqual(['region1/zone2']);
      jest.advanceTimersByTime(999);
      expect(picks(c)).toEqual(['region1/zone2']);
      jest.advanceTimersByTime(2);
      expect(picks(c)).toEqual(['region1/zone1']);
    } finally {
      jest.useRealTimers();
    }
  });

  test('locality weights with a locality ejected: its share goes to the others, and comes back when it returns', () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    try {
      const weighted = new Cluster({
        ...config,
        endpoints: config.endpoints.map(({ priority: _p, ...e }) => e),
        localityWeights: { 'region1/zone1': 50, 'region1/zone2': 50 },
        outlier: { ...config.outlier!, baseEjectionMs: 1000 },
      });
      // region2/zone3 has no weight: never picked.
      expect(picks(weighted, 200).sort()).toEqual(['region1/zone1', 'region1/zone2']);
      weighted.recordResult(weighted.endpoints[1], 503);
      expect(picks(weighted, 200)).toEqual(['region1/zone1']);
      jest.advanceTimersByTime(1001);
      expect(picks(weighted, 200).sort()).toEqual(['region1/zone1', 'region1/zone2']);
    } finally {
      jest.useRealTimers();
    }
  });

  test('without priorities or weights the cluster picks among all its endpoints, as before', () => {
    const plain = new Cluster({ ...config, endpoints: config.endpoints.map(({ priority: _p, ...e }) => e) });
    expect(picks(plain, 30).sort()).toEqual(['region1/zone1', 'region1/zone2', 'region2/zone3']);
  });
});
