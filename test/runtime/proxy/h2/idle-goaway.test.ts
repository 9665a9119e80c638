/**
 * A downstream HTTP/2 session idle past the idle timeout gets GOAWAY, as Envoy's connection idle
 * timeout starts its drain sequence: "idle" is no stream open, so a stream that stays open longer
 * than the timeout keeps its connection, and the timeout runs from the moment the last stream ends.
 * Time passing is the behaviour here: the waits are the property.
 */
import type * as http from 'node:http';
import { cluster, config, forward, stoppedAfterEach, until } from '../../../support/proxy';
import { h2c, h2request } from './h2-client';

const { withBackend, proxyFor, stopAfter } = stoppedAfterEach();

const IDLE_MS = 300;
const MAX_STREAM_ID = 2 ** 31 - 1;

test('no GOAWAY while a stream is open past the idle timeout; GOAWAY once no stream has been open for it', async () => {
  const held: http.ServerResponse[] = [];
  const b = await withBackend('b', (req, res) => (req.url === '/hold' ? held.push(res) : res.end('quick')));
  const { port } = await proxyFor(config([forward('c')], [cluster('c', [b.port])]), { idleTimeoutMs: IDLE_MS });
  const session = h2c(port);
  stopAfter(async () => void session.destroy());
  const goaways: Array<{ id: number; at: number }> = [];
  session.on('goaway', (_code: number, id: number) => goaways.push({ id, at: performance.now() }));

  const long = h2request(session, { ':path': '/hold' });
  await until('the held request at the backend', () => held.length === 1);
  // Three idle timeouts with the stream open: the connection is not idle.
  const heldFor = 3 * IDLE_MS;
  await new Promise((r) => setTimeout(r, heldFor));
  expect(goaways).toEqual([]);
  held[0].end('late');
  expect(await long).toMatchObject({ status: 200, body: 'late' });
  const ended = performance.now();

  await until('the idle GOAWAY', () => goaways.length >= 1, 5000);
  expect(goaways[0].id).toBe(MAX_STREAM_ID);
  // From the last stream's end, not from the connection's start or its last byte before.
  expect(goaways[0].at - ended).toBeGreaterThanOrEqual(IDLE_MS - 20);
});

test('a connection that opens no stream is idle from the start', async () => {
  const b = await withBackend('b');
  const { port } = await proxyFor(config([forward('c')], [cluster('c', [b.port])]), { idleTimeoutMs: IDLE_MS });
  const started = performance.now();
  const session = h2c(port);
  stopAfter(async () => void session.destroy());
  let goawayAt = 0;
  let lastStreamId = -1;
  session.on('goaway', (_code: number, id: number) => ((goawayAt = performance.now()), (lastStreamId = id)));
  await until('the idle GOAWAY', () => goawayAt > 0, 5000);
  expect(goawayAt - started).toBeGreaterThanOrEqual(IDLE_MS - 20);
  // The drain's first GOAWAY, as for any drain (goaway.ts), not an abrupt close.
  expect(lastStreamId).toBe(MAX_STREAM_ID);
});
