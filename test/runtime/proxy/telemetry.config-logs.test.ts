/**
 * Access logs from the pushed config (ProxyConfig.accessLogs) through a real proxy: they replace the
 * --access-log flag's log, write each format to its path, filter by CEL, go off when a push says
 * none, and a config whose format or filter mast-proxy cannot compile is refused whole (NACK).
 */
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { AccessLogsConfig } from '../../../runtime/contract/proxy-config';
import { DEFAULT_LIMITS } from '../../../runtime/proxy/http/head';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { backend, cluster, config, forward, get, until } from '../../support/proxy';

test("a config's access logs replace the flag's: a file in its format, only what its filter lets through; none once a push says so", async () => {
  // The backend answers with the code the path names (/status/503), else 200.
  const a = await backend('a', (req, res) => res.writeHead(Number(/\/status\/(\d{3})/.exec(req.url ?? '')?.[1] ?? 200)).end());
  const base = config([forward('a', {}, { name: 'to-a' })], [cluster('a', [a.port])]);
  const dir = mkdtempSync(join(tmpdir(), 'mast-access-log-'));
  const file = join(dir, 'access.log');
  const logs = (client: AccessLogsConfig['client']): AccessLogsConfig => ({ server: [], client });
  const flag = new PassThrough();
  let flagText = '';
  flag.on('data', (d) => (flagText += d));
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' }, flag, DEFAULT_LIMITS);
  try {
    const applied = await proxy.apply({
      ...base,
      version: 'v1',
      accessLogs: logs([
        { provider: 'text', path: file, format: { text: '%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %UPSTREAM_CLUSTER%\n' } },
        {
          provider: 'errors',
          path: file,
          format: { json: { code: '%RESPONSE_CODE%', path: '%REQ(:PATH)%' } },
          filter: 'response.code >= 400',
        },
      ]),
    });
    expect(applied).toMatchObject({ ok: true });
    const port = proxy.boundPort('l')!;
    expect((await get(port, '/ok')).status).toBe(200);
    expect((await get(port, '/status/503')).status).toBe(503);
    const lines = () => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : []);
    await until('three lines in the file', () => lines().length >= 3);
    expect(lines()).toEqual(['GET /ok 200 a', 'GET /status/503 503 a', '{"code":503,"path":"/status/503"}']);
    expect(flagText).toBe('');

    // Logging disabled (a Telemetry's disabled: true): nothing more, not even on the flag's log.
    expect(await proxy.apply({ ...base, version: 'v2', accessLogs: logs([]) })).toMatchObject({ ok: true });
    expect((await get(port, '/quiet')).status).toBe(200);
    // Without access logs in the config the flag's JSON log is back: its line proves the quiet one was not held.
    expect(await proxy.apply({ ...base, version: 'v3' })).toMatchObject({ ok: true });
    expect((await get(port, '/flag')).status).toBe(200);
    await until("the flag's line", () => flagText.includes('/flag'));
    expect(lines()).toHaveLength(3);
    expect(flagText).not.toContain('/quiet');
  } finally {
    await proxy.drain(100);
    await a.close();
  }
});

test('a config with a filter that is not CEL, or a format with an operator mast-proxy does not fill, is refused naming the log', async () => {
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' }, undefined, DEFAULT_LIMITS);
  const base = config([], []);
  try {
    const bad = (accessLogs: AccessLogsConfig) => proxy.apply({ ...base, version: 'bad', accessLogs });
    const stdout = { provider: 'envoy', path: '/dev/stdout' };
    expect(await bad({ server: [], client: [{ ...stdout, format: { text: '%BOGUS%' } }] })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^access log of provider envoy: %BOGUS% is not a command operator/),
    });
    expect(await bad({ server: [], client: [{ ...stdout, format: { text: '%DURATION%' }, filter: 'response.code >= ' }] })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^access log of provider envoy: /),
    });
  } finally {
    await proxy.drain(100);
  }
});
