/**
 * `mast local --intercept`: each workload in its own network namespace, as in a pod. A veth
 * pair links it to this (root) namespace, 10.<b>.<n>.2 inside and .1 outside (b from 100 to 199,
 * picked from the process id so two runs on one machine stay apart), with forwarding on
 * so namespaces reach each other; service names resolve (through `/etc/netns/<ns>/hosts`, which
 * `ip netns exec` mounts over /etc/hosts) to virtual addresses 10.251.x.y that exist only for
 * iptables to capture, exactly as ClusterIPs in a pod. Needs root, `ip` and iptables.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

export interface Netns {
  readonly name: string;
  /** The workload's address (inside). */
  readonly address: string;
  /** The root namespace's end of the link: where mastd is reached from inside. */
  readonly gateway: string;
}

const run = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** Why interception cannot run here, or undefined. */
export function interceptUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and iptables)';
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return 'needs `ip netns` (iproute2)';
  if (spawnSync('sh', ['-c', 'command -v iptables-restore']).status !== 0) return 'needs iptables';
  if (spawnSync('sh', ['-c', 'command -v setpriv']).status !== 0) return 'needs setpriv (util-linux) to run the proxy as uid 1337';
  return undefined;
}

export class NetnsTopology {
  private readonly made: Netns[] = [];
  private forwardWas?: string;
  private next = 1;
  private readonly prefix: string;
  private readonly block: number;
  private static made = 0;

  constructor(id = process.pid) {
    NetnsTopology.removeOrphans();
    const run = NetnsTopology.made++;
    this.prefix = `mast${id % 100000}${run ? `x${run}` : ''}`;
    this.block = 100 + ((id + run) % 100);
  }

  /** Namespaces left by a run that was killed outright (its process is gone): removed before starting. */
  static removeOrphans(): void {
    const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
    for (const name of listed.split('\n').map((l) => l.split(' ')[0])) {
      const owner = /^mast(\d+)(?:x\d+)?-\d+$/.exec(name)?.[1];
      if (!owner || owner === String(process.pid % 100000) || existsSync(`/proc/${owner}`)) continue;
      spawnSync('ip', ['netns', 'del', name]);
      rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
    }
  }

  /** A namespace for one workload, linked to this one. */
  add(): Netns {
    if (this.forwardWas === undefined) {
      this.forwardWas = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
      writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    }
    const n = this.next++;
    if (n > 250) throw new Error('mast local --intercept runs at most 250 workloads');
    const name = `${this.prefix}-${n}`;
    // Interface names are at most 15 characters.
    const [inside, outside] = [`${this.prefix}i${n}`.slice(-15), `${this.prefix}o${n}`.slice(-15)];
    const ns: Netns = { name, address: `10.${this.block}.${n}.2`, gateway: `10.${this.block}.${n}.1` };
    run('netns', 'add', name);
    this.made.push(ns);
    run('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
    run('link', 'set', inside, 'netns', name);
    run('addr', 'add', `${ns.gateway}/30`, 'dev', outside);
    run('link', 'set', outside, 'up');
    run('-n', name, 'addr', 'add', `${ns.address}/30`, 'dev', inside);
    run('-n', name, 'link', 'set', inside, 'up');
    run('-n', name, 'link', 'set', 'lo', 'up');
    run('-n', name, 'route', 'add', 'default', 'via', ns.gateway);
    return ns;
  }

  /** Names this namespace's programs resolve (service hosts → virtual addresses). */
  hosts(ns: Netns, entries: ReadonlyMap<string, string>): void {
    const dir = `/etc/netns/${ns.name}`;
    mkdirSync(dir, { recursive: true });
    const lines = ['127.0.0.1 localhost', ...[...entries].map(([name, ip]) => `${ip} ${name}`)];
    writeFileSync(`${dir}/hosts`, `${lines.join('\n')}\n`);
  }

  /** The command line that runs `argv` inside a namespace, optionally as another user. */
  exec(ns: Netns, argv: readonly string[], uid?: number): string[] {
    const as = uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
    return ['ip', 'netns', 'exec', ns.name, ...as, ...argv];
  }

  remove(ns: Netns): void {
    spawnSync('ip', ['netns', 'del', ns.name]);
    rmSync(`/etc/netns/${ns.name}`, { recursive: true, force: true });
    const i = this.made.indexOf(ns);
    if (i >= 0) this.made.splice(i, 1);
  }

  /** Deletes every namespace (their veth pairs go with them) and restores forwarding. */
  teardown(): void {
    for (const ns of [...this.made]) this.remove(ns);
    if (this.forwardWas !== undefined) writeFileSync('/proc/sys/net/ipv4/ip_forward', this.forwardWas);
    this.forwardWas = undefined;
  }
}

/** A virtual address per service host (10.251.0.0/16), and the names a client in `namespace` may use for it. */
export function serviceAddresses(hosts: readonly string[], namespace: string): Map<string, string> {
  const out = new Map<string, string>();
  [...new Set(hosts)].sort().forEach((host, i) => {
    const ip = `10.251.${(i + 1) >> 8}.${(i + 1) & 255}`;
    out.set(host, ip);
    const m = /^([^.]+)\.([^.]+)\.svc\.cluster\.local$/.exec(host);
    if (m) {
      out.set(`${m[1]}.${m[2]}.svc`, ip);
      out.set(`${m[1]}.${m[2]}`, ip);
      if (m[2] === namespace) out.set(m[1], ip);
    }
  });
  return out;
}
