import { Cluster, type AcquireResult } from '../../../../runtime/proxy/upstream/cluster';
import { backend, cluster, type Backend } from '../../../support/proxy';

describe('upstream connection pool', () => {
  let b: Backend;
  beforeAll(async () => (b = await backend('b')));
  afterAll(() => b.close());

  const acquire = (c: Cluster) =>
    new Promise<Extract<AcquireResult, { conn: unknown }>>((resolve, reject) =>
      c.acquire(c.endpoints[0], (r) => ('conn' in r ? resolve(r) : reject(new Error(r.error)))),
    );

  test('a connection paused by a finished exchange (slow or gone client) is resumed before it is reused', async () => {
    const c = new Cluster(cluster('b', [b.port], { maxConnections: 1 }));
    const first = await acquire(c);
    first.conn.socket.pause();
    // The next request waits for the only connection, and gets it readable.
    const next = acquire(c);
    c.release(first.endpoint, first.conn, true);
    const second = await next;
    expect(second.conn).toBe(first.conn);
    expect(second.conn.socket.isPaused()).toBe(false);
    second.conn.socket.pause();
    c.release(second.endpoint, second.conn, true);
    expect((await acquire(c)).conn.socket.isPaused()).toBe(false);
    c.close();
    first.conn.socket.destroy();
  });

  test('an ejection lasts its time whatever the wall clock does (NTP steps forward or back)', () => {
    const c = new Cluster(
      cluster('b', [b.port, b.port + 1], {
        outlier: { consecutive5xx: 1, intervalMs: 1000, baseEjectionMs: 30_000, maxEjectionPercent: 100 },
      }),
    );
    const [bad, good] = c.endpoints;
    c.recordResult(bad, 503);
    const realNow = Date.now();
    const picked = () => new Set(Array.from({ length: 8 }, () => c.pick()?.key));
    try {
      for (const step of [0, 3_600_000, -3_600_000]) {
        jest.spyOn(Date, 'now').mockReturnValue(realNow + step);
        expect(picked()).toEqual(new Set([good.key]));
      }
    } finally {
      jest.restoreAllMocks();
      c.close();
    }
  });

  test('PASSTHROUGH: each connection goes to its original destination, an endpoint made per destination and forgotten once unused', async () => {
    // An inbound passthrough cluster has a host (the app's address); one outside the mesh has none.
    const inbound = new Cluster(cluster('inbound|passthrough||', [], { host: '127.0.0.1', lb: { kind: 'passthrough' } }));
    expect(inbound.pick({})).toBeUndefined(); // no original destination, nowhere to go
    const e = inbound.pick({ originalPort: b.port, originalAddress: '10.9.9.9' })!;
    expect(e.key).toBe(`127.0.0.1:${b.port}`);
    expect(inbound.pick({ originalPort: b.port })).toBe(e);
    const got = await new Promise<AcquireResult>((resolve) => inbound.acquire(e, resolve));
    expect('conn' in got && got.endpoint).toBe(e);
    if ('conn' in got) {
      got.conn.socket.destroy();
      // The endpoint is unused once its connection has closed, not when destroy() returns.
      await new Promise((r) => got.conn.socket.once('close', r));
    }
    inbound.sweep(performance.now());
    expect(inbound.endpoints).toEqual([]);

    const outside = new Cluster(cluster('PassthroughCluster', [], { host: '', lb: { kind: 'passthrough' } }));
    expect(outside.pick({ originalPort: 443, originalAddress: '93.184.216.34' })!.key).toBe('93.184.216.34:443');
    expect(outside.pick({ originalPort: 443 })).toBeUndefined();
    inbound.close();
    outside.close();
  });
});
