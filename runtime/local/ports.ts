/**
 * The ports `mast local` chooses for what it starts (sidecars' inbound, outbound and admin ports,
 * the gateway's extra ports) and the tests choose for their apps. Another process binds each of
 * them later, so the choice and the bind are apart in time, and nothing else may take the port in
 * between. A port the kernel picked (bind 0, then close) can be picked again by the kernel for
 * anything that binds port 0 (mastd's push server) or opens a connection (its local port) in that
 * window: both draw from the kernel's ephemeral range (net.ipv4.ip_local_port_range). So the ports
 * come from below that range, where the kernel never puts anything by itself; a port is free when a
 * probe binds it; and a reservation file per port (in the temp directory, created exclusively, with
 * the pid) keeps two processes (two `mast local`s, parallel test workers) from handing out one port
 * in the same window. Ports the user names (`--gateway-port`, `--admin-port`) are not chosen here.
 */
import { randomInt } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The lowest port handed out: above the ports services are usually configured on. */
export const LOWEST_CHOSEN_PORT = 20_000;
/** A reservation lapses when its process is gone, or after this long (its port was bound long before, or never will be). */
export const RESERVATION_MS = 10 * 60_000;
/** Tries before giving up on finding a port. */
const ATTEMPTS = 500;

export interface PortChoice {
  /** Ports handed out: `[lowest, highest]`, both included. @default below the kernel's ephemeral range */
  readonly range?: readonly [number, number];
  /** Where reservations are kept (shared by every process on the machine). @default `<tmpdir>/mast-ports` */
  readonly dir?: string;
  /** @default crypto.randomInt */
  readonly random?: (lo: number, hiExclusive: number) => number;
}

/** The kernel's ephemeral range, `[low, high]`; Linux's default when it cannot be read. */
export function ephemeralRange(
  read: () => string = () => readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'),
): [number, number] {
  try {
    const [low, high] = read().trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low > 0 && high >= low) return [low, high];
  } catch {
    // Not Linux, or /proc not mounted: assume Linux's default.
  }
  return [32_768, 60_999];
}

/**
 * The range ports are chosen from: below the ephemeral range if at least 1,000 ports fit there,
 * else above it; `undefined` when the ephemeral range leaves no room (the kernel picks then, as
 * before: see freePort).
 */
export function chosenRange([low, high]: readonly [number, number]): [number, number] | undefined {
  if (low - 1 - LOWEST_CHOSEN_PORT >= 1000) return [LOWEST_CHOSEN_PORT, low - 1];
  if (65_535 - (high + 1) >= 1000) return [high + 1, 65_535];
  return undefined;
}

const taken = new Set<number>();
const mine = new Set<string>();
const swept = new Set<string>();

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
let releaseOnExit = false;

/**
 * A port nothing listens on now, chosen where neither the kernel nor another process choosing
 * this way will hand it out again, and never twice by this process.
 */
export async function freePort(choice: PortChoice = {}): Promise<number> {
  const range = choice.range ?? chosenRange(ephemeralRange());
  if (!range) return kernelPort();
  const dir = choice.dir ?? join(tmpdir(), 'mast-ports');
  const shared = reservations(dir);
  // Once per process: reservations of processes that ended without releasing theirs (killed, or
  // an exit hook that never ran, as in a test runner's sandbox) are removed.
  if (shared && !swept.has(dir)) {
    swept.add(dir);
    for (const name of safeReaddir(dir)) if (/^\d+$/.test(name)) removeIfLapsed(join(dir, name));
  }
  const random = choice.random ?? randomInt;
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = random(range[0], range[1] + 1);
    if (taken.has(port)) continue;
    if (shared && !reserve(dir, port)) continue;
    if (await bindable(port)) return (taken.add(port), port);
    if (shared) release(join(dir, String(port)));
  }
  throw new Error(`no free port in ${range[0]}-${range[1]} after ${ATTEMPTS} tries`);
}

/** Whether `dir` can hold reservations (made, and open to every user, on first use); without it, a probe alone decides. */
function reservations(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o1777 });
    try {
      chmodSync(dir, 0o1777);
    } catch {
      // Another user's directory: usable if it is writable, which the reservation itself finds out.
    }
    return true;
  } catch {
    return false;
  }
}

/** Takes the reservation of `port` for this process; false when another live process holds it (a lapsed one is removed). */
function reserve(dir: string, port: number): boolean {
  const file = join(dir, String(port));
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o644 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return true;
    removeIfLapsed(file);
    return false;
  }
  mine.add(file);
  if (!releaseOnExit) {
    releaseOnExit = true;
    process.once('exit', () => mine.forEach(release));
  }
  return true;
}

function removeIfLapsed(file: string): void {
  try {
    const holder = readFileSync(file, 'utf8');
    const pid = Number(holder);
    if (alive(pid) && Date.now() - statSync(file).mtimeMs < RESERVATION_MS) return;
    // Removed only if it is still the lapsed one we read (another process may have just taken it).
    if (readFileSync(file, 'utf8') === holder) unlinkSync(file);
  } catch {
    // Gone already, or not ours to remove: the port is skipped this time either way.
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function release(file: string): void {
  mine.delete(file);
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}

/** Nothing listens on `port` (127.0.0.1, which also fails when a wildcard address holds it). */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** The kernel's choice (bind 0, close): racy, only when the ephemeral range leaves no other room. */
async function kernelPort(): Promise<number> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer().once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    if (!taken.has(port)) return (taken.add(port), port);
  }
  throw new Error(`no port from the kernel that this process has not handed out already, after ${ATTEMPTS} tries`);
}
