/**
 * `mast local`'s supervisor and registry health: a workload whose app process dies is marked not
 * ready, leaves the load balancers at the next push (so no request reaches its sidecar only to be
 * refused by a dead app), is restarted, and is back in once it listens again.
 */
import * as http from 'node:http';
import { LocalMesh } from '../../../runtime/local/local-mesh';
import { twoWorkloads } from '../../fixtures/two-workloads';
import { until } from '../../support/proxy';

const get = (port: number, path = '/') =>
  new Promise<string>((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false, headers: { host: 'alpha.example.com' } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(res.statusCode === 200 ? body : `status ${res.statusCode}`));
      })
      .on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code}`));
  });

/** `n` requests through the gateway, one after another: what answered each. */
const answers = async (port: number, n: number) => {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const a = await get(port);
    out[a] = (out[a] ?? 0) + 1;
  }
  return out;
};

describe('mast local: an app that dies is not ready until it is back', () => {
  let local: LocalMesh;
  const logs: string[] = [];
  afterAll(() => local?.stop());

  test('out of the load balancer at the next push, restarted, back in once it listens', async () => {
    const { dir, a } = await twoWorkloads();
    local = new LocalMesh({ paths: [dir], gatewayPort: 0, adminPort: 0, debounceMs: 50, log: (l) => logs.push(l) });
    const port = await local.start();
    await local.ready(30_000);
    expect(Object.keys(await answers(port, 20)).sort()).toEqual(['a', 'b']);

    const before = local.mastd.snapshot!.version;
    expect(await get(a, '/exit')).toBe('bye'); // straight to the app: it exits
    // The next snapshot leaves a's endpoint out; once every proxy ACKed it, no request goes to a.
    await until(
      'a snapshot without a, ACKed by every proxy',
      async () => {
        const snapshot = local.mastd.snapshot!;
        const acked = local.mastd.push.statuses().every((s) => s.acked === snapshot.version);
        return snapshot.version !== before && acked && local.workloads.get('default/web-a')?.appDown === true;
      },
      10_000,
    );
    expect(await answers(port, 30)).toEqual({ b: 30 });

    // The supervisor restarts it (1 s back-off); listening again, it is back in.
    await until('a to be served again', async () => (await get(port)) === 'a' || (await get(port)) === 'a', 15_000);
    expect(local.workloads.get('default/web-a')?.appDown).toBe(false);
    expect(logs.join('\n')).toMatch(/app web-a\.default exited unexpectedly \(code 3\); restarting in 1 s/);
  }, 60_000);
});
