/** The one-file bundle the proxy image copies runs on its own: no node_modules next to it. */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backend, cluster, config, forward, get } from './support';

const ROOT = join(__dirname, '..', '..');

describe('mast-proxy bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mast-bundle-'));
  beforeAll(() => {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs')], { cwd: ROOT });
    copyFileSync(join(ROOT, 'build', 'mast-proxy.js'), join(dir, 'mast-proxy.js'));
  });

  test('--help', () => {
    expect(execFileSync(process.execPath, [join(dir, 'mast-proxy.js'), '--help'], { cwd: dir }).toString()).toMatch(/^mast-proxy: the mast data plane/);
  });

  test('serves a static config from --config, and drains on SIGTERM', async () => {
    const a = await backend('a');
    const cfg = config([forward('a')], [cluster('a', [a.port])]);
    cfg.listeners[0] = { ...cfg.listeners[0], port: 18231 };
    writeFileSync(join(dir, 'proxy.json'), JSON.stringify(cfg));
    const child = spawn(process.execPath, [join(dir, 'mast-proxy.js'), '--config', join(dir, 'proxy.json'), '--admin-port', '0', '--drain-seconds', '1'], { cwd: dir });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d) => ((stderr += d), /ready/.test(stderr) && resolve()));
      child.on('exit', () => reject(new Error(stderr)));
    });
    expect(await get(18231, '/hello')).toMatchObject({ status: 200, body: 'a /hello' });
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await a.close();
  });
});
