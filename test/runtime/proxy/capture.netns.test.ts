/**
 * Real interception, as in a pod: a network namespace this test creates, the capture rules
 * `mast-proxy capture` installs with iptables, the proxy running as uid 1337, and an app (root)
 * calling an address that only exists through the redirect. Needs root and iptables (installed
 * with apt when missing); skipped with the reason printed otherwise.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCommand } from '../../support/apt';
import { tempDir } from '../../support/temp-dir';
import { builtAddon, builtFile } from '../../support/build';

const NS = `mast-cap-${process.pid}`;
const CLIENT_NS = `mast-cli-${process.pid}`;

/** Inbound as in a pod: whatever port a connection was sent to, on 127.0.0.1 (compile() makes this for a sidecar without --app-port). */
const VIRTUAL_INBOUND = {
  name: 'virtualInbound',
  trafficDirection: 'INBOUND',
  port: 15006,
  matchPort: 0,
  protocol: 'http',
  virtualHosts: [
    {
      name: 'inbound|http',
      domains: ['*'],
      routes: [
        {
          name: 'default',
          matches: [],
          action: { kind: 'forward', destinations: [{ cluster: 'inbound|passthrough||', weight: 100 }] },
        },
      ],
    },
  ],
};
/** The cluster VIRTUAL_INBOUND forwards to: the connection's original destination. */
const INBOUND_PASSTHROUGH = {
  name: 'inbound|passthrough||',
  host: '127.0.0.1',
  port: 0,
  endpoints: [],
  lb: { kind: 'passthrough' },
  connectTimeoutMs: 1000,
};

function why(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return 'no `ip netns`';
  const missing = ensureCommand('iptables-restore', 'iptables');
  if (missing) return missing;
  const probe = spawnSync('ip', ['netns', 'add', `${NS}-probe`]);
  spawnSync('ip', ['netns', 'del', `${NS}-probe`]);
  return probe.status === 0 ? undefined : `cannot create network namespaces: ${probe.stderr}`;
}

const reason = why();
if (reason) console.log(`interception test skipped: ${reason}`);
const maybe = reason ? describe.skip : describe;

maybe('interception in a network namespace', () => {
  const children: ChildProcess[] = [];
  const dir = tempDir('mast-intercept-');
  chmodSync(dir, 0o755);
  const inNs = (...args: string[]) => execFileSync('ip', ['netns', 'exec', NS, ...args], { encoding: 'utf8' });

  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    // A route for the "remote" service address, so the kernel gets as far as the NAT table.
    execFileSync('ip', ['-n', NS, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    execFileSync('ip', ['-n', NS, 'addr', 'add', '10.99.0.2/24', 'dev', 'v0']);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'v0', 'up']);
    // The other end in a second namespace: a client elsewhere on the pod network, for inbound capture.
    execFileSync('ip', ['netns', 'add', CLIENT_NS]);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'v1', 'netns', CLIENT_NS]);
    execFileSync('ip', ['-n', CLIENT_NS, 'addr', 'add', '10.99.0.3/24', 'dev', 'v1']);
    execFileSync('ip', ['-n', CLIENT_NS, 'link', 'set', 'v1', 'up']);
    // The rules the capture init container installs, the status port excluded as injection excludes it.
    inNs(
      process.execPath,
      builtFile('mast-proxy.js'),
      'capture',
      '--proxy-uid',
      '1337',
      '--exclude-outbound-cidrs',
      '169.254.169.254/32',
      '--exclude-inbound-ports',
      '15020',
    );
  });

  /** The proxy as in a pod: uid 1337 in the namespace, with a config file (and flags, environment). */
  async function startProxy(config: object, args: string[] = [], env: Record<string, string> = {}): Promise<ChildProcess> {
    const file = join(dir, `config-${children.length}.json`);
    writeFileSync(file, JSON.stringify(config));
    chmodSync(file, 0o644);
    const proxy = spawn(
      'ip',
      [
        'netns',
        'exec',
        NS,
        'setpriv',
        '--reuid=1337',
        '--regid=1337',
        '--clear-groups',
        process.execPath,
        builtFile('mast-proxy.js'),
        '--config',
        file,
        '--mode',
        'sidecar',
        '--admin-port',
        '15000',
        ...args,
      ],
      { env: { ...process.env, ...env } },
    );
    children.push(proxy);
    await new Promise<void>((resolve, reject) => {
      let err = '';
      proxy.stderr!.on('data', (d) => ((err += d), /ready/.test(err) && resolve()));
      proxy.on('exit', () => reject(new Error(err)));
    });
    return proxy;
  }
  const stop = (proxy: ChildProcess) => new Promise((r) => (proxy.once('exit', r), proxy.kill('SIGKILL')));

  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', NS]);
    spawnSync('ip', ['netns', 'del', CLIENT_NS]);
  });

  test('an app call to 10.99.0.1:80 is captured by the sidecar (uid 1337 not looped) and reaches the backend', async () => {
    const backend = (port: number, name: string) =>
      `require('http').createServer((q,s)=>s.end('${name} saw '+q.headers.host+' '+q.url)).listen(${port},'127.0.0.1')`;
    children.push(spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', backend(9080, 'backend')]));
    children.push(spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', backend(9081, 'admin-backend')]));
    // Two services on one captured port, told apart only by the port the app dialled (80 or 8080).
    // Outbound as mastd compiles it for a sidecar: hosts it knows, the rest passed through (ALLOW_ANY).
    const listener = (matchPort: number, cluster: string, domains: string[]) => ({
      name: `outbound_${matchPort}`,
      trafficDirection: 'OUTBOUND',
      port: 15001,
      matchPort,
      protocol: 'http',
      passthrough: true,
      virtualHosts: [
        {
          name: 'known',
          domains,
          routes: [{ name: 'r', matches: [], action: { kind: 'forward', destinations: [{ cluster, weight: 100 }] } }],
        },
      ],
    });
    const cluster = (name: string, port: number) => ({
      name,
      host: name,
      port,
      endpoints: [{ address: '127.0.0.1', port }],
      lb: { kind: 'round_robin' },
      connectTimeoutMs: 1000,
    });
    const config = {
      schema: 1,
      version: 'intercept',
      listeners: [listener(80, 'svc', ['10.99.0.1']), listener(8080, 'admin', ['admin.internal']), VIRTUAL_INBOUND],
      clusters: [cluster('svc', 9080), cluster('admin', 9081), INBOUND_PASSTHROUGH],
    };
    expect(inNs('iptables-save', '-t', 'nat')).toMatch(/--uid-owner 1337 -j RETURN/);
    const proxy = await startProxy(config);
    const call = (url: string, host?: string) =>
      `require('http').get('${url}',${host ? `{headers:{host:'${host}'}},` : ''}r=>{let b='';r.on('data',c=>b+=c);r.on('end',()=>console.log(r.statusCode+' '+b))}).on('error',e=>console.log('error '+e.message))`;
    expect(inNs(process.execPath, '-e', call('http://10.99.0.1/hello')).trim()).toBe('200 backend saw 10.99.0.1 /hello');
    // The Host header names no port: only SO_ORIGINAL_DST can tell that 8080 was dialled.
    const addon = builtAddon() !== undefined;
    if (!addon) console.log('SO_ORIGINAL_DST check skipped: the addon did not build here (scripts/build-addon.mjs says why)');
    if (addon)
      expect(inNs(process.execPath, '-e', call('http://10.99.0.1:8080/stats', 'admin.internal')).trim()).toBe(
        '200 admin-backend saw admin.internal /stats',
      );
    const stats = inNs(
      process.execPath,
      '-e',
      `require('http').get('http://127.0.0.1:15000/stats/prometheus',r=>{let b='';r.on('data',c=>b+=c);r.on('end',()=>console.log(b))})`,
    );
    expect(stats).toMatch(/istio_requests_total\{[^}]*destination_service="svc"[^}]*response_code="200"[^}]*\} 1/);
    if (addon) expect(stats).toMatch(/istio_requests_total\{[^}]*destination_service="admin"[^}]*response_code="200"[^}]*\} 1/);
    // A host the mesh does not know, on a port it proxies: the request goes where the app sent it
    // (a server in the other namespace), through the sidecar (uid 1337 is not captured again).
    if (addon) {
      const outside = spawn('ip', [
        'netns',
        'exec',
        CLIENT_NS,
        process.execPath,
        '-e',
        `require('http').createServer((q,s)=>s.end('outside saw '+q.headers.host+' '+q.url)).listen(80,'10.99.0.3',()=>console.log('listening'))`,
      ]);
      children.push(outside);
      await new Promise((r) => outside.stdout!.once('data', r));
      expect(inNs(process.execPath, '-e', call('http://10.99.0.3/ext', 'api.example.org')).trim()).toBe(
        '200 outside saw api.example.org /ext',
      );
      const after = inNs(
        process.execPath,
        '-e',
        `require('http').get('http://127.0.0.1:15000/stats/prometheus',r=>{let b='';r.on('data',c=>b+=c);r.on('end',()=>console.log(b))})`,
      );
      expect(after).toMatch(/istio_requests_total\{[^}]*destination_service_name="PassthroughCluster"[^}]*response_code="200"[^}]*\} 1/);
    }
    // Inbound: a client in another namespace calls the pod's address; the apps listen on 127.0.0.1
    // only, so an answer proves the capture and the proxy's forward to the port that was dialled.
    if (addon) {
      const inClient = (code: string) =>
        execFileSync('ip', ['netns', 'exec', CLIENT_NS, process.execPath, '-e', code], { encoding: 'utf8' }).trim();
      expect(inClient(call('http://10.99.0.2:9080/in'))).toBe('200 backend saw 10.99.0.2:9080 /in');
      expect(inClient(call('http://10.99.0.2:9081/in'))).toBe('200 admin-backend saw 10.99.0.2:9081 /in');
    }
    await stop(proxy);
  }, 60_000);

  test("under STRICT mTLS the kubelet's plain-text probe of the app is refused, and the rewritten one on the status port passes; a PERMISSIVE port (portLevelMtls) takes plain text", async () => {
    const config = {
      schema: 1,
      version: 'strict',
      // portLevelMtls: one port of the pod takes plain text (told apart by SO_ORIGINAL_DST).
      listeners: [{ ...VIRTUAL_INBOUND, mtls: 'STRICT', mtlsByPort: { '9091': 'PERMISSIVE' } }],
      clusters: [INBOUND_PASSTHROUGH],
    };
    const app = spawn('ip', [
      'netns',
      'exec',
      NS,
      process.execPath,
      '-e',
      `for(const p of [9090,9091])require('http').createServer((q,s)=>s.end('web '+p+' '+q.url)).listen(p,'127.0.0.1',()=>p===9091&&console.log('listening'))`,
    ]);
    children.push(app);
    await new Promise((r) => app.stdout!.once('data', r));
    // What injection writes for an app whose readiness probe is GET /health on 9090.
    const probers = { '/app-health/web/readyz': { httpGet: { path: '/health', port: 9090 } } };
    const proxy = await startProxy(config, ['--status-port', '15020'], { MAST_APP_PROBERS: JSON.stringify(probers) });
    const kubelet = (url: string) =>
      execFileSync(
        'ip',
        [
          'netns',
          'exec',
          CLIENT_NS,
          process.execPath,
          '-e',
          `require('http').get('${url}',r=>{let b='';r.on('data',c=>b+=c);r.on('end',()=>console.log(r.statusCode+' '+b.trim()))}).on('error',e=>console.log('error '+e.code))`,
        ],
        { encoding: 'utf8' },
      ).trim();
    expect(kubelet('http://10.99.0.2:9090/health')).toBe('error ECONNRESET');
    expect(kubelet('http://10.99.0.2:15020/app-health/web/readyz')).toBe('200 the app answered 200');
    if (builtAddon() !== undefined) expect(kubelet('http://10.99.0.2:9091/open')).toBe('200 web 9091 /open');
    await stop(proxy);
  }, 30_000);
});
