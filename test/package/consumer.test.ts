/**
 * mast as its users get it: `npm pack` this project, install the tarball into a fresh project in
 * the `cdk init app --language typescript` layout, and there type-check with the consumer's
 * tsconfig, run the consumer's jest (default config of the template) on a snapshot of the mesh
 * YAML and on the AWS stack, `cdk synth`, and run `npx mast --help`, `mast validate` and `mast local`
 * (with `--intercept` too when run as root; its native addon is built from the shipped source either way).
 * Minutes, not seconds (pack, install): left out of `npm test` (jest.config.js) and run by
 * `npm run test:package`, which .ci/run runs after it. MAST_PACKAGE_TARBALL=<file.tgz> reuses a packed tarball.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { freePort } from '../../runtime/local/local-mesh';
import { interceptUnavailable } from '../../runtime/local/netns';
import { until } from '../support/poll';
import { tempDir } from '../support/temp-dir';
import { consumerFiles, GATEWAY_HOST } from './consumer-project';

const ROOT = join(__dirname, '..', '..');

/**
 * A command in the consumer project, as its developer runs it: not under this run's CI variables
 * (with CI set, jest writes no new snapshot; the second run passes `--ci` itself).
 */
function run(command: string, args: string[], cwd: string, timeoutMs: number): SpawnSyncReturns<string> {
  const { CI: _ci, CONTINUOUS_INTEGRATION: _ci2, ...env } = process.env;
  return spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...env, npm_config_update_notifier: 'false', CDK_DISABLE_VERSION_CHECK: '1' },
  });
}

/** The command's outcome in a shape whose failure message shows what went wrong. */
const outcome = (r: SpawnSyncReturns<string>) => ({
  status: r.status,
  error: r.error?.message,
  tail: r.status === 0 ? '' : `${r.stdout}\n${r.stderr}`.slice(-3000),
});
const OK = { status: 0, error: undefined, tail: '' };

describe('the packed package in a cdk init project', () => {
  const work = tempDir('mast-consumer-');
  const app = join(work, 'shop');
  let tarball = process.env.MAST_PACKAGE_TARBALL ?? '';
  let appPort = 0;

  beforeAll(async () => {
    if (!tarball) {
      const packed = run('npm', ['pack', '--pack-destination', work, '--silent'], ROOT, 600_000);
      expect(outcome(packed)).toEqual(OK);
      tarball = join(work, packed.stdout.trim().split('\n').at(-1)!);
    }
    appPort = await freePort();
    for (const [file, text] of Object.entries(consumerFiles(tarball, appPort))) {
      mkdirSync(dirname(join(app, file)), { recursive: true });
      writeFileSync(join(app, file), text);
    }
    const installed = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], app, 600_000);
    expect(outcome(installed)).toEqual(OK);
  }, 1_200_000);

  test('the tarball ships compiled JavaScript with declarations, the Dockerfiles and their sources, and no tests or bench', () => {
    const listed = run('tar', ['-tzf', tarball], work, 60_000);
    const files = listed.stdout.split('\n').filter(Boolean);
    for (const f of [
      'package/out/lib/index.js',
      'package/out/lib/index.d.ts',
      'package/out/api/index.d.ts',
      'package/out/constructs/index.d.ts',
      'package/bin/mast',
      'package/images/proxy/Dockerfile',
      'package/images/build/package-lock.json',
      'package/.dockerignore',
      'package/runtime/proxy/main.ts',
      'package/CHANGELOG.md',
    ])
      expect(files).toContain(f);
    expect(files.filter((f) => /^package\/(test|bench|cdk\.out|dist|build)\//.test(f) || /\.test\.[jt]s$/.test(f))).toEqual([]);
    // One package.json: tsc's copy under out/ (a second package named mast) is not shipped.
    expect(files.filter((f) => f.endsWith('/package.json') && !f.startsWith('package/images/'))).toEqual(['package/package.json']);
    // A peer, not a copy: one aws-cdk-lib in the consumer, so its types and classes are the user's.
    expect(existsSync(join(app, 'node_modules', 'mast', 'node_modules', 'aws-cdk-lib'))).toBe(false);
  });

  test("the consumer's own tsc (the template's TypeScript, NodeNext) accepts mast's types", () => {
    expect(outcome(run('npx', ['tsc'], app, 300_000))).toEqual(OK);
  }, 300_000);

  test("an older layout's tsc (CommonJS, node10 resolution: no exports map) finds the subpaths' declarations, not the shipped sources", () => {
    // This repository's TypeScript 5.9 (TypeScript 7 has no node10 resolution) on the consumer's project.
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    // The list of every file of the program is long (aws-cdk-lib's declarations): a buffer to match.
    const listed = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.node10.json', '--listFiles'], {
      cwd: app,
      encoding: 'utf8',
      timeout: 300_000,
      maxBuffer: 256 * 1024 * 1024,
    });
    const lines = listed.stdout.split('\n');
    expect({ status: listed.status, errors: lines.filter((l) => /error TS/.test(l)) }).toEqual({ status: 0, errors: [] });
    const ofMast = lines.map((l) => /node_modules\/mast\/(.*)$/.exec(l)?.[1]).filter((f): f is string => !!f);
    for (const entry of ['out/constructs/index.d.ts', 'out/api/index.d.ts', 'out/lib/index.d.ts']) expect(ofMast).toContain(entry);
    expect(ofMast.filter((f) => !f.endsWith('.d.ts'))).toEqual([]);
  }, 300_000);

  test("the consumer's jest, default config: a snapshot of the mesh YAML, written and then matched", () => {
    expect(outcome(run('npx', ['jest'], app, 300_000))).toEqual(OK);
    const snapshots = join(app, 'test', '__snapshots__');
    const snapshot = readFileSync(join(snapshots, readdirSync(snapshots)[0]), 'utf8');
    expect(snapshot).toContain('"kind": "VirtualService"');
    expect(snapshot).toContain(GATEWAY_HOST);
    expect(outcome(run('npx', ['jest', '--ci'], app, 300_000))).toEqual(OK);
  }, 600_000);

  test('cdk synth: the stack, and image assets whose context is the installed package', () => {
    expect(outcome(run('npx', ['cdk', 'synth', '--quiet', '--no-notices'], app, 600_000))).toEqual(OK);
    const assets = JSON.parse(readFileSync(join(app, 'cdk.out', 'ShopStack.assets.json'), 'utf8'));
    const images = Object.values(assets.dockerImages) as { source: { directory: string; dockerFile: string } }[];
    expect(images.map((i) => i.source.dockerFile).sort()).toEqual(['images/control/Dockerfile', 'images/proxy/Dockerfile']);
    for (const image of images) {
      const dir = join(app, 'cdk.out', image.source.directory);
      for (const f of [
        'images/proxy/Dockerfile',
        'images/build/package-lock.json',
        'scripts/bundle.mjs',
        'runtime/proxy/main.ts',
        'api/index.ts',
      ])
        expect(existsSync(join(dir, f))).toBe(true);
      expect(existsSync(join(dir, 'out'))).toBe(false);
    }
  }, 600_000);

  test('npx mast --help and mast validate run the compiled CLI', () => {
    const help = run('npx', ['mast', '--help'], app, 60_000);
    expect(outcome(help)).toEqual(OK);
    expect(help.stdout).toContain('Usage: mast <command>');
    expect(outcome(run('npx', ['mast', 'validate', '-f', 'mesh'], app, 60_000))).toEqual(OK);
    // A route bound to a Gateway that does not exist is reported with its code: validate really ran.
    writeFileSync(
      join(app, 'bad.yaml'),
      readFileSync(join(app, 'mesh', 'shop.yaml'), 'utf8').replace('gateways: [shop]', 'gateways: [nowhere]'),
    );
    const bad = run('npx', ['mast', 'validate', '-f', 'bad.yaml'], app, 60_000);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/MAST\d{4}/);
  }, 120_000);

  /**
   * `npx mast local` in the consumer with `extra` flags, until the gateway answers /hello (or 60 s pass);
   * `whileServing` looks at the running mesh once it has answered.
   */
  async function localAnswer(extra: string[], whileServing: () => void = () => {}): Promise<{ answer: string; output: string }> {
    const [gatewayPort, adminPort] = [await freePort(), await freePort()];
    const local = spawn(
      'npx',
      ['mast', 'local', '-f', 'mesh', '-f', 'local', '--gateway-port', `${gatewayPort}`, '--admin-port', `${adminPort}`, ...extra],
      {
        cwd: app,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    let output = '';
    local.stdout.on('data', (d) => (output += d));
    local.stderr.on('data', (d) => (output += d));
    let answer = '';
    try {
      // Until the gateway answers, or mast local has exited (its output then says why).
      await until(
        'the gateway to answer',
        async () => local.exitCode !== null || (answer = await get(gatewayPort, '/hello').catch((e: Error) => e.message)).startsWith('200'),
        60_000,
      ).catch(() => undefined);
      if (answer.startsWith('200')) whileServing();
    } finally {
      if (local.exitCode === null) {
        process.kill(-local.pid!, 'SIGTERM');
        await new Promise((r) => local.once('exit', r));
      }
    }
    return { answer, output: answer.startsWith('200') ? '' : output.slice(-2000) };
  }

  test('mast local from the package: the gateway routes to the app (the compiled proxy, a JavaScript app run as is)', async () => {
    expect(await localAnswer([])).toEqual({ answer: '200 shop web /hello', output: '' });
  }, 120_000);

  test("--intercept's SO_ORIGINAL_DST addon: built from the shipped source on first use in the installed package, and it loads", () => {
    const mast = join(app, 'node_modules', 'mast');
    expect(existsSync(join(mast, 'build', 'original_dst.node'))).toBe(false);
    // What mast local --intercept calls before it starts a sidecar (a deep path: the exports map keeps it private).
    const script = `
      const { originalDstAddon } = require(${JSON.stringify(join(mast, 'out', 'runtime', 'local', 'original-dst-addon.js'))});
      const addon = require(originalDstAddon(require('node:os').tmpdir()));
      console.log(JSON.stringify(addon.originalDst(-1)));`;
    const loaded = run(process.execPath, ['-e', script], app, 300_000);
    expect(outcome(loaded)).toEqual(OK);
    expect(loaded.stdout.trim()).toBe('null');
    expect(existsSync(join(mast, 'build', 'original_dst.node'))).toBe(true);
  }, 300_000);

  // Network namespaces and iptables: root only (the machine running .ci/run is root; elsewhere the addon test above stands in).
  (interceptUnavailable() ? test.skip : test)(
    'mast local --intercept from the package: the app, in its own network namespace, answers through its captured sidecar',
    async () => {
      // The sidecars run as uid 1337: the project's folders let others through, as a project's
      // usually do (this scratch folder is mkdtemp's 0700 until now).
      chmodSync(work, 0o755);
      // The sidecar (the package's compiled proxy) has the addon loaded: it read the original
      // destination of the connection iptables handed it, rather than falling back to Host.
      const proxyMain = join(app, 'node_modules', 'mast', 'out', 'runtime', 'proxy', 'main.js');
      let sidecars: { uid: string; addon: boolean }[] = [];
      const look = () => {
        sidecars = readdirSync('/proc')
          .filter((pid) => /^\d+$/.test(pid))
          .flatMap((pid) => {
            try {
              const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
              // The sidecar itself (--mode sidecar), not its short-lived certificate request (`main.js csr`).
              if (!argv.includes(proxyMain) || argv[argv.indexOf('--mode') + 1] !== 'sidecar') return [];
              const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
              return [{ uid, addon: readFileSync(`/proc/${pid}/maps`, 'utf8').includes('original_dst.node') }];
            } catch {
              return []; // gone meanwhile
            }
          });
      };
      expect(await localAnswer(['--intercept'], look)).toEqual({ answer: '200 shop web /hello', output: '' });
      // The one workload's sidecar, as uid 1337, with the addon mapped.
      expect(sidecars.map(({ uid, addon }) => ({ uid, addon }))).toEqual([{ uid: '1337', addon: true }]);
    },
    120_000,
  );
});

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: GATEWAY_HOST }, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject).on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}
