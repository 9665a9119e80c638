/**
 * HTTP/2 attacks on a gateway, each on a connection of its own with raw frames, while a
 * well-behaved client on another connection is still served: rapid reset (CVE-2023-44487),
 * a CONTINUATION flood (CVE-2024-27316 class), an HPACK bomb (a small block that decodes past the
 * header list limit), SETTINGS and PING floods from a peer that never reads. nghttp2's guards,
 * bounded by the proxy's HTTP/2 limits (h2/limits.ts), end the attacker's session; nothing
 * reaches the backend that should not, and the process stays up.
 */
import * as net from 'node:net';
import { cluster, config, forward, stoppedAfterEach, until } from '../support/proxy';
import { h2c, h2request } from '../runtime/proxy/h2/h2-client';
import { FLAG, FRAME, frame, indexed, literal, ping, PREFACE, requestBlock, rstStream, settings } from '../support/h2-frames';

const { withBackend, proxyFor, stopAfter } = stoppedAfterEach();

async function gateway() {
  const b = await withBackend('web');
  const { port } = await proxyFor(config([forward('web')], [cluster('web', [b.port])]));
  return { b, port };
}

/** A raw attacker connection: sends the preface and SETTINGS; `closed` resolves when the proxy ends it. */
async function attacker(port: number, read = true) {
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  stopAfter(async () => void s.destroy());
  let received = Buffer.alloc(0);
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  s.on('error', () => undefined);
  if (read) s.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
  else s.pause();
  s.write(Buffer.concat([PREFACE, settings()]));
  /** The types of the frames the proxy sent so far. */
  const frameTypes = () => {
    const types: number[] = [];
    for (let i = 0; i + 9 <= received.length; i += 9 + received.readUIntBE(i, 3)) types.push(received[i + 3]);
    return types;
  };
  return { s, closed, received: () => received.length, frameTypes };
}

/** The well-behaved client: a request on its own connection gets its 200. */
async function stillServed(port: number): Promise<void> {
  const session = h2c(port);
  stopAfter(async () => void session.close());
  const r = await h2request(session, { ':path': '/fine' });
  expect(r).toMatchObject({ status: 200, body: 'web /fine' });
}

const within = (p: Promise<void>, ms: number, what: string) =>
  Promise.race([p, new Promise<void>((_r, reject) => setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms))]);

test('rapid reset: thousands of HEADERS each cancelled at once get the attacker a GOAWAY and a closed connection; other clients are served', async () => {
  const { b, port } = await gateway();
  const a = await attacker(port);
  const burst: Buffer[] = [];
  for (let id = 1; id < 2 * 5000; id += 2)
    burst.push(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, requestBlock(`/r${id}`)), rstStream(id));
  a.s.write(Buffer.concat(burst));
  await until('a GOAWAY for the attacker', () => a.frameTypes().includes(FRAME.GOAWAY));
  // And the connection closed (Envoy's premature-reset rule), not left open until its idle timeout.
  await within(a.closed, 5000, 'the attacker closed');
  await stillServed(port);
  // Far from every cancelled stream became an upstream request (nghttp2's reset rate limit ends the session).
  expect(b.seen.length).toBeLessThan(1000);
});

test('a CONTINUATION flood (a header block that never ends) is cut off; other clients are served', async () => {
  const { b, port } = await gateway();
  const a = await attacker(port);
  a.s.write(frame(FRAME.HEADERS, 0, 1, requestBlock('/flood')));
  const filler = literal('x-fill', 'a'.repeat(100));
  let sent = 0;
  // Bounded: at most 20000 frames (2 MB), stopping as soon as the proxy closes.
  while (sent < 20_000 && !a.s.destroyed) {
    a.s.write(frame(FRAME.CONTINUATION, 0, 1, filler));
    sent++;
    if (sent % 1000 === 0) await new Promise((r) => setImmediate(r));
  }
  await within(a.closed, 5000, 'the attacker closed');
  await stillServed(port);
  expect(b.seen.map((s) => s.url)).toEqual(['/fine']);
});

test('an HPACK bomb (one 4 KB entry referenced until the list is megabytes) is refused, nothing reaches the backend; other clients are served', async () => {
  const { b, port } = await gateway();
  const a = await attacker(port);
  const refs: Buffer[] = [];
  for (let i = 0; i < 1000; i++) refs.push(indexed(62));
  const block = Buffer.concat([requestBlock('/bomb'), literal('x-bomb', 'b'.repeat(4000), true), ...refs]);
  a.s.write(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, block));
  // The stream is refused (reset, or the session closed for it): no request reaches the backend.
  await until('an answer to the bomb', () => a.received() > 0 || a.s.destroyed);
  await stillServed(port);
  expect(b.seen.map((s) => s.url)).toEqual(['/fine']);
});

test.each([
  ['SETTINGS', () => settings()],
  ['PING', (i: number) => ping(i)],
])(
  'a %s flood from a peer that never reads its acknowledgements is cut off; other clients are served',
  async (_kind, make) => {
    const { port } = await gateway();
    const a = await attacker(port, false);
    let sent = 0;
    // Bounded: at most 400000 frames, stopping when the proxy closes the connection.
    while (sent < 400_000 && !a.s.destroyed) {
      const batch: Buffer[] = [];
      for (let i = 0; i < 2000; i++) batch.push(make(sent + i));
      sent += 2000;
      if (!a.s.write(Buffer.concat(batch))) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setImmediate(r));
    }
    // Reading nothing, the attacker would keep the proxy's acks queued without end: nghttp2 stops at its bound.
    a.s.resume();
    await within(a.closed, 10_000, 'the attacker closed');
    await stillServed(port);
  },
  30_000,
);
