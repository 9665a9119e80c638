/**
 * 1,000 slow and idle connections against a gateway (the bundle, in its own process) while
 * ordinary clients keep sending: half connect and send nothing, half send a head one header a
 * second and never finish it (slowloris). Ordinary clients are served throughout with no failure;
 * each slow head is answered 408 at the header timeout and its connection closed, each idle one
 * closed; the gateway's memory stays bounded. Bounded: 1,000 connections, 50 requests/s, the
 * header timeout (2 s, 10 s under `npm run chaos`) plus a few seconds.
 */
import * as net from 'node:net';
import { cluster, config, forward, stoppedAfterEach, until } from '../support/proxy';
import { bundleProxy, spawnProxy } from '../security/spawned-proxy';
import { span, timeoutFor } from './duration';
import { Load, reasons } from './load';
import { spawnBackend } from './processes';
import { loadRow, record } from './report';
import { rssMb } from './rss';

const { stopAfter } = stoppedAfterEach();
const HEADER_TIMEOUT_S = span(2, 10);
const CONNECTIONS = 1000;
const RATE = 50;
/** What 1,000 held connections may cost the gateway at most (each holds a socket and at most a partial head). */
const HELD_MB = 60;

interface Slow {
  readonly socket: net.Socket;
  received: string;
  closed: boolean;
}

function open(port: number, slowloris: boolean): Promise<Slow> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const s: Slow = { socket, received: '', closed: false };
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (s.received += d));
    socket.on('error', () => undefined);
    socket.on('close', () => ((s.closed = true), clearInterval(drip)));
    let n = 0;
    // A header a second, never the blank line that ends the head.
    const drip = setInterval(() => slowloris && !socket.destroyed && socket.write(`x-drip-${n++}: ${'y'.repeat(20)}\r\n`), 1000);
    socket.once('connect', () => {
      if (slowloris) socket.write('GET / HTTP/1.1\r\nhost: alpha.example.com\r\n');
      resolve(s);
    });
    socket.once('error', reject);
  });
}

describe('1,000 slow and idle connections', () => {
  test(
    'others are served; slow heads get 408 at the header timeout, idle connections are closed; gateway memory bounded',
    async () => {
      const backend = await spawnBackend('web');
      stopAfter(() => backend.kill());
      const cfg = config([forward('c')], [cluster('c', [backend.port])]);
      const gateway = await spawnProxy(await bundleProxy(), cfg, ['--header-timeout-seconds', String(HEADER_TIMEOUT_S)]);
      stopAfter(() => gateway.stop());
      const port = gateway.port('l');
      const rssBefore = rssMb(gateway.child.pid!);
      const runMs = HEADER_TIMEOUT_S * 1000 + 3000;
      const load = new Load({ port, rate: RATE, maxRequests: (RATE * runMs) / 1000 }).start();

      const t0 = Date.now();
      const slow: Slow[] = [];
      // Opened in batches, so that the load is sending while they pile up.
      for (let i = 0; i < CONNECTIONS; i += 100)
        slow.push(...(await Promise.all(Array.from({ length: 100 }, (_, j) => open(port, (i + j) % 2 === 0)))));
      const openedMs = Date.now() - t0;
      const rssHeld = rssMb(gateway.child.pid!);
      stopAfter(async () => slow.forEach((s) => s.socket.destroy()));

      await until(
        'every slow and idle connection to be closed by the gateway',
        () => slow.every((s) => s.closed),
        HEADER_TIMEOUT_S * 1000 + 10_000,
      );
      const closedMs = Date.now() - t0;
      const result = await load.completed();
      const rssAfter = rssMb(gateway.child.pid!);
      record(
        loadRow(`${CONNECTIONS} slow/idle connections (header timeout ${HEADER_TIMEOUT_S} s)`, result, {
          rss: [{ process: 'gateway', beforeMb: rssBefore, afterMb: rssAfter }],
          durationS: runMs / 1000,
        }),
      );

      expect(reasons(result.failed)).toEqual({});
      const slowloris = slow.filter((_, i) => i % 2 === 0);
      const idle = slow.filter((_, i) => i % 2 === 1);
      expect(slowloris.filter((s) => !s.received.startsWith('HTTP/1.1 408 ')).map((s) => s.received.slice(0, 40))).toEqual([]);
      expect(idle.filter((s) => s.received !== '').map((s) => s.received.slice(0, 40))).toEqual([]);
      // Not before the timeout: a slow client is given the whole of it.
      expect(closedMs).toBeGreaterThanOrEqual(HEADER_TIMEOUT_S * 1000 - openedMs);
      expect(rssHeld - rssBefore).toBeLessThanOrEqual(HELD_MB);
      expect(gateway.exited()).toBeUndefined();
    },
    timeoutFor(30_000),
  );
});
