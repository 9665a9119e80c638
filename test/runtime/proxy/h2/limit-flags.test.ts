/**
 * mast-proxy's HTTP/2 flags: each sets its limit, a value outside the range Envoy accepts stops the
 * proxy at start naming the flag and the value, and a proxy started with them advertises them in
 * its SETTINGS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../../../runtime/local/local-mesh';
import { Http2FlagError, http2LimitsFromFlags } from '../../../../runtime/proxy/h2/limit-flags';
import { main } from '../../../../runtime/proxy/main';
import { builtFile } from '../../../support/build';
import { until } from '../../../support/proxy';
import { tempDir } from '../../../support/temp-dir';
import { h2c, h2request } from './h2-client';

test('each flag sets its limit; flags not given leave the defaults', () => {
  expect(http2LimitsFromFlags({})).toEqual({});
  expect(
    http2LimitsFromFlags({
      'h2-max-concurrent-streams': '250',
      'h2-initial-stream-window': '65535',
      'h2-initial-connection-window': '2147483647',
      'h2-max-header-list-size': '32768',
      'h2-premature-reset-streams': '1000',
      'trusted-hops': '3',
    }),
  ).toEqual({
    maxConcurrentStreams: 250,
    initialStreamWindowSize: 65535,
    initialConnectionWindowSize: 2147483647,
    maxHeaderListSize: 32768,
    prematureResetStreams: 1000,
  });
});

test.each([
  ['h2-max-concurrent-streams', '0', 'from 1 to 2147483647'],
  ['h2-max-concurrent-streams', '2147483648', 'from 1 to 2147483647'],
  ['h2-max-concurrent-streams', '1.5', 'from 1 to 2147483647'],
  ['h2-initial-stream-window', '65534', 'from 65535 to 2147483647'],
  ['h2-initial-stream-window', '64k', 'from 65535 to 2147483647'],
  ['h2-initial-connection-window', '', 'from 65535 to 2147483647'],
  ['h2-max-header-list-size', '512', 'from 1024 to 8388608'],
  ['h2-premature-reset-streams', '-1', 'from 1 to 1000000'],
])('--%s %j is refused, naming the flag, the value and the range', (flag, value, range) => {
  const refused = () => http2LimitsFromFlags({ [flag]: value });
  expect(refused).toThrow(Http2FlagError);
  expect(refused).toThrow(`--${flag} must be a whole number ${range}, not "${value}"`);
});

test('mast-proxy stops at start with exit code 2 and says which flag', async () => {
  const errors: string[] = [];
  const spy = jest.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
  try {
    expect(await main(['--config', '/nonexistent.json', '--h2-max-concurrent-streams', '0'])).toBe(2);
  } finally {
    spy.mockRestore();
  }
  expect(errors).toEqual(['mast-proxy: --h2-max-concurrent-streams must be a whole number from 1 to 2147483647, not "0"']);
});

describe('a mast-proxy process started with the flags', () => {
  const dir = tempDir('mast-h2-flags-');
  let proc: ChildProcess | undefined;
  afterAll(() => proc?.kill('SIGKILL'));

  test('advertises them in its SETTINGS and opens the connection window it was told', async () => {
    const [port, admin] = [await freePort(), await freePort()];
    const direct = { kind: 'direct', status: 200, body: 'hi' };
    const listener = { name: 'l', port, matchPort: 80, protocol: 'http' };
    const vh = { name: 'all', domains: ['*'], routes: [{ name: 'hi', matches: [], action: direct }] };
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ schema: 1, version: 'f1', listeners: [{ ...listener, virtualHosts: [vh] }], clusters: [] }),
    );
    const flags = ['--h2-max-concurrent-streams', '9', '--h2-initial-stream-window', '131072'];
    flags.push('--h2-initial-connection-window', '3145728', '--h2-max-header-list-size', '16384');
    proc = spawn(
      process.execPath,
      [builtFile('mast-proxy.js'), '--config', join(dir, 'config.json'), '--admin-port', String(admin), ...flags],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let log = '';
    proc.stderr!.on('data', (d) => (log += d));
    await until(
      'the proxy to be ready',
      () => log.includes('ready: config f1'),
      15_000,
      () => log,
    );

    const session = h2c(port);
    try {
      expect(await h2request(session, { ':path': '/' })).toMatchObject({ status: 200, body: 'hi' });
      await until('the connection window update', () => (session.state.remoteWindowSize ?? 0) > 65535);
      expect(session.remoteSettings).toMatchObject({ maxConcurrentStreams: 9, initialWindowSize: 131072, maxHeaderListSize: 16384 });
      expect(session.state.remoteWindowSize).toBe(3145728);
    } finally {
      session.destroy();
    }
  });
});
