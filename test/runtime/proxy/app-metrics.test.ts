/**
 * Istio's metrics merging on the status port: the proxy's metrics, then the app's (as its own
 * `prometheus.io/*` annotations said, moved to the proxy by injection), bounded in time and size;
 * an app that fails its scrape leaves the proxy's metrics served, and the failure counted.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import { startStatus } from '../../../runtime/proxy/admin';
import { APP_SCRAPE_MAX_BYTES, AppScrapeConfigError, parseAppScrape, scrapeApp } from '../../../runtime/proxy/app-metrics';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { cluster, config, forward, stoppedAfterEach } from '../../support/proxy';

const { stopAfter } = stoppedAfterEach();

/** An app serving `body` at /metrics (after `delayMs`). */
async function app(body: string | Buffer, delayMs = 0): Promise<number> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    const t = setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body), delayMs);
    res.on('close', () => clearTimeout(t));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  return (server.address() as net.AddressInfo).port;
}

const APP_TEXT = '# HELP orders_total Orders.\n# TYPE orders_total counter\norders_total 7\n';

test('the status port serves the proxy metrics then the app metrics; a failed app scrape is counted, the proxy still served', async () => {
  const proxy = new MeshProxy({ mode: 'sidecar', workload: 'cart', namespace: 'shop' });
  await proxy.apply(config([forward('backend')], [cluster('backend', [1])]));
  const appPort = await app(APP_TEXT);
  const status = await startStatus(proxy, 0, { host: '127.0.0.1', appScrape: { port: appPort, path: '/metrics' } });
  const down = await startStatus(proxy, 0, { host: '127.0.0.1', appScrape: { port: appPort, path: '/nothing-here' } });
  stopAfter(async () => {
    await Promise.all([status, down].map((s) => new Promise((r) => s.close(r))));
    await proxy.drain(50);
  });
  const scrape = async (s: net.Server) =>
    (await fetch(`http://127.0.0.1:${(s.address() as net.AddressInfo).port}/stats/prometheus`)).text();
  const merged = await scrape(status);
  // The TYPE line right after its HELP line.
  expect(merged.indexOf('# TYPE istio_requests_total counter')).toBe(
    merged.indexOf('\n', merged.indexOf('# HELP istio_requests_total')) + 1,
  );
  expect(merged.endsWith(APP_TEXT)).toBe(true);
  const alone = await scrape(down);
  expect(alone).toContain('# TYPE istio_requests_total counter');
  expect(alone).not.toContain('orders_total');
  expect(alone).toMatch(/^mast_app_scrape_failures_total 1$/m);
});

test('an app scrape is bounded: too slow, too large', async () => {
  const slow = await app(APP_TEXT, 2_000);
  expect(await scrapeApp({ port: slow, path: '/metrics' }, 200)).toEqual({ error: 'no answer within 200 ms' });
  const large = await app(Buffer.alloc(APP_SCRAPE_MAX_BYTES + 1, 0x61));
  expect(await scrapeApp({ port: large, path: '/metrics' })).toEqual({ error: `larger than ${APP_SCRAPE_MAX_BYTES} bytes` });
});

test('MAST_PROMETHEUS_ANNOTATIONS: the app asks for a scrape, or not; a bad port or path is a typed error', () => {
  expect(parseAppScrape(undefined)).toBeUndefined();
  expect(parseAppScrape('{"scrape":"false","port":"9102"}')).toBeUndefined();
  expect(parseAppScrape('{"scrape":"true","port":"9102"}')).toEqual({ port: 9102, path: '/metrics' });
  expect(parseAppScrape('{"scrape":"true","port":"9102","path":"/m"}')).toEqual({ port: 9102, path: '/m' });
  for (const bad of ['{"scrape":"true"}', '{"scrape":"true","port":"http"}', '{"scrape":"true","port":"1","path":"m"}', 'nope'])
    expect(() => parseAppScrape(bad)).toThrow(AppScrapeConfigError);
});
