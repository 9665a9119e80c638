/**
 * A gateway with several processes on one port (SO_REUSEPORT, Node >= 22.12; the images run Node
 * 24): the kernel spreads connections, the first process counts everyone's requests, a dead
 * worker comes back, SIGTERM drains them all. Real processes of the bundle on loopback.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { freePort } from '../../../runtime/local/local-mesh';
import { reusePortSupported } from '../../../runtime/proxy/workers';
import { nodeAtLeast } from '../../support/node-version';
import { alive } from '../../support/process';
import { tempDir } from '../../support/temp-dir';
import { builtFile } from '../../support/build';
import { until } from '../../support/proxy';

const BUNDLE = builtFile('mast-proxy.js');
const found = nodeAtLeast('22.12.0', reusePortSupported);
if ('why' in found) console.log(`workers test skipped: ${found.why}`);

const get = (port: number, path = '/') =>
  new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      })
      .on('error', reject);
  });
const children = (pid: number) =>
  (spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).stdout ?? '').split('\n').map(Number).filter(Boolean);

describe('gateway workers', () => {
  const dir = tempDir('mast-workers-');
  let port: number;
  let admin: number;
  const procs: ChildProcess[] = [];

  beforeAll(async () => {
    [port, admin] = [await freePort(), await freePort()];
    const config = {
      schema: 1,
      version: 'w1',
      listeners: [
        {
          name: '0.0.0.0_80',
          port,
          matchPort: 80,
          protocol: 'http',
          virtualHosts: [
            { name: 'all', domains: ['*'], routes: [{ name: 'hi', matches: [], action: { kind: 'direct', status: 200, body: 'hi' } }] },
          ],
        },
      ],
      clusters: [],
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  }, 60_000);
  afterAll(() => procs.forEach((p) => p.kill('SIGKILL')));

  const start = (node: string, ...args: string[]) => {
    const p = spawn(node, [BUNDLE, '--config', join(dir, 'config.json'), '--admin-port', String(admin), ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    procs.push(p);
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    return { p, log: () => err };
  };

  ('node' in found ? test : test.skip)(
    'three processes share the port; the first counts all requests; a killed worker comes back; SIGTERM stops them all',
    async () => {
      const { p, log } = start((found as { node: string }).node, '--workers', '3', '--drain-seconds', '1');
      await until('both workers serving', () => (log().match(/worker \d serving config w1/g) ?? []).length === 2, 10_000);
      const workers = children(p.pid!);
      expect(workers).toHaveLength(2);
      const replies = [];
      for (let i = 0; i < 90; i++) replies.push(await get(port));
      expect(new Set(replies)).toEqual(new Set(['200 hi']));
      // Workers report every second: wait until all 90 are counted, then each process had a share.
      const stats = await until(
        'all requests counted',
        async () => {
          const text = await get(admin, '/stats/prometheus');
          return /response_code="200",response_flags="-"\} 90\b/.test(text) ? text : '';
        },
        10_000,
      );
      const shares = [...stats.matchAll(/mast_worker_requests_total\{worker="(\d)"\} (\d+)/g)].map((m) => Number(m[2]));
      expect(shares).toHaveLength(3);
      for (const n of shares) expect(n).toBeGreaterThan(0);
      // A worker killed outright is started again and serves.
      process.kill(workers[0], 'SIGKILL');
      await until('a new worker', () => (log().match(/worker \d serving config w1/g) ?? []).length === 3, 10_000);
      expect(children(p.pid!)).toHaveLength(2);
      const now = children(p.pid!);
      const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
      p.kill('SIGTERM');
      expect(await exited).toBe(0);
      await until('workers gone', () => now.every((pid) => !alive(pid)), 5000);
    },
    120_000,
  );

  test('on Node without SO_REUSEPORT, --workers serves with one process and says so; sidecars refuse it', async () => {
    expect(reusePortSupported('20.20.2')).toBe(false);
    expect(reusePortSupported('22.12.0') && reusePortSupported('23.1.0') && reusePortSupported('24.0.0')).toBe(true);
    if (!reusePortSupported()) {
      const { p, log } = start(process.execPath, '--workers', '2');
      await until('ready', () => /ready/.test(log()), 10_000);
      expect(log()).toMatch(/--workers 2 needs SO_REUSEPORT in Node >= 22\.12 \(this is v[\d.]+\); serving with one process/);
      expect(children(p.pid!)).toEqual([]);
      expect(await get(port)).toBe('200 hi');
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    }
    const sidecar = spawnSync(process.execPath, [BUNDLE, '--config', join(dir, 'config.json'), '--mode', 'sidecar', '--workers', '2'], {
      encoding: 'utf8',
    });
    expect(sidecar.status).toBe(2);
    expect(sidecar.stderr).toMatch(/--workers is for gateways/);
  }, 30_000);
});
