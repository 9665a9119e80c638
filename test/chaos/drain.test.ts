/**
 * SIGTERM under keep-alive load, as Kubernetes stops a gateway pod: the proxy (the bundle, in its
 * own process) turns its readiness false, keeps accepting for the drain period, tells each client
 * `Connection: close` on its next response, and finishes what is in flight. No client sees an
 * error while the period lasts. Bounded: 8 clients, at most 1.2 s of requests.
 */
import * as http from 'node:http';
import { cluster, config, forward, stoppedAfterEach, until } from '../support/proxy';
import { bundleProxy, spawnProxy } from '../security/spawned-proxy';
import { keepAliveClient, type KeepAliveOutcome, quantile } from './load';
import { record } from './report';

const { withBackend, stopAfter } = stoppedAfterEach();

const readiness = (admin: number) =>
  new Promise<number>((resolve) => {
    http
      .get({ host: '127.0.0.1', port: admin, path: '/healthz/ready', agent: false }, (res) => (res.resume(), resolve(res.statusCode!)))
      .on('error', () => resolve(0));
  });

describe('drain on SIGTERM', () => {
  test('keep-alive clients see no error during the drain period; each is told to close; in-flight requests finish', async () => {
    const backend = await withBackend('b', (req, res) => {
      // One slow request, in flight across the SIGTERM.
      if (req.url === '/slow') setTimeout(() => res.end('slow done'), 700);
      else res.end('ok');
    });
    const proxy = await spawnProxy(
      await bundleProxy(),
      config([forward('c', { retries: { attempts: 0, retryOn: [] } })], [cluster('c', [backend.port])]),
      ['--drain-seconds', '1.5'],
    );
    stopAfter(() => proxy.stop());
    const port = proxy.port('l');
    const admin = Number(/admin (\d+)/.exec(proxy.stderr())![1]);
    expect(await readiness(admin)).toBe(200);

    const out: KeepAliveOutcome = { ok: 0, closeSaid: 0, errors: [], latencies: [] };
    const t0 = Date.now();
    const clients = Array.from({ length: 8 }, () =>
      keepAliveClient(
        () => port,
        () => '/',
        t0 + 1200,
        out,
      ),
    );
    const slow = new Promise<string>((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path: '/slow', agent: false, headers: { host: 'alpha.example.com' } }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        })
        .on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code}`));
    });
    // SIGTERM once the clients are being served over their connections and /slow is in flight.
    await until('answers to the clients and /slow at the backend', () => out.ok >= 8 && backend.seen.some((s) => s.url === '/slow'), 1000);
    const before = out.ok;
    proxy.child.kill('SIGTERM');
    await until('readiness to say 503 after the SIGTERM', async () => (await readiness(admin)) === 503, 1000);
    await Promise.all(clients);
    const slowAnswer = await slow;
    record({
      scenario: 'SIGTERM drain under 8 keep-alive clients',
      requests: out.ok + out.errors.length + 1,
      failed: out.errors.length + (slowAnswer === '200 slow done' ? 0 : 1),
      p99Ms: quantile(out.latencies, 0.99),
      durationS: 1.2,
    });
    expect(slowAnswer).toBe('200 slow done');
    expect(out.errors).toEqual([]);
    expect(before).toBeGreaterThan(0);
    expect(out.ok).toBeGreaterThan(before);
    // Every response after the SIGTERM said close: each client's connection was replaced at least once.
    expect(out.closeSaid).toBeGreaterThanOrEqual(8);
  });
});
