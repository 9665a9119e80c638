/**
 * A config push that removes the listener clients are using, under keep-alive load, as a Gateway
 * whose port moves: the new port is bound, the old one drained. Requests in flight on the old port
 * (one of them slow, across the push) finish, each told `Connection: close`, and the clients carry
 * on on the new port. Nothing fails. Bounded: 8 clients, 1.2 s of requests (3 s under
 * `npm run chaos`). In-process (a MeshProxy on loopback): the push is `apply`, as the push client calls it.
 */
import * as net from 'node:net';
import type { ProxyConfig } from '../../runtime/contract/proxy-config';
import { cluster, config, forward, startProxy, stoppedAfterEach, until } from '../support/proxy';
import { span, timeoutFor } from './duration';
import { keepAliveClient, type KeepAliveOutcome, quantile } from './load';
import { record } from './report';

const { withBackend, stopAfter } = stoppedAfterEach();
const DURATION_MS = span(1200, 3000);

/** Two ports free a moment ago (a listener's port must be fixed for a push to move it). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => {
      const s = net.createServer();
      return new Promise<net.Server>((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
    }),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

describe('a push removing a listener under load', () => {
  test(
    'requests in flight on the removed port finish, told to close; clients move to the new port: 0 failed',
    async () => {
      const backend = await withBackend('b', (req, res) => {
        if (req.url === '/slow') setTimeout(() => res.end('slow done'), 300);
        else res.end('ok');
      });
      const [oldPort, newPort] = await freePorts(2);
      const base = config([forward('c', { retries: { attempts: 0, retryOn: [] } })], [cluster('c', [backend.port])]);
      const on = (port: number, version: string): ProxyConfig => ({
        ...base,
        version,
        listeners: [{ ...base.listeners[0], name: `l${port}`, port }],
      });
      const { proxy, stop } = await startProxy(on(oldPort, 'v1'));
      stopAfter(stop);

      let port = oldPort;
      let slowSent = false;
      const out: KeepAliveOutcome = { ok: 0, closeSaid: 0, errors: [], latencies: [] };
      const t0 = Date.now();
      const clients = Array.from({ length: 8 }, (_, i) =>
        // The first client's first request after a third of the run is slow: in flight across the push.
        keepAliveClient(
          () => port,
          () => (i === 0 && !slowSent && Date.now() - t0 > DURATION_MS / 3 ? ((slowSent = true), '/slow') : '/'),
          t0 + DURATION_MS,
          out,
          10_000,
        ),
      );
      // The push, once the slow request is on its way (a third into the run).
      await until('the slow request to be in flight', () => slowSent, DURATION_MS);
      const before = out.ok;
      const applied = await proxy.apply(on(newPort, 'v2'));
      port = newPort;
      expect(applied.ok).toBe(true);
      await Promise.all(clients);
      record({
        scenario: 'a push removing the listener in use (moved to a new port), 8 keep-alive clients',
        requests: out.ok + out.errors.length,
        failed: out.errors.length,
        p99Ms: quantile(out.latencies, 0.99),
        durationS: DURATION_MS / 1000,
      });
      expect(out.errors).toEqual([]);
      expect(slowSent).toBe(true);
      expect(before).toBeGreaterThan(0);
      expect(out.ok).toBeGreaterThan(before);
      // The clients with a connection open on the removed port were told to close it.
      expect(out.closeSaid).toBeGreaterThanOrEqual(1);
      expect(proxy.renderMetrics()).toMatch(/mast_listener_drains_total 1\b/);
    },
    timeoutFor(DURATION_MS),
  );
});
