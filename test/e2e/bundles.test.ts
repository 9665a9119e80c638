/** The one-file bundles the images copy run on their own: no node_modules next to them. */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { IMAGES } from '../../cli/kind/images';
import { x509 } from '../../runtime/contract/x509';
import { CertificateAuthority } from '../../runtime/control/ca';
import { freePort } from '../../runtime/local/local-mesh';
import { gatewayDoc, gatewayRouteDoc, meshYaml, serviceEntryDoc } from '../support/mesh-yaml';
import { backend, cluster, config, forward, get, until } from '../support/proxy';
import { tempDir } from '../support/temp-dir';
import { builtFile } from '../support/build';

describe('mast-proxy bundle', () => {
  const dir = tempDir('mast-bundle-');
  const tokenFile = join(dir, 'push-token');
  beforeAll(() => {
    for (const name of ['mast-proxy', 'mastd', 'bookinfo']) copyFileSync(builtFile(`${name}.js`), join(dir, `${name}.js`));
    // mast-proxy's parts (scripts/bundle.mjs), as the image copies them: mast-proxy*.js.
    for (const name of readdirSync(dirname(builtFile('mast-proxy.js'))))
      if (/^mast-proxy-.*\.js$/.test(name)) copyFileSync(builtFile(name), join(dir, name));
    writeFileSync(tokenFile, 't', { mode: 0o600 });
  });
  /** The bundle's mastd.js watching `watch`, on these ports, with the push token, and `extra` flags. */
  const spawnMastd = (watch: string, push: number, monitoring: number, extra: string[] = []) =>
    spawn(
      process.execPath,
      [
        join(dir, 'mastd.js'),
        '--watch',
        watch,
        '--push-port',
        String(push),
        '--monitoring-port',
        String(monitoring),
        '--token-file',
        tokenFile,
        ...extra,
      ],
      { cwd: dir },
    );

  test('every bundle an image copies is built by `npm run build` (the same scripts, into build/)', () => {
    for (const image of IMAGES) expect(() => builtFile(image.bundle)).not.toThrow();
  });

  test('mastd.js on a directory of YAML: the whole-mesh analysis runs on its worker thread, findings keep file and line', async () => {
    const mesh = tempDir('mast-bundle-mesh-');
    // Valid alone, wrong together: a route to a subset no DestinationRule defines (MAST0203).
    writeFileSync(
      join(mesh, 'mesh.yaml'),
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec: { host: reviews, subsets: [{ name: v1, labels: { version: v1 } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
    - route: [{ destination: { host: reviews, subset: v9 } }]
`,
    );
    const [push, monitoring] = [await freePort(), await freePort()];
    const mastd = spawnMastd(mesh, push, monitoring);
    try {
      await new Promise<void>((resolve, reject) => {
        let err = '';
        mastd.stderr.on('data', (d) => ((err += d), /mastd started/.test(err) && resolve()));
        mastd.on('exit', (code) => reject(new Error(`mastd.js exited ${code}: ${err}`)));
      });
      const report = JSON.parse((await get(monitoring, '/debug/analyze')).body);
      expect(report.findings).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ code: 'MAST0203', kind: 'VirtualService', name: 'reviews', file: join(mesh, 'mesh.yaml'), line: 12 }),
          expect.objectContaining({ code: 'MAST0221', kind: 'DestinationRule', name: 'reviews', line: 4 }),
        ]),
      );
      expect((await get(monitoring, '/metrics')).body).toMatch(/^mastd_analyses_on_worker_total 1$/m);
    } finally {
      mastd.kill('SIGKILL');
    }
  });

  test('mastd.js --push-tls on with its root from files; mast-proxy.js verifies the push port with --control-plane-ca and gets its config', async () => {
    const mesh = tempDir('mast-bundle-tls-');
    const ca = await CertificateAuthority.generate('cluster.local');
    writeFileSync(join(mesh, 'ca.crt'), ca.rootPem);
    writeFileSync(join(mesh, 'ca.key'), ca.rootKeyPem);
    writeFileSync(
      join(mesh, 'mesh.yaml'),
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: web, namespace: default }\nspec: { hosts: [web.example.com], gateways: [mast-system/mast-ingressgateway], http: [{ route: [{ destination: { host: web } }] }] }\n',
    );
    const [push, monitoring, admin] = [await freePort(), await freePort(), await freePort()];
    const started = (child: ReturnType<typeof spawn>, ready: RegExp) =>
      new Promise<void>((resolve, reject) => {
        let err = '';
        child.stderr!.on('data', (d) => ((err += d), ready.test(err) && resolve()));
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
    const mastd = spawnMastd(join(mesh, 'mesh.yaml'), push, monitoring, [
      '--push-tls',
      'on',
      '--ca-cert',
      join(mesh, 'ca.crt'),
      '--ca-key',
      join(mesh, 'ca.key'),
    ]);
    const proxy = spawn(
      process.execPath,
      [
        join(dir, 'mast-proxy.js'),
        '--control-plane',
        `127.0.0.1:${push}`,
        '--control-plane-ca',
        join(mesh, 'ca.crt'),
        '--control-plane-name',
        'mastd.mast-system.svc',
        '--token-file',
        tokenFile,
        '--port-map',
        '80=0',
        '--admin-port',
        String(admin),
      ],
      { cwd: dir },
    );
    try {
      await started(mastd, /push port serving TLS for mastd, mastd\.mast-system, mastd\.mast-system\.svc, .*127\.0\.0\.1/);
      await started(proxy, /connected to the control plane at 127\.0\.0\.1:\d+/);
      const version = await until(
        'the pushed config at the proxy',
        async () => (JSON.parse((await get(admin, '/config_dump')).body) as { version: string | null }).version,
        10_000,
      );
      expect(version).toBe('v1');
    } finally {
      mastd.kill('SIGKILL');
      proxy.kill('SIGKILL');
    }
  });

  test('mastd.js --help, and bookinfo.js serving, standalone', async () => {
    expect(execFileSync(process.execPath, [join(dir, 'mastd.js'), '--help'], { cwd: dir }).toString()).toMatch(
      /^mastd: the mast control plane/,
    );
    const port = await freePort();
    const app = spawn(process.execPath, [join(dir, 'bookinfo.js')], {
      cwd: dir,
      env: { PORT: String(port), HOST: '127.0.0.1', SERVICE: 'ratings', VERSION: 'v9' },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        app.stdout.on('data', (d) => /listening/.test(String(d)) && resolve());
        app.on('exit', (code) => reject(new Error(`bookinfo.js exited ${code}`)));
      });
      expect(JSON.parse((await get(port, '/x')).body)).toEqual({ service: 'ratings', version: 'v9', path: '/x' });
    } finally {
      app.kill('SIGKILL');
    }
  });

  test.each([
    [['--push-tls', 'yes'], 'mastd: --push-tls must be on or off, not "yes"'],
    [['--cert-ttl-hours', '0'], 'mastd: --cert-ttl-hours must be a number of hours above 0, at most 8760, not "0"'],
    [['--cert-ttl-hours', 'day'], 'mastd: --cert-ttl-hours must be a number of hours above 0, at most 8760, not "day"'],
    [['--push-tls', 'on', '--push-names', 'a_b'], 'mastd: --push-names: "a_b" is not a DNS name or an IP address'],
    [['--token-fil', 'x'], expect.stringMatching(/^mastd: Unknown option '--token-fil'.*\(see --help\)$/)],
    [
      [],
      'mastd: --watch needs --token-file: without it any process that reaches the push port could take a workload certificate for any identity',
    ],
  ])('mastd.js %j is refused before it starts', (args, message) => {
    const run = spawnSync(process.execPath, [join(dir, 'mastd.js'), '--watch', dir, ...args], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect([run.status, run.stderr.trimEnd()]).toEqual([2, message]);
  });

  test('each bundle is one-byte text (a wider character would make V8 hold the whole script as two-byte)', () => {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the range of one-byte characters, control characters included
    const oneByte = /^[\x00-\xff]*$/;
    for (const name of readdirSync(dir).filter((f) => f.endsWith('.js'))) expect(readFileSync(join(dir, name), 'utf8')).toMatch(oneByte);
  });

  test('--help', () => {
    expect(execFileSync(process.execPath, [join(dir, 'mast-proxy.js'), '--help'], { cwd: dir }).toString()).toMatch(
      /^mast-proxy: the mast data plane/,
    );
  });

  test("the app's probes it is given are checked before it starts", () => {
    const run = spawnSync(process.execPath, [join(dir, 'mast-proxy.js'), '--config', 'none.json', '--mode', 'sidecar'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, MAST_APP_PROBERS: '{"/app-health/web/readyz":{"tcpSocket":{"port":"http"}}}' },
    });
    expect([run.status, run.stderr]).toEqual([
      2,
      'mast-proxy: MAST_APP_PROBERS "/app-health/web/readyz".tcpSocket.port: "http" is not a port number 1-65535 (named ports are resolved at injection)\n',
    ]);
  });

  test('`csr`: a fresh key and its certificate request (the short-lived helper a mastd-fed proxy runs, so the X.509 library never stays in it)', async () => {
    const made = JSON.parse(execFileSync(process.execPath, [join(dir, 'mast-proxy.js'), 'csr'], { cwd: dir }).toString());
    expect(made.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const request = new x509.Pkcs10CertificateRequest(made.csr);
    expect(await request.verify()).toBe(true);
    expect(
      createPublicKey(createPrivateKey(made.key)).export({ format: 'der', type: 'spki' }).equals(Buffer.from(request.publicKey.rawData)),
    ).toBe(true);
  });

  test('--mesh: compiles mesh YAML (in a helper process of itself) and serves it; a resource with errors stops the start with its finding', async () => {
    const a = await backend('a');
    const port = await freePort();
    writeFileSync(
      join(dir, 'mesh.yaml'),
      meshYaml(
        gatewayDoc(['alpha.example.com']),
        gatewayRouteDoc('edge', ['alpha.example.com'], 'a'),
        serviceEntryDoc({ name: 'a', internal: false, endpoints: [a.port] }),
      ),
    );
    const child = spawn(
      process.execPath,
      [join(dir, 'mast-proxy.js'), '--mesh', join(dir, 'mesh.yaml'), '--port-map', `80=${port}`, '--admin-port', '0'],
      { cwd: dir },
    );
    try {
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (d) => ((stderr += d), /ready/.test(stderr) && resolve()));
        child.on('exit', () => reject(new Error(stderr)));
      });
      expect(stderr).toMatch(/^mast-proxy gateway ready: config file-1, listeners 0\.0\.0\.0_80@\d+/);
      expect(await get(port, '/x', { host: 'alpha.example.com' })).toMatchObject({ status: 200, body: 'a /x' });
    } finally {
      child.kill('SIGKILL');
      await a.close();
    }
    writeFileSync(
      join(dir, 'bad.yaml'),
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: x }\nspec: { hosts: [x], http: [{ route: [{ destination: { host: a, port: { number: 99999 } } }] }] }\n',
    );
    const bad = spawnSync(process.execPath, [join(dir, 'mast-proxy.js'), '--mesh', join(dir, 'bad.yaml'), '--admin-port', '0'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(
      `Error MAST0005 VirtualService x spec.http[0].route[0].destination.port.number: 99999 is outside 1..65535 (${join(dir, 'bad.yaml')}:4)`,
    );
  });

  test('serves a static config from --config, and drains on SIGTERM', async () => {
    const a = await backend('a');
    const cfg = config([forward('a')], [cluster('a', [a.port])]);
    writeFileSync(join(dir, 'proxy.json'), JSON.stringify(cfg));
    // Which of Node's modules and which files the process loaded, written as it exits.
    writeFileSync(
      join(dir, 'modules.js'),
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(join(dir, 'modules.txt'))}, [...process.moduleLoadList, ...Object.keys(require.cache)].join('\\n')));`,
    );
    const statusPort = await freePort();
    const child = spawn(
      process.execPath,
      [
        '-r',
        join(dir, 'modules.js'),
        join(dir, 'mast-proxy.js'),
        '--config',
        join(dir, 'proxy.json'),
        '--admin-port',
        '0',
        '--status-port',
        String(statusPort),
        '--drain-seconds',
        '1',
      ],
      { cwd: dir },
    );
    let stderr = '';
    // The listener's port is the kernel's pick (a fixed one collides with another run on this
    // machine), read from the ready line: `listeners <name>@<port>`.
    const port = await new Promise<number>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        const ready = /ready: .*listeners \S+@(\d+)/.exec(stderr);
        if (ready) resolve(Number(ready[1]));
      });
      child.on('exit', () => reject(new Error(stderr)));
    });
    expect(await get(port, '/hello')).toMatchObject({ status: 200, body: 'a /hello' });
    // The status port (kubelet's probes, Prometheus) answers readiness and stats, and nothing else.
    expect(await get(statusPort, '/healthz/ready')).toMatchObject({ status: 200, body: 'LIVE\n' });
    expect((await get(statusPort, '/stats/prometheus')).body).toContain('istio_requests_total{reporter="source"');
    expect((await get(statusPort, '/config_dump')).status).toBe(404);
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await a.close();
    // With no TLS listener and no workload certificate, OpenSSL's ≈ 5 MB and node:http's ≈ 1 MB are never taken;
    // nor node:v8 until the admin port's /memory is asked for.
    const loaded = readFileSync(join(dir, 'modules.txt'), 'utf8').split('\n');
    expect(loaded).toContain('NativeModule net');
    expect(loaded.filter((m) => /^NativeModule (tls|crypto|http|http2|_http_\w+|v8)$/.test(m))).toEqual([]);
    // A config with no CEL filter, no regex, no OTLP export and no workload certificate loads none of the bundle's parts.
    expect(loaded.filter((file) => file.startsWith('/')).map((file) => basename(file))).toEqual(['modules.js', 'mast-proxy.js']);
  });
});
