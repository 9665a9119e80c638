/**
 * The ports mast local chooses (runtime/local/ports.ts): never where the kernel hands out ports by
 * itself (bind 0: mastd's push server; a connection's local port), never one that something listens
 * on, never one another process has reserved and still may bind.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { chosenRange, ephemeralRange, freePort, LOWEST_CHOSEN_PORT } from '../../../runtime/local/ports';
import { tempDir } from '../../support/temp-dir';

const listening: net.Server[] = [];
afterAll(() => Promise.all(listening.map((s) => new Promise((r) => s.close(r)))));

/** A server on 127.0.0.1 on the kernel's choice of port. */
async function listenOnAny(): Promise<number> {
  const s = net.createServer();
  listening.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as net.AddressInfo).port;
}

/** A free port that stays free for the test: one the kernel gave and this test holds no more. */
async function kernelsPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('the range', () => {
  test('below the kernel’s ephemeral range when 1,000 ports fit there, else above it, else none', () => {
    expect(chosenRange([32_768, 60_999])).toEqual([LOWEST_CHOSEN_PORT, 32_767]);
    expect(chosenRange([1024, 50_000])).toEqual([50_001, 65_535]);
    expect(chosenRange([1024, 65_000])).toBeUndefined();
  });

  test('the ephemeral range is read from /proc (Linux’s default when unreadable or odd)', () => {
    expect(ephemeralRange(() => '32768\t60999\n')).toEqual([32_768, 60_999]);
    expect(ephemeralRange(() => '40000 50000')).toEqual([40_000, 50_000]);
    expect(ephemeralRange(() => 'nonsense')).toEqual([32_768, 60_999]);
    expect(
      ephemeralRange(() => {
        throw new Error('ENOENT');
      }),
    ).toEqual([32_768, 60_999]);
  });

  test('this machine’s chosen ports are outside its ephemeral range, so no bind(0) or connection can take one first', async () => {
    const [low, high] = ephemeralRange();
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const p of ports) expect(p < low || p > high).toBe(true);
    expect(new Set(ports).size).toBe(ports.length);
    // And the kernel's own choices stay in its range: the two never meet.
    const kernel = await listenOnAny();
    expect(kernel >= low && kernel <= high).toBe(true);
  });
});

describe('the choice in a range', () => {
  test('a port something listens on is skipped', async () => {
    const busy = await listenOnAny();
    const free = await kernelsPort();
    const dir = tempDir('mast-ports-');
    // Two ports in the range: the busy one drawn first, every time.
    const draws = [busy, busy, free];
    const port = await freePort({ range: [Math.min(busy, free), Math.max(busy, free)], dir, random: () => draws.shift() ?? free });
    expect(port).toBe(free);
    expect(existsSync(join(dir, String(busy)))).toBe(false);
  });

  test('a port reserved by a live process is skipped; the reservation is this process’s once taken', async () => {
    const dir = tempDir('mast-ports-');
    const [held, free] = [await kernelsPort(), await kernelsPort()];
    // jest's parent process is alive: its reservation holds.
    writeFileSync(join(dir, String(held)), String(process.ppid));
    const draws = [held, free];
    expect(await freePort({ range: [1, 65_535], dir, random: () => draws.shift()! })).toBe(free);
    expect(readFileSync(join(dir, String(held)), 'utf8')).toBe(String(process.ppid));
    expect(readFileSync(join(dir, String(free)), 'utf8')).toBe(String(process.pid));
  });

  test('a reservation of a process that is gone is removed when drawn, and the port handed out again later', async () => {
    const dir = tempDir('mast-ports-');
    const [lapsed, other, first] = [await kernelsPort(), await kernelsPort(), await kernelsPort()];
    // A first choice in the directory (its sweep done), then a process ends without releasing its port.
    expect(await freePort({ range: [first, first], dir })).toBe(first);
    writeFileSync(join(dir, String(lapsed)), String(deadPid()));
    const draws = [lapsed, other, lapsed];
    expect(await freePort({ range: [1, 65_535], dir, random: () => draws.shift()! })).toBe(other);
    expect(existsSync(join(dir, String(lapsed)))).toBe(false);
    expect(await freePort({ range: [1, 65_535], dir, random: () => draws.shift()! })).toBe(lapsed);
  });

  test('the first choice in a process clears the reservations of processes that are gone, and keeps live ones', async () => {
    const dir = tempDir('mast-ports-');
    writeFileSync(join(dir, '1'), String(deadPid()));
    writeFileSync(join(dir, '2'), String(process.ppid));
    const free = await kernelsPort();
    // This process made its first choice in this directory just now.
    expect(await freePort({ range: [free, free], dir })).toBe(free);
    expect([existsSync(join(dir, '1')), existsSync(join(dir, '2'))]).toEqual([false, true]);
  });

  test('no port handed out twice by one process, and a clear error when the range has none left', async () => {
    const dir = tempDir('mast-ports-');
    const only = await kernelsPort();
    expect(await freePort({ range: [only, only], dir })).toBe(only);
    await expect(freePort({ range: [only, only], dir })).rejects.toThrow(`no free port in ${only}-${only} after 500 tries`);
  });
});
