/**
 * A dry-run AuthorizationPolicy through a proxy (istio.io/dry-run): the request it would deny goes
 * on; its outcome is counted as Istio's scrape names Envoy's shadow stats, and written by the
 * `rbac` logger at debug level, as the task authz-dry-run checks them.
 */
import type { AuthzConfig } from '../../../runtime/contract/authz';
import { cluster, config, forward, get, stoppedAfterEach } from '../../support/proxy';
import { h2c, h2request } from './h2/h2-client';

const { withBackend, proxyFor, stopAfter } = stoppedAfterEach();

const DRY_DENY_HEADERS: AuthzConfig = { deny: [], dryRun: { deny: [{ name: 'foo/deny-path-headers[0]', to: [{ paths: ['/headers'] }] }] } };
const counter = (text: string, result: string) =>
  Number(
    new RegExp(`^envoy_http_0_0_0_0_\\d+_rbac\\{authz_dry_run_action="deny",authz_dry_run_result="${result}"\\} (\\d+)$`, 'm').exec(
      text,
    )?.[1] ?? 0,
  );

test('the request goes on; "denied" counted and logged (rbac at debug) for /headers, "allowed" for /ip; a real DENY still denies', async () => {
  const b = await withBackend('httpbin');
  const cfg = config([forward('httpbin')], [cluster('httpbin', [b.port])]);
  const withDryRun = (authz: AuthzConfig) => ({ ...cfg, listeners: [{ ...cfg.listeners[0], authz }] });
  const { proxy, port } = await proxyFor(withDryRun(DRY_DENY_HEADERS));
  const lines: string[] = [];
  proxy.logLevels.write = (l) => lines.push(l);
  const host = { host: 'alpha.example.com' };

  expect((await get(port, '/headers', host)).status).toBe(200);
  expect(lines).toEqual([]); // the rbac logger is at info
  proxy.logLevels.set('debug', 'rbac');
  for (let i = 0; i < 3; i++) expect((await get(port, '/headers', host)).status).toBe(200);
  expect((await get(port, '/ip', host)).status).toBe(200);
  expect(b.seen.map((s) => s.url)).toEqual(['/headers', '/headers', '/headers', '/headers', '/ip']);

  const metrics = proxy.renderMetrics();
  expect([counter(metrics, 'denied'), counter(metrics, 'allowed')]).toEqual([4, 1]);
  expect(metrics).toMatch(
    /^# HELP envoy_http_0_0_0_0_\d+_rbac Requests \(or connections\) judged by dry-run AuthorizationPolicies, by engine and what it would have done\.\n# TYPE envoy_http_0_0_0_0_\d+_rbac counter$/m,
  );
  expect(lines).toHaveLength(4);
  expect(lines[0]).toMatch(
    /^\d{4}-\d\d-\d\dT[\d:.]+Z debug envoy rbac shadow denied, matched policy ns\[foo\]-policy\[deny-path-headers\]-rule\[0\]$/,
  );
  expect(lines[3]).toMatch(/ debug envoy rbac shadow allowed, matched policy none$/);

  // The same policy enforced (the annotation removed): denied, and no dry-run outcome any more.
  const applied = await proxy.apply({ ...withDryRun({ deny: DRY_DENY_HEADERS.dryRun!.deny }), version: 'v2' });
  expect(applied.ok).toBe(true);
  expect((await get(port, '/headers', host)).status).toBe(403);
  expect(counter(proxy.renderMetrics(), 'denied')).toBe(4);
});

test('over HTTP/2 the same: the request goes on, its outcome counted and logged', async () => {
  const b = await withBackend('httpbin');
  const cfg = config([forward('httpbin')], [cluster('httpbin', [b.port])]);
  const { proxy, port } = await proxyFor({ ...cfg, listeners: [{ ...cfg.listeners[0], authz: DRY_DENY_HEADERS }] });
  const lines: string[] = [];
  proxy.logLevels.write = (l) => lines.push(l);
  proxy.logLevels.set('debug', 'rbac');
  const session = h2c(port);
  stopAfter(async () => void session.close());
  expect((await h2request(session, { ':path': '/headers' })).status).toBe(200);
  expect(b.seen.map((s) => s.url)).toEqual(['/headers']);
  expect(counter(proxy.renderMetrics(), 'denied')).toBe(1);
  expect(lines).toEqual([
    expect.stringMatching(/ debug envoy rbac shadow denied, matched policy ns\[foo\]-policy\[deny-path-headers\]-rule\[0\]$/),
  ]);
});
