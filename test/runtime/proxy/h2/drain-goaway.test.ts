/**
 * HTTP/2 sessions on a draining listener get GOAWAY, as Envoy's connection manager drains them: a
 * first GOAWAY with the largest stream id at once, the final one naming the last stream processed;
 * the stream in flight gets its whole response, the client's next request needs a new connection
 * (which the removed listener refuses and a listener bound again serves), and at the drain
 * deadline what is still open is closed. The same at a SIGTERM drain, where listeners keep
 * accepting for the period and every new session is told at once.
 */
import type * as http2 from 'node:http2';
import * as net from 'node:net';
import type { ProxyConfig } from '../../../../runtime/contract/proxy-config';
import { cluster, config, forward, stoppedAfterEach, until } from '../../../support/proxy';
import { h2c, h2request } from './h2-client';

const { holdingBackend, proxyFor, stopAfter } = stoppedAfterEach();

const MAX_STREAM_ID = 2 ** 31 - 1;

/** A cleartext session that records the GOAWAYs it receives (their last stream ids) and its close. */
function watchedSession(port: number) {
  const session = h2c(port);
  const goaways: number[] = [];
  const state = { closed: false };
  session.on('goaway', (_code: number, lastStreamId: number) => goaways.push(lastStreamId));
  session.on('close', () => (state.closed = true));
  stopAfter(async () => void session.destroy());
  return { session, goaways, state };
}

/** A request on `session` that settles either way: the reply, or the error's code. */
function attempt(session: http2.ClientHttp2Session, path: string) {
  return h2request(session, { ':path': path }).then(
    (r) => ({ status: r.status, body: r.body }),
    (err: NodeJS.ErrnoException) => ({ error: err.code ?? err.message }),
  );
}

const withoutListeners = (c: ProxyConfig): ProxyConfig => ({ ...c, version: 'v2', listeners: [] });

const connectResult = (port: number) =>
  new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve('connected')));
    s.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
  });

const noRetries = { retries: { attempts: 0, retryOn: [] } };

test('a push removing the listener: its HTTP/2 session gets GOAWAY at once, the stream in flight gets its whole response, and a new request needs a new connection, which the removed port refuses', async () => {
  const { b, held } = await holdingBackend();
  const v1 = config([forward('c', noRetries)], [cluster('c', [b.port])]);
  const { proxy, port } = await proxyFor(v1);
  const { session, goaways, state } = watchedSession(port);
  expect(await attempt(session, '/first')).toEqual({ status: 200, body: 'quick' });
  const inFlight = attempt(session, '/hold/1');
  await until('the held request to reach the backend', () => held.length === 1);

  expect((await proxy.apply(withoutListeners(v1))).ok).toBe(true);
  await until('the first GOAWAY', () => goaways.length >= 1);
  // The notice names the largest stream id: nothing the client opened is refused by it.
  expect(goaways[0]).toBe(MAX_STREAM_ID);
  // No new stream on this connection, and no new connection on the removed port.
  expect(await attempt(session, '/after')).toEqual({ error: expect.stringMatching(/^ERR_HTTP2_(GOAWAY_SESSION|INVALID_SESSION)$/) });
  expect(await connectResult(port)).toBe('ECONNREFUSED');

  held[0].end('the whole body');
  expect(await inFlight).toEqual({ status: 200, body: 'the whole body' });
  await until('the drained session to close', () => state.closed);
  expect(b.seen.map((s) => s.url)).toEqual(['/first', '/hold/1']);
  expect(proxy.renderMetrics()).toMatch(/mast_listener_drains_total 1\b/);
});

test('a listener bound again on the port serves the new connection while the old session finishes its stream', async () => {
  const { b, held } = await holdingBackend();
  const v1 = config([forward('c', noRetries)], [cluster('c', [b.port])]);
  const { proxy, port } = await proxyFor(v1);
  const old = watchedSession(port);
  const inFlight = attempt(old.session, '/hold/1');
  await until('the held request to reach the backend', () => held.length === 1);

  expect((await proxy.apply(withoutListeners(v1))).ok).toBe(true);
  await until('the old session’s GOAWAY', () => old.goaways.length >= 1);
  const v3: ProxyConfig = { ...v1, version: 'v3', listeners: [{ ...v1.listeners[0], port }] };
  expect(await proxy.apply(v3)).toMatchObject({ ok: true });

  const fresh = watchedSession(port);
  expect(await attempt(fresh.session, '/new')).toEqual({ status: 200, body: 'quick' });
  expect(fresh.goaways).toEqual([]);
  held[0].end('done');
  expect(await inFlight).toEqual({ status: 200, body: 'done' });
  await until('the old session to close', () => old.state.closed);
  expect(fresh.state.closed).toBe(false);
});

test('at the drain deadline a session with a stream still in flight is closed, after the final GOAWAY named the last stream processed', async () => {
  const { b, held } = await holdingBackend();
  const v1 = config([forward('c', noRetries)], [cluster('c', [b.port])]);
  const { proxy, port } = await proxyFor(v1);
  proxy.listenerDrainMs = 300;
  const { session, goaways, state } = watchedSession(port);
  const stuck = attempt(session, '/hold/forever');
  await until('the held request to reach the backend', () => held.length === 1);

  const t0 = performance.now();
  expect((await proxy.apply(withoutListeners(v1))).ok).toBe(true);
  await until('the session to close', () => state.closed, 5000);
  // Not before the deadline: the stream was given the whole period.
  expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
  // The notice, then the final GOAWAY naming stream 1, the one the proxy was serving.
  expect(goaways.slice(0, 2)).toEqual([MAX_STREAM_ID, 1]);
  // The stuck stream got no response: reset, or ended with no head.
  const r = await stuck;
  expect('error' in r || r.status === 0).toBe(true);
  held[0].destroy();
});

test('SIGTERM drain: sessions are told GOAWAY at once, the stream in flight completes, and a new connection during the period is served and told too', async () => {
  const { b, held } = await holdingBackend();
  const v1 = config([forward('c', noRetries)], [cluster('c', [b.port])]);
  const { proxy, port } = await proxyFor(v1);
  const first = watchedSession(port);
  const inFlight = attempt(first.session, '/hold/1');
  await until('the held request to reach the backend', () => held.length === 1);

  const drained = proxy.drain(1500);
  await until('the first session’s GOAWAY', () => first.goaways.length >= 1);
  expect(first.goaways[0]).toBe(MAX_STREAM_ID);
  // The listener still accepts during the period: a new connection is served, and told at once.
  const second = watchedSession(port);
  expect(await attempt(second.session, '/during')).toEqual({ status: 200, body: 'quick' });
  await until('the second session’s GOAWAY', () => second.goaways.length >= 1);

  held[0].end('finished');
  expect(await inFlight).toEqual({ status: 200, body: 'finished' });
  await until('both sessions to close', () => first.state.closed && second.state.closed);
  await drained;
  expect(await connectResult(port)).toBe('ECONNREFUSED');
});
