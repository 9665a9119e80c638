/**
 * A listener removed by a config push is drained as Envoy drains one LDS removes: the port stops
 * accepting, a request in flight on it gets its whole response (saying `Connection: close`), a
 * keep-alive client idle between requests is not reset (its next request is served and told to
 * close), and at the drain deadline what is idle is ended with a FIN.
 */
import * as net from 'node:net';
import type { ProxyConfig } from '../../../runtime/contract/proxy-config';
import { cluster, config, forward, stoppedAfterEach, until } from '../../support/proxy';

const { holdingBackend, proxyFor } = stoppedAfterEach();

/** A raw keep-alive client: everything it read, and how its connection ended. */
class RawClient {
  text = '';
  ended = false;
  error?: string;
  closed = false;
  private readonly socket: net.Socket;
  readonly connected: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.connected = new Promise((resolve) => this.socket.once('connect', () => resolve()));
    this.socket.on('data', (d) => (this.text += d.toString('latin1')));
    this.socket.on('end', () => (this.ended = true));
    this.socket.on('error', (err) => (this.error = (err as NodeJS.ErrnoException).code ?? err.message));
    this.socket.on('close', () => (this.closed = true));
  }

  send(path: string): void {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n`);
  }

  /** Responses read so far, each as its status line and whether it said `connection: close`. */
  responses(): Array<{ status: string; close: boolean }> {
    return this.text
      .split(/(?=HTTP\/1\.1 )/)
      .filter(Boolean)
      .map((r) => ({ status: r.slice(9, 12), close: /\r\nconnection: close\r\n/i.test(r) }));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const withoutListeners = (c: ProxyConfig): ProxyConfig => ({ ...c, version: 'v2', listeners: [] });

const connectRefused = (port: number) =>
  new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve('connected')));
    s.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
  });

test('a push removing a listener: it stops accepting; the request in flight gets its whole response; an idle keep-alive client is served once more, told to close, never reset', async () => {
  const { b, held } = await holdingBackend();
  const v1 = config([forward('c', { retries: { attempts: 0, retryOn: [] } })], [cluster('c', [b.port])]);
  const { proxy, port } = await proxyFor(v1);

  const busy = new RawClient(port);
  const idle = new RawClient(port);
  await Promise.all([busy.connected, idle.connected]);
  idle.send('/first');
  await until('the idle client’s first response', () => idle.responses().length === 1);
  busy.send('/hold/1');
  await until('the held request to reach the backend', () => held.length === 1);

  expect((await proxy.apply(withoutListeners(v1))).ok).toBe(true);
  expect(await connectRefused(port)).toBe('ECONNREFUSED');

  // The keep-alive client sends its next request on its open connection: served, told to close, then a FIN.
  idle.send('/second');
  await until('the idle client’s connection to end', () => idle.ended);
  expect(idle.responses()).toEqual([
    { status: '200', close: false },
    { status: '200', close: true },
  ]);

  // The request in flight across the push: its whole body, `Connection: close`, then a FIN.
  held[0].end('the whole body');
  await until('the busy client’s connection to end', () => busy.ended);
  expect(busy.responses()).toEqual([{ status: '200', close: true }]);
  expect(busy.text).toMatch(/the whole body$/);
  expect([busy.error, idle.error]).toEqual([undefined, undefined]);
  expect(proxy.renderMetrics()).toMatch(/mast_listener_drains_total 1\b/);
});

test('at the drain deadline an idle keep-alive connection is ended with a FIN, and a request still in flight is closed', async () => {
  const { b, held } = await holdingBackend();
  const v1 = config([forward('c', { retries: { attempts: 0, retryOn: [] } })], [cluster('c', [b.port])]);
  const { proxy, port } = await proxyFor(v1);
  proxy.listenerDrainMs = 200;

  const idle = new RawClient(port);
  const stuck = new RawClient(port);
  await Promise.all([idle.connected, stuck.connected]);
  idle.send('/first');
  stuck.send('/hold/forever');
  await until('the idle client’s response and the held request', () => idle.responses().length === 1 && held.length === 1);

  const t0 = performance.now();
  expect((await proxy.apply(withoutListeners(v1))).ok).toBe(true);
  await until('both connections to close', () => idle.closed && stuck.closed, 3000);
  // Not before the deadline: the drain waited for the period.
  expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
  expect(idle).toMatchObject({ ended: true, error: undefined });
  expect(idle.responses()).toEqual([{ status: '200', close: false }]);
  // Past the deadline the stuck request is given up: its connection closed without a response.
  expect(stuck.responses()).toEqual([]);
  held[0].destroy();
});

test('a listener added back while the old one drains binds anew; the drained one still finishes its request', async () => {
  const { b, held } = await holdingBackend();
  const v1 = config([forward('c', { retries: { attempts: 0, retryOn: [] } })], [cluster('c', [b.port])]);
  const { proxy, port } = await proxyFor(v1);
  const busy = new RawClient(port);
  await busy.connected;
  busy.send('/hold/1');
  await until('the held request to reach the backend', () => held.length === 1);
  expect((await proxy.apply(withoutListeners(v1))).ok).toBe(true);
  // The same port in a later config: bound again, serving new connections.
  const v3: ProxyConfig = { ...v1, version: 'v3', listeners: [{ ...v1.listeners[0], port }] };
  expect(await proxy.apply(v3)).toMatchObject({ ok: true });
  const fresh = new RawClient(port);
  await fresh.connected;
  fresh.send('/new');
  await until('the new listener’s response', () => fresh.responses().length === 1);
  expect(fresh.responses()).toEqual([{ status: '200', close: false }]);
  held[0].end('done');
  await until('the drained request to finish', () => busy.ended);
  expect(busy.responses()).toEqual([{ status: '200', close: true }]);
  fresh.destroy();
});
