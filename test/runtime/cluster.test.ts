import { Cluster, type AcquireResult } from '../../runtime/proxy/upstream/cluster';
import { backend, cluster, type Backend } from './support';

describe('upstream connection pool', () => {
  let b: Backend;
  beforeAll(async () => (b = await backend('b')));
  afterAll(() => b.close());

  const acquire = (c: Cluster) => new Promise<Extract<AcquireResult, { conn: unknown }>>((resolve, reject) => c.acquire(c.endpoints[0], (r) => ('conn' in r ? resolve(r) : reject(new Error(r.error)))));

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
});
