/**
 * The three images, built for real with buildah from the directories `cdk deploy` would hand to
 * docker (the stack's image assets, as CDK stages them), and run with podman: mastd serves a mesh
 * file, the proxy image's gateway takes its config from it and proxies a request to the bookinfo
 * image's app, all on the host's loopback. No registry is reachable here, so the
 * base is a stand-in for node:24.21.0-slim (scripts/standin-base.mjs: Debian bookworm, the same
 * Node.js release and npm), given through the Dockerfiles' NODE_IMAGE build arg; the build stages
 * still download their packages (npm registry, deb.debian.org), as they would in `cdk deploy`.
 * Opt-in (`npm run test:images`, minutes); skipped, saying why, without root, buildah, podman or debootstrap.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { IMAGES } from '../../cli/kind/images';
import { MeshImages } from '../../lib';
import { freePort } from '../../runtime/local/local-mesh';
import { gatewayDoc, gatewayRouteDoc, meshYaml, serviceEntryDoc } from '../support/mesh-yaml';
import { get } from '../support/proxy';
import { until } from '../support/poll';
import { tempDir } from '../support/temp-dir';

const ROOT = join(__dirname, '..', '..');
const PROXY_UID = 1337;
/** What podman needs in this sandbox: runc (crun refuses cgroups v1 here) and limits it may set. */
const RUN_FLAGS = ['--runtime', 'runc', '--network', 'host', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];

function missing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (buildah and podman with the host network)';
  for (const tool of ['buildah', 'podman', 'debootstrap', 'runc']) {
    const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
    if (r.error) return `${tool} is not installed (apt-get install buildah podman debootstrap runc)`;
  }
  return undefined;
}
const reason = missing();
if (reason) console.log(`image test skipped: ${reason}`);

const sh = (cmd: string, args: string[], timeout = 60_000) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? `exit ${r.status}`}\n${(r.stderr || r.stdout).slice(-3000)}`);
  return r.stdout.trim();
};
const standinTag = (tag: string) => `localhost/${tag}-standin`;
const image = (name: 'proxy' | 'control' | 'bookinfo') => standinTag(IMAGES.find((i) => i.tag.startsWith(`mast/${name}:`))!.tag);

(reason ? describe.skip : describe)('the images, built with buildah on a stand-in base and run with podman', () => {
  const containers: string[] = [];
  let base: string;

  const run = (name: string, img: string, args: string[], extra: string[] = []) => {
    const id = `mast-images-${process.pid}-${name}`;
    containers.push(id);
    sh('podman', ['run', '-d', '--name', id, ...RUN_FLAGS, ...extra, img, ...args]);
    return id;
  };
  const logs = (id: string) => () => spawnSync('podman', ['logs', id], { encoding: 'utf8' }).stderr.slice(-3000);

  /** Each Dockerfile's build context as CDK stages it for `cdk deploy` (cdk.out/asset.<hash>). */
  let staged: Map<string, string>;

  beforeAll(() => {
    const outdir = tempDir('mast-images-assets-');
    const app = new App({ outdir });
    void new MeshImages(new Stack(app, 'Images'), 'Images', { arm64: false }).bookinfo;
    app.synth();
    const assets = JSON.parse(readFileSync(join(outdir, 'Images.assets.json'), 'utf8')).dockerImages;
    staged = new Map(
      Object.values(assets as Record<string, { source: { directory: string; dockerFile: string } }>).map((a) => [
        a.source.dockerFile,
        join(outdir, a.source.directory),
      ]),
    );
    base = sh('node', [join(ROOT, 'scripts', 'standin-base.mjs')], 1_500_000)
      .split('\n')
      .pop()!;
  }, 1_600_000);

  afterAll(() => {
    if (containers.length) spawnSync('podman', ['rm', '-f', '-t', '0', ...containers], { stdio: 'ignore' });
  });

  test.each(IMAGES.map((i) => [i.dockerfile, i.tag]))(
    '%s builds in the asset directory CDK stages (buildah, chroot isolation) as %s',
    (dockerfile, tag) => {
      const context = staged.get(dockerfile)!;
      sh(
        'buildah',
        [
          'build',
          '--layers',
          '--pull=never',
          '--isolation',
          'chroot',
          '--ulimit',
          'nofile=20000:20000',
          '--build-arg',
          `NODE_IMAGE=${base}`,
          '-t',
          standinTag(tag),
          '-f',
          join(context, dockerfile),
          context,
        ],
        900_000,
      );
      const [{ Config: config }] = JSON.parse(sh('podman', ['image', 'inspect', standinTag(tag)]));
      expect(config.User).toMatch(/^\d+:\d+$/);
      expect(config.Entrypoint[0]).toBe('node');
    },
    900_000,
  );

  test('the proxy image: its SO_ORIGINAL_DST addon loads on its Node, iptables and mast-capture are there', () => {
    const probe = (cmd: string[]) => sh('podman', ['run', '--rm', ...RUN_FLAGS, '--entrypoint', cmd[0], image('proxy'), ...cmd.slice(1)]);
    expect(probe(['node', '-p', "process.version + ' ' + typeof require('/app/original_dst.node').originalDst"])).toBe('v24.21.0 function');
    expect(probe(['iptables', '--version'])).toMatch(/^iptables v1\.8/);
    expect(probe(['mast-capture', '--dry-run'])).toMatch(/-j REDIRECT --to-ports/);
    expect(probe(['id', '-u'])).toBe(String(PROXY_UID));
  });

  test('mastd serves a mesh directory, the gateway gets its config and proxies a request to the bookinfo app', async () => {
    const [push, monitoring, gateway, admin, status, app] = await Promise.all([1, 2, 3, 4, 5, 6].map(() => freePort()));
    const mesh = tempDir('mast-images-mesh-');
    chmodSync(mesh, 0o755);
    writeFileSync(
      join(mesh, 'mesh.yaml'),
      meshYaml(
        gatewayDoc(['alpha.example.com']),
        serviceEntryDoc({ name: 'ratings', endpoints: [app] }),
        gatewayRouteDoc('alpha', ['alpha.example.com'], 'ratings.default.svc.cluster.local'),
      ),
    );
    writeFileSync(join(mesh, 'push-token'), 'images-test', { mode: 0o600 });
    chownSync(join(mesh, 'push-token'), PROXY_UID, PROXY_UID);
    const volume = ['-v', `${mesh}:/mesh:ro`];

    const bookinfo = run(
      'bookinfo',
      image('bookinfo'),
      [],
      ['-e', `PORT=${app}`, '-e', 'HOST=127.0.0.1', '-e', 'SERVICE=ratings', '-e', 'VERSION=v1'],
    );
    const mastd = run(
      'mastd',
      image('control'),
      [
        '--watch',
        '/mesh/mesh.yaml',
        '--push-port',
        String(push),
        '--monitoring-port',
        String(monitoring),
        '--token-file',
        '/mesh/push-token',
      ],
      volume,
    );
    await until('mastd ready', async () => (await get(monitoring, '/ready').catch(() => undefined))?.status === 200, 60_000, logs(mastd));
    await until(
      'the bookinfo app serving',
      async () => (await get(app, '/').catch(() => undefined))?.status === 200,
      60_000,
      logs(bookinfo),
    );

    const proxy = run(
      'gateway',
      image('proxy'),
      [
        '--control-plane',
        `127.0.0.1:${push}`,
        '--token-file',
        '/mesh/push-token',
        '--port-map',
        `80=${gateway}`,
        '--admin-port',
        String(admin),
        '--status-port',
        String(status),
      ],
      volume,
    );
    const version = await until(
      'the pushed config at the gateway',
      async () => (JSON.parse((await get(admin, '/config_dump').catch(() => ({ body: '{}' }))).body) as { version?: string }).version,
      60_000,
      logs(proxy),
    );
    expect(version).toBe('v1');
    await until(
      'the gateway ready',
      async () => (await get(status, '/healthz/ready').catch(() => undefined))?.status === 200,
      30_000,
      logs(proxy),
    );
    const reply = await get(gateway, '/ratings/0', { host: 'alpha.example.com' });
    expect([reply.status, JSON.parse(reply.body)]).toEqual([200, { service: 'ratings', version: 'v1', path: '/ratings/0' }]);
  }, 180_000);
});
