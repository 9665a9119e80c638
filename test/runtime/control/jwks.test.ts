import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchJwks, JwksFetcher } from '../../../runtime/control/jwks';
import { until } from '../../support/poll';
import { expectQuietFor } from '../../support/quiet';

/** A local JWKS server whose answer the test changes: a document, a status, silence, or a huge body. */
function jwksServer() {
  let answer: { status: number; body: string } | 'hang' = { status: 200, body: JSON.stringify({ keys: [{ kty: 'EC', kid: 'one' }] }) };
  const hung: http.ServerResponse[] = [];
  let requests = 0;
  const server = http.createServer((_req, res) => {
    requests++;
    if (answer === 'hang') return void hung.push(res);
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
  });
  return {
    listen: () =>
      new Promise<string>((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`))),
    set: (a: typeof answer) => void (answer = a),
    requests: () => requests,
    close: () => {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('mastd JWKS fetcher', () => {
  const server = jwksServer();
  let uri: string;
  beforeAll(async () => void (uri = await server.listen()));
  afterAll(() => server.close());
  afterEach(() => server.set({ status: 200, body: JSON.stringify({ keys: [{ kty: 'EC', kid: 'one' }] }) }));

  test('fetches the keys of a tracked jwksUri before track() resolves', async () => {
    const f = new JwksFetcher();
    await f.track([uri]);
    expect(f.current().get(uri)).toEqual([{ kty: 'EC', kid: 'one' }]);
    f.close();
  });

  test.each([
    ['503', { status: 503, body: 'down' }, 'MAST_JWKS_HTTP', /HTTP 503/],
    ['not JSON', { status: 200, body: 'not json' }, 'MAST_JWKS_INVALID', /not JSON/],
    ['no keys', { status: 200, body: '{"nokeys":1}' }, 'MAST_JWKS_INVALID', /no "keys" array/],
    [
      'over the size bound',
      { status: 200, body: JSON.stringify({ keys: [{ kty: 'RSA', n: 'x'.repeat(5000) }] }) },
      'MAST_JWKS_TOO_LARGE',
      /more than 1024 bytes/,
    ],
  ] as const)('a bad answer (%s) is an error with a stable code', async (_what, answer, code, message) => {
    server.set(answer);
    await expect(fetchJwks(uri, 2000, 1024)).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
  });

  test('a server that never answers times out', async () => {
    server.set('hang');
    const started = Date.now();
    await expect(fetchJwks(uri, 200, 1 << 20)).rejects.toMatchObject({ code: 'MAST_JWKS_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('a URI that never answered has no keys (its tokens are refused); the failure is counted', async () => {
    server.set({ status: 500, body: '' });
    const f = new JwksFetcher({ timeoutMs: 500 });
    await f.track([uri]);
    expect(f.current().has(uri)).toBe(false);
    expect(f.stats()).toEqual([{ uri, fetches: 1, failures: 1, hasKeys: false, lastError: 'MAST_JWKS_HTTP: HTTP 500' }]);
    f.close();
  });

  test('refreshes keep the last good keys on failure and report a change once the keys change', async () => {
    let changes = 0;
    const f = new JwksFetcher({ refreshMs: 50, timeoutMs: 500, onChange: () => changes++ });
    await f.track([uri]);
    server.set({ status: 500, body: '' });
    await until('a failed refresh', () => f.stats()[0].failures >= 1);
    expect(f.current().get(uri)).toEqual([{ kty: 'EC', kid: 'one' }]);
    expect(changes).toBe(0);
    server.set({ status: 200, body: JSON.stringify({ keys: [{ kty: 'EC', kid: 'two' }] }) });
    await until('the new keys', () => f.current().get(uri)?.[0]?.kid === 'two');
    expect(changes).toBe(1);
    f.close();
  });

  test('a slow server gets one fetch at a time: refreshes due while one is on its way are skipped', async () => {
    server.set('hang');
    const f = new JwksFetcher({ refreshMs: 20, timeoutMs: 600 });
    await f.track([uri]); // the first fetch times out after 600 ms: thirty refresh periods
    expect(f.stats()[0]).toMatchObject({ fetches: 1, failures: 1, hasKeys: false });
    f.close();
  });

  test('untracked URIs are dropped and no longer fetched', async () => {
    const f = new JwksFetcher({ refreshMs: 30 });
    await f.track([uri]);
    await f.track([]);
    const seen = server.requests();
    expect(f.current().size).toBe(0);
    // Five refresh periods in which the dropped URI must not be fetched: more than the one request that may
    // already have been on its way when it was dropped would show the timer still runs.
    await expectQuietFor(150, 'a refresh of the untracked URI', () => server.requests() > seen + 1);
    f.close();
  });
});
