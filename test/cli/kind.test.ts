/** From synth to kind, checked here without kind or a container engine: the generated config, the recorded command plan, the images' build context. */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KINDS } from '../../api';
import { planFor, readManifests } from '../../cli/kind';
import { imagePlan } from '../../cli/images';
import { detectEngine, type Probe } from '../../cli/kind/engine';
import { synthKindExample } from '../../cli/kind/example';
import { IMAGES } from '../../cli/kind/images';
import { describeStep, GATEWAY_NODE_PORTS, kindConfig } from '../../cli/kind/plan';
import { MAST_VERSION } from '../../constructs/version';
import { PROXY_NODE_FLAGS } from '../../runtime/contract/process';
import { tempDir } from '../support/temp-dir';

const ROOT = join(__dirname, '..', '..');
const dist = tempDir('mast-kind-dist-');
beforeAll(() => synthKindExample(dist));

/** A machine where the listed commands answer. */
const machine =
  (...present: string[]): Probe =>
  (command) =>
    present.includes(command[0])
      ? { ok: true, detail: 'ok' }
      : { ok: false, detail: command[0] === 'docker' ? 'Cannot connect to the Docker daemon' : 'not installed' };

describe('kind cluster config', () => {
  test('publishes the gateway NodePorts on 127.0.0.1 (a LoadBalancer Service would stay pending on kind)', () => {
    expect(kindConfig({ httpPort: 9090 })).toEqual({
      kind: 'Cluster',
      apiVersion: 'kind.x-k8s.io/v1alpha4',
      name: 'mast',
      nodes: [
        {
          role: 'control-plane',
          extraPortMappings: [
            { containerPort: 30080, hostPort: 9090, listenAddress: '127.0.0.1', protocol: 'TCP' },
            { containerPort: 30443, hostPort: 8443, listenAddress: '127.0.0.1', protocol: 'TCP' },
          ],
        },
      ],
    });
  });

  test('the synthesized gateway Service is a NodePort on exactly those ports, and every image is pinned and IfNotPresent', () => {
    const objects = readManifests(dist).flatMap((m) => m.objects);
    const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'mast-ingressgateway') as unknown as {
      spec: { type: string; ports: Array<{ nodePort: number }> };
    };
    expect(svc.spec.type).toBe('NodePort');
    expect(svc.spec.ports.map((p) => p.nodePort)).toEqual([GATEWAY_NODE_PORTS.http, GATEWAY_NODE_PORTS.https]);
    const containers = objects
      .filter((o) => o.kind === 'Deployment')
      .flatMap((d) => {
        const pod = (
          d as unknown as {
            spec: {
              template: {
                spec: {
                  containers: Array<{ image: string; imagePullPolicy: string }>;
                  initContainers?: Array<{ image: string; imagePullPolicy: string }>;
                };
              };
            };
          }
        ).spec.template.spec;
        return [...pod.containers, ...(pod.initContainers ?? [])];
      });
    expect(containers.length).toBeGreaterThan(10);
    for (const c of containers) {
      expect(c.imagePullPolicy).toBe('IfNotPresent');
      expect(IMAGES.map((i) => i.tag)).toContain(c.image);
      expect(c.image).toMatch(new RegExp(`:${MAST_VERSION.replace(/\./g, '\\.')}$`));
    }
  });
});

describe('mast kind up: the command plan', () => {
  test('with docker: create, load, then CRDs (established) → mast-system (rolled out) → apps (rolled out)', () => {
    const steps = planFor('up', { name: 'mast', dist, httpPort: 8080 }, machine('kind', 'kubectl', 'docker')).map(describeStep);
    const k = 'kubectl --context kind-mast';
    expect(steps).toEqual([
      `write ${join(tmpdir(), 'mast-kind-mast', 'kind-config.yaml')}`,
      `kind create cluster --name mast --config ${join(tmpdir(), 'mast-kind-mast', 'kind-config.yaml')} --wait 120s`,
      `kind load docker-image mast/proxy:${MAST_VERSION} mast/control:${MAST_VERSION} mast/bookinfo:${MAST_VERSION} --name mast`,
      `${k} apply --server-side -f ${join(dist, '0000-mast-0-crds.k8s.yaml')}`,
      `${k} wait --for condition=established --timeout 60s crd -l app.kubernetes.io/part-of=mast`,
      `${k} apply --server-side -f ${join(dist, '0001-mast-1-system.k8s.yaml')}`,
      `${k} -n mast-system rollout status deployment/mastd --timeout 180s`,
      `${k} -n mast-system rollout status deployment/mast-ingressgateway --timeout 180s`,
      `${k} apply --server-side -f ${join(dist, '0002-mast-2-apps.k8s.yaml')}`,
      ...['productpage-v1', 'details-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings-v1'].map(
        (d) => `${k} -n default rollout status deployment/${d} --timeout 180s`,
      ),
    ]);
  });

  test('the CRDs the wait selects are every CRD applied', () => {
    const crds = readManifests(dist)[0].objects;
    // The mesh kinds' CRDs and Telemetry's (telemetry.istio.io, not a mesh kind).
    expect(crds.length).toBe(Object.keys(KINDS).length + 1);
    for (const crd of crds) expect(crd.metadata.labels?.['app.kubernetes.io/part-of']).toBe('mast');
  });

  test('with podman: kind on the podman provider, images handed over as archives', () => {
    const steps = planFor('up', { name: 'dev', dist, httpPort: 8080 }, machine('kind', 'kubectl', 'podman')).map(describeStep);
    expect(steps[1]).toMatch(/^KIND_EXPERIMENTAL_PROVIDER=podman kind create cluster --name dev/);
    const archive = join(tmpdir(), 'mast-kind-dev', `mast_proxy_${MAST_VERSION}.tar`);
    expect(steps[2]).toBe(`podman save --format docker-archive -o ${archive} mast/proxy:${MAST_VERSION}`);
    expect(steps[3]).toBe(`KIND_EXPERIMENTAL_PROVIDER=podman kind load image-archive ${archive} --name dev`);
  });

  test('clear errors: kind missing, no engine, nothing synthesized', () => {
    expect(() => planFor('up', { name: 'mast', dist, httpPort: 8080 }, machine('kubectl', 'docker'))).toThrow('kind is not installed');
    expect(() => planFor('up', { name: 'mast', dist, httpPort: 8080 }, machine('kind', 'kubectl'))).toThrow(
      'no container engine to load the images from (docker: Cannot connect to the Docker daemon; podman: not installed; buildah: not installed)',
    );
    expect(() => planFor('up', { name: 'mast', dist: join(dist, 'nope'), httpPort: 8080 }, machine('kind', 'kubectl', 'docker'))).toThrow(
      'run `npm run synth` first',
    );
    expect(planFor('down', { name: 'mast', dist, httpPort: 8080 }, machine()).map(describeStep)).toEqual([
      'kind delete cluster --name mast',
    ]);
  });
});

describe('images', () => {
  test('engine detection: docker only with a daemon, else podman, else buildah; --engine picks one', () => {
    expect(detectEngine(machine('docker', 'podman')).engine).toBe('docker');
    expect(detectEngine(machine('podman', 'buildah')).engine).toBe('podman');
    expect(detectEngine(machine('buildah')).engine).toBe('buildah');
    expect(detectEngine(machine('docker', 'buildah'), 'buildah').engine).toBe('buildah');
    expect(detectEngine(machine()).tried).toEqual([
      'docker: Cannot connect to the Docker daemon',
      'podman: not installed',
      'buildah: not installed',
    ]);
  });

  test('build commands per engine, tags from the package version', () => {
    const all = () => true;
    expect(imagePlan(machine('podman'), undefined, all).commands).toEqual(
      IMAGES.map((i) => ['podman', 'build', '-t', i.tag, '-f', i.dockerfile, '.']),
    );
    expect(imagePlan(machine('buildah'), undefined, all).commands[0]).toEqual([
      'buildah',
      'build',
      '--layers',
      '-t',
      `mast/proxy:${MAST_VERSION}`,
      '-f',
      'images/proxy/Dockerfile',
      '.',
    ]);
    expect(() => imagePlan(machine('docker'), undefined, (f) => f !== 'api/')).toThrow(/lacks what the Dockerfiles copy: api\/$/);
  });

  test('every file a Dockerfile copies from the context is declared and let through by .dockerignore', () => {
    const allowed = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1));
    for (const image of IMAGES) {
      const dockerfile = readFileSync(join(ROOT, image.dockerfile), 'utf8');
      // Node pinned to the release the bench measures mast on (bench/image-node.mjs fetches it), as the
      // default of the one build arg every stage starts from.
      expect(dockerfile).toMatch(new RegExp(`^ARG NODE_IMAGE=node:${BENCH_NODE.replace(/\./g, '\\.')}-slim@sha256:[0-9a-f]{64}$`, 'm'));
      for (const from of dockerfile.match(/^FROM .*$/gm)!) expect(from).toMatch(/^FROM \$\{NODE_IMAGE\}( AS \w+)?$/);
      expect(dockerfile).toMatch(/^USER \d+:\d+$/m);
      const copies = dockerfile
        .split('\n')
        .filter((l) => /^COPY /.test(l) && !l.includes('--from='))
        .flatMap((l) => l.split(/\s+/).slice(1, -1));
      expect(copies.length).toBeGreaterThan(0);
      for (const src of copies) {
        expect(image.inputs).toContain(src);
        expect(allowed.some((a) => src === a || (a.endsWith('/') && src.startsWith(a)))).toBe(true);
      }
    }
  });
});

/** The Node release the bench runs mast on, as bench/image-node.mjs pins it. */
const BENCH_NODE = /^const VERSION = '([\d.]+)';$/m.exec(readFileSync(join(ROOT, 'bench', 'image-node.mjs'), 'utf8'))![1];

test('the proxy image starts mast-proxy with the node flags mast local and the bench use', () => {
  const entrypoint = /^ENTRYPOINT (.*)$/m.exec(readFileSync(join(ROOT, 'images', 'proxy', 'Dockerfile'), 'utf8'))![1];
  expect(JSON.parse(entrypoint)).toEqual(['node', ...PROXY_NODE_FLAGS, '/app/mast-proxy.js']);
});

describe('mast kind smoke', () => {
  test('fails each check against a gateway that answers but does not route', async () => {
    const http = await import('node:http');
    const server = http.createServer((_req, res) =>
      res.end(JSON.stringify({ service: 'productpage', calls: [{ status: 503 }, { status: 200, service: 'reviews', version: 'v1' }] })),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { smoke } = await import('../../cli/kind/smoke');
    const results = await smoke(`http://127.0.0.1:${(server.address() as { port: number }).port}`, 'alpha.example.com', 20);
    server.close();
    expect(results.map((r) => [r.ok, r.detail])).toEqual([
      [false, 'details missing, reviews 200'],
      [false, 'reviews v1, ratings missing'],
      [false, 'v1 20'],
    ]);
  });
});
