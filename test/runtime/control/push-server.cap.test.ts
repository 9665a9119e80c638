/**
 * mastd's cap on push streams per identity: one identity (namespace/service account) holds at most
 * `maxStreamsPerIdentity` streams; the next is told MAST_PUSH_OVER_CAP and closed, other
 * identities are unaffected, and a closed stream frees its place.
 */
import * as http2 from 'node:http2';
import { OVER_CAP, PushServer } from '../../../runtime/control/push-server';
import { LineReader, PUSH_PATH, encode, type ProxyIdentity } from '../../../runtime/contract/push-protocol';
import { until } from '../../support/proxy';

const identity = (serviceAccount: string): ProxyIdentity => ({
  mode: 'sidecar',
  namespace: 'default',
  labels: { app: serviceAccount },
  serviceAccount,
});

interface Peer {
  readonly messages: Array<{ type: string; error?: string }>;
  closed: boolean;
  close(): void;
}

function peer(port: number, id: string, who: ProxyIdentity, bearer = 't'): Peer {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  const stream = session.request({ ':method': 'POST', ':path': PUSH_PATH, authorization: `Bearer ${bearer}` });
  stream.on('error', () => undefined);
  const p: Peer = { messages: [], closed: false, close: () => session.destroy() };
  const reader = new LineReader();
  stream.on('data', (d: Buffer) => reader.push(d, (line) => p.messages.push(JSON.parse(line) as Peer['messages'][number])));
  stream.on('close', () => (p.closed = true));
  stream.write(encode({ type: 'hello', id, identity: who }));
  return p;
}

describe('push streams per identity', () => {
  let server: PushServer;
  let port: number;
  const peers: Peer[] = [];
  beforeAll(async () => {
    server = new PushServer({
      token: 't',
      maxStreamsPerIdentity: 2,
      configFor: () => ({ schema: 1, version: 'v1', listeners: [], clusters: [] }),
    });
    port = await server.listen(0);
  });
  afterAll(async () => {
    peers.forEach((p) => p.close());
    await server.close();
  });
  const open = (id: string, who: ProxyIdentity) => (peers.push(peer(port, id, who)), peers[peers.length - 1]);

  test('the third stream of one identity is refused with MAST_PUSH_OVER_CAP; another identity is served; a closed one frees its place', async () => {
    const [a1, a2] = [open('a-1', identity('a')), open('a-2', identity('a'))];
    await until('both streams of a to get their config', () => a1.messages.length > 0 && a2.messages.length > 0);
    const a3 = open('a-3', identity('a'));
    await until('the third stream of a to be closed', () => a3.closed);
    expect(a3.messages).toEqual([
      { type: 'error', error: expect.stringMatching(new RegExp(`^${OVER_CAP}: default/a already holds 2 push streams, at most 2`)) },
    ]);
    expect(server.counters.overCap).toBe(1);

    const b = open('b-1', identity('b'));
    await until('b to get its config', () => b.messages.some((m) => m.type === 'config'));

    a1.close();
    await until('mastd to see a-1 go', () => !server.statuses().some((s) => s.id === 'a-1'));
    const a4 = open('a-4', identity('a'));
    await until('a-4 to get its config', () => a4.messages.some((m) => m.type === 'config'));
    expect(a2.closed).toBe(false);
    expect(
      server
        .statuses()
        .map((s) => s.id)
        .sort(),
    ).toEqual(['a-2', 'a-4', 'b-1']);
  });

  test("streams whose identity is refused by verification never count: a false claim cannot use up the owner's streams", async () => {
    const verified = new PushServer({
      maxStreamsPerIdentity: 2,
      verify: async (bearer) => (bearer === 'owner' ? undefined : 'token of someone else'),
      configFor: () => ({ schema: 1, version: 'v1', listeners: [], clusters: [] }),
    });
    const vport = await verified.listen(0);
    const claims = [1, 2, 3].map((i) => peer(vport, `claim-${i}`, identity('c'), 'thief'));
    try {
      await until('every false claim to be refused', () =>
        claims.every((c) => c.messages.some((m) => m.type === 'error' && /identity refused/.test(m.error ?? ''))),
      );
      const owners = [1, 2].map((i) => peer(vport, `owner-${i}`, identity('c'), 'owner'));
      await until("both of the owner's streams to get their config", () =>
        owners.every((o) => o.messages.some((m) => m.type === 'config')),
      );
      expect(verified.counters.overCap).toBe(0);
      owners.forEach((o) => o.close());
    } finally {
      claims.forEach((c) => c.close());
      await verified.close();
    }
  });
});
