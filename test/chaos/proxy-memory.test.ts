/**
 * What one client can make mast-proxy hold (the bundle in its own process, its VmRSS measured):
 * pipelined requests queued behind a slow one, a request body waiting for its upstream (here a
 * fault delay), and a body larger than the retry replay buffer. Each is held to about 1 MiB, after
 * which the proxy stops reading that client (TCP pushes back) — Envoy's per-connection buffer limit
 * of 1 MiB works the same way — and a body past the replay buffer still goes through (that request is
 * then not retried), never refused. Bounded: 32 MB offered per case, 3 s each.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { DEFAULT_RETRY } from '../../runtime/contract/proxy-config';
import { cluster, config, forward, stoppedAfterEach } from '../support/proxy';
import { bundleProxy, spawnProxy, type SpawnedProxy } from '../security/spawned-proxy';
import { record } from './report';
import { rssMb } from './rss';

const { withBackend, stopAfter } = stoppedAfterEach();
const OFFERED = 32 * 1024 * 1024;
/** What a case may add to the proxy's resident memory: the 1 MiB buffer and the runtime's own slack, far below what is offered. */
const GROWTH_MB = 16;

/** Writes up to `OFFERED` bytes from `make` for `ms`, never reading; how many the proxy took. */
async function flood(port: number, first: string, make: (i: number) => Buffer, ms = 3000): Promise<number> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  socket.pause(); // never read: responses pile up on the proxy's side too
  let written = 0;
  socket.write(first);
  const stopAt = Date.now() + ms;
  for (let i = 0; written < OFFERED && Date.now() < stopAt; i++) {
    const chunk = make(i);
    written += chunk.length;
    if (!socket.write(chunk)) await new Promise((r) => (socket.once('drain', r), setTimeout(r, Math.max(0, stopAt - Date.now()))));
  }
  // What the kernel buffers on both sides is not the proxy's memory; what it read is what it holds or handled.
  const unsent = socket.writableLength;
  socket.destroy();
  return written - unsent;
}

async function gateway(extra: Parameters<typeof forward>[1], route: Parameters<typeof forward>[2], backend: number): Promise<SpawnedProxy> {
  const p = await spawnProxy(await bundleProxy(), config([forward('c', extra, route)], [cluster('c', [backend])]));
  stopAfter(() => p.stop());
  return p;
}

/**
 * One request's `flooding` of the gateway, its RSS read before and after (recorded as `scenario`):
 * the proxy stopped reading (it took less than half of what was offered) and grew by GROWTH_MB at most.
 */
async function expectReadingStopped(proxy: SpawnedProxy, scenario: string, flooding: () => Promise<number>): Promise<void> {
  const before = rssMb(proxy.child.pid!);
  const taken = await flooding();
  const after = rssMb(proxy.child.pid!);
  record({ scenario, requests: 1, failed: 0, rss: [{ process: 'gateway', beforeMb: before, afterMb: after }] });
  expect(taken).toBeLessThan(OFFERED / 2);
  expect(after - before).toBeLessThanOrEqual(GROWTH_MB);
}

describe('memory one client can make the proxy hold', () => {
  test('pipelined requests behind one that hangs: reading stops at about 1 MiB queued', async () => {
    const backend = await withBackend('hang', () => undefined); // never answers
    const proxy = await gateway({}, {}, backend.port);
    const request = Buffer.from('GET /p HTTP/1.1\r\nhost: alpha.example.com\r\n\r\n'.repeat(1024));
    await expectReadingStopped(proxy, 'proxy: 32 MB of pipelined requests behind a hung one', () =>
      flood(proxy.port('l'), 'GET /first HTTP/1.1\r\nhost: alpha.example.com\r\n\r\n', () => request),
    );
    expect(proxy.exited()).toBeUndefined();
  });

  test('a request body waiting out a 3 s fault delay: reading stops at about 1 MiB', async () => {
    const backend = await withBackend('b');
    const proxy = await gateway({}, { fault: { delay: { ms: 3000, fraction: 1 } } }, backend.port);
    const body = Buffer.alloc(64 * 1024, 'b');
    await expectReadingStopped(proxy, 'proxy: 32 MB body during a fault delay', () =>
      flood(proxy.port('l'), `POST /up HTTP/1.1\r\nhost: alpha.example.com\r\ncontent-length: ${OFFERED}\r\n\r\n`, () => body, 2500),
    );
  });

  test('32 MB bodies on a route with retries: passed through whole (not refused), nothing kept past 1 MiB per request', async () => {
    let received = 0;
    const sink = http.createServer((req, res) => {
      received = 0;
      req.on('data', (d: Buffer) => (received += d.length));
      req.on('end', () => res.end(String(received)));
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    stopAfter(() => new Promise((r) => sink.close(() => r())));
    const proxy = await gateway({ retries: DEFAULT_RETRY }, {}, (sink.address() as net.AddressInfo).port);
    const post = () =>
      new Promise<string>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: proxy.port('l'),
            method: 'POST',
            path: '/big',
            agent: false,
            headers: { host: 'alpha.example.com', 'content-length': OFFERED },
          },
          (res) => {
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve(`${res.statusCode} ${body}`));
          },
        );
        req.on('error', reject);
        const chunk = Buffer.alloc(256 * 1024, 'r');
        let sent = 0;
        const pump = () => {
          while (sent < OFFERED) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
    const before = rssMb(proxy.child.pid!);
    expect(await post()).toBe(`200 ${OFFERED}`);
    const afterFirst = rssMb(proxy.child.pid!);
    // Two more: what the first left is the runtime's slack (a route without retries leaves the same);
    // a body kept for a replay would add 32 MB each.
    expect(await post()).toBe(`200 ${OFFERED}`);
    expect(await post()).toBe(`200 ${OFFERED}`);
    const after = rssMb(proxy.child.pid!);
    record({
      scenario: 'proxy: 3 × 32 MB bodies on a route with retries',
      requests: 3,
      failed: 0,
      rss: [{ process: 'gateway', beforeMb: before, afterMb: after }],
    });
    expect(afterFirst - before).toBeLessThan(32);
    expect(after - afterFirst).toBeLessThanOrEqual(GROWTH_MB);
  });
});
