/**
 * Finding 8 of issue 19: no secret on a command line. Any local user reads any process's argv in
 * /proc/<pid>/cmdline; with the push token, any of them got a mesh-signed certificate for the
 * gateway's identity. `mast local` hands the token over in a mode-0600 file, mast-proxy and mastd
 * refuse `--token`, and the Kubernetes manifests carry no secret in any container's command.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Testing } from 'cdk8s';
import { Mesh } from '../../constructs';
import { addBookinfo } from '../../examples/bookinfo/bookinfo';
import { freePort, LocalMesh } from '../../runtime/local/local-mesh';
import { get } from '../support/proxy';
import { tempDir } from '../support/temp-dir';
import { bundleMastd, bundleProxy } from './spawned-proxy';
import { testApp } from '../support/test-app';

/** Every process below this one (pid → parent from /proc/<pid>/stat). */
function descendants(root = process.pid): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: fields after its last ')'.
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [pid, ppid] of parent) if (ppid === p) out.push(pid), queue.push(pid);
  }
  return out;
}

const readProc = (pid: number, file: 'cmdline' | 'environ'): string => {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1').replace(/\0/g, ' ');
  } catch {
    return '';
  }
};

describe('mast local', () => {
  const dir = tempDir('mast-argv-');
  let mesh: LocalMesh | undefined;
  afterAll(() => mesh?.stop());

  test('no process it starts has the push token on its command line or in its environment; the token file is mode 0600', async () => {
    writeFileSync(
      join(dir, 'app.js'),
      "require('node:http').createServer((q, s) => s.end('web ' + q.url)).listen(Number(process.env.PORT), process.env.HOST);\n",
    );
    writeFileSync(
      join(dir, 'mesh.yaml'),
      `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: [alpha.example.com] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge, namespace: default }
spec: { hosts: [alpha.example.com], gateways: [edge], http: [{ route: [{ destination: { host: web } }] }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: web, namespace: default }
spec: { hosts: [web.default.svc.cluster.local], location: MESH_INTERNAL, resolution: STATIC, ports: [{ number: 9080, name: http, protocol: HTTP }], workloadSelector: { labels: { app: web } } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: web-v1, namespace: default, annotations: { local.mast.dev/run: ./app.js } }
spec: { address: 127.0.0.1, ports: { http: ${await freePort()} }, labels: { app: web, version: v1 } }
`,
    );
    const logs: string[] = [];
    mesh = new LocalMesh({ paths: [dir], gatewayPort: 0, adminPort: 0, debounceMs: 50, log: (l) => logs.push(l) });
    const port = await mesh.start();
    await mesh.ready(30_000);
    // The proxies did authenticate with the token (from the file): the request goes through them.
    expect(await get(port, '/hello')).toMatchObject({ status: 200, body: 'web /hello' });

    const started = descendants().map((pid) => ({ pid, cmdline: readProc(pid, 'cmdline'), environ: readProc(pid, 'environ') }));
    // The gateway, the sidecar (mast local's own bundle of runtime/proxy/main.ts) and the app at least.
    expect(started.filter((p) => p.cmdline.includes('--control-plane ')).length).toBeGreaterThanOrEqual(2);
    expect(started.filter((p) => p.cmdline.includes('app.js')).length).toBeGreaterThanOrEqual(1);
    for (const p of started) {
      expect(p.cmdline).not.toContain(mesh.token);
      expect(p.environ).not.toContain(mesh.token);
    }
    const files = started.flatMap((p) => /--token-file (\S+)/.exec(p.cmdline)?.[1] ?? []);
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of new Set(files)) {
      expect(statSync(f).mode & 0o777).toBe(0o600);
      expect(readFileSync(f, 'utf8')).toBe(mesh.token);
    }
  }, 60_000);
});

describe('mast-proxy and mastd refuse a token on the command line', () => {
  test.each([
    ['mast-proxy', ['--control-plane', '127.0.0.1:1', '--token', 'secret']],
    ['mastd', ['--watch', '.', '--token', 'secret']],
    ['mastd', ['--watch', '.', '--token=secret']],
  ] as const)(
    '%s %p exits 2 and says what to do instead',
    async (name, args) => {
      const file = name === 'mastd' ? await bundleMastd() : await bundleProxy();
      const r = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--token is refused: .*\/proc\/<pid>\/cmdline.*--token-file/);
    },
    30_000,
  );
});

describe('the Kubernetes manifests', () => {
  test('no container takes a secret as an argument or a literal environment value', () => {
    const mesh = new Mesh(testApp(), 'mesh');
    addBookinfo(mesh);
    const objects = [...Testing.synth(mesh.system), ...Testing.synth(mesh.apps)];
    const podSpecs = objects.flatMap((o) => (o.spec?.template?.spec ? [o.spec.template.spec] : []));
    const containers = podSpecs.flatMap((s) => [...(s.initContainers ?? []), ...(s.containers ?? [])]);
    expect(containers.length).toBeGreaterThan(0);
    for (const c of containers) {
      const argv: string[] = [...(c.command ?? []), ...(c.args ?? [])];
      for (const a of argv) {
        expect(a).not.toMatch(/^--(token|password|secret|key)(=|$)/);
        expect(a).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY|BEGIN CERTIFICATE/);
      }
      for (const e of c.env ?? []) if (/token|secret|password|key/i.test(e.name)) expect(e.value).toBeUndefined();
    }
  });
});
