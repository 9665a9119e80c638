/**
 * The bound on a listener's open client connections (Envoy's listener connection limit): past it a
 * new connection is closed at accept and counted; the connections already open are served as
 * before, and once one closes a new one is taken again.
 */
import * as net from 'node:net';
import { cluster, config, forward, get, stoppedAfterEach, until } from '../../support/proxy';

const { withBackend, proxyFor } = stoppedAfterEach();

/** A connection that stays open: what it read, and whether the proxy closed it. */
function open(port: number) {
  const s = net.connect(port, '127.0.0.1');
  const state = { text: '', closed: false, socket: s };
  s.on('data', (d) => (state.text += d.toString('latin1')));
  s.on('error', () => undefined);
  s.on('close', () => (state.closed = true));
  return new Promise<typeof state>((resolve) => s.once('connect', () => resolve(state)));
}

const overflows = (metrics: string) => Number(/^mast_downstream_cx_overflow_total (\d+)$/m.exec(metrics)?.[1] ?? 0);

test('past the limit a new connection is closed at accept and counted; open ones are still served; a freed slot is taken again', async () => {
  const a = await withBackend('a');
  const cfg = config([forward('a')], [cluster('a', [a.port])]);
  const { proxy } = await proxyFor({ ...cfg, listeners: [] });
  proxy.maxConnections = 3;
  expect((await proxy.apply({ ...cfg, version: 'v2' })).ok).toBe(true);
  const port = proxy.boundPort('l')!;

  const held = await Promise.all([open(port), open(port), open(port)]);
  const refused = await open(port);
  await until('the fourth connection to be closed', () => refused.closed);
  expect(refused.text).toBe('');
  expect(overflows(proxy.renderMetrics())).toBe(1);

  // The three within the limit are served as usual.
  held[0].socket.write('GET /x HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n');
  await until('the held connection’s response', () => held[0].text.includes('a /x'));
  expect(held[0].text).toMatch(/^HTTP\/1\.1 200 /);

  // One closes: the next new connection is accepted and served.
  held[1].socket.destroy();
  await until('a slot to free up', async () => (await get(port, '/y').catch(() => undefined))?.body === 'a /y');
  expect(held.filter((h) => h.closed).length).toBe(1);
  for (const h of held) h.socket.destroy();
});
