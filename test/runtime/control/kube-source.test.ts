/**
 * mastd on the Kubernetes source against a fake API server (test/support/fake-kube.ts): the
 * bundled mastd process, its informers, and what goes wrong with watches in real clusters.
 * @kubernetes/client-node is ESM-only, so mastd runs as its esbuild bundle, as in the image.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bundler } from '../../../runtime/local/bundles';
import { PushClient } from '../../../runtime/proxy/push-client';
import { freePort } from '../../../runtime/local/local-mesh';
import { FakeKube } from '../../support/fake-kube';
import { until as poll } from '../../support/poll';
import { expectQuietFor } from '../../support/quiet';
import { tempDir } from '../../support/temp-dir';

const ROOT = join(__dirname, '..', '..', '..');
const dir = tempDir('mast-kube-');
const VS = '/apis/networking.istio.io/v1/virtualservices';
const GW = '/apis/networking.istio.io/v1/gateways';
const SVC = '/api/v1/services';
const SLICES = '/apis/discovery.k8s.io/v1/endpointslices';
const AP = '/apis/security.istio.io/v1/authorizationpolicies';
const NS = '/api/v1/namespaces';
const CM = '/api/v1/namespaces/mast-system/configmaps';
const TELEMETRY = '/apis/telemetry.istio.io/v1/telemetries';
const NODES = '/api/v1/nodes';

const vs = (name: string, weights = [100]) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: 'default' },
  spec: {
    hosts: [name],
    http: [
      {
        route: weights.map((weight, i) => ({
          destination: { host: 'reviews', subset: undefined, port: { number: 9080 } },
          weight,
          ...(i > 0 ? {} : {}),
        })),
      },
    ],
  },
});
const service = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: { selector: { app: name }, ports: [{ name: 'http', port: 9080, targetPort: 9080 }] },
});

interface Mastd {
  child: ChildProcess;
  port: number;
  log: () => string;
}

let bundle: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  bundle = await new Bundler(dir).file(join(ROOT, 'runtime', 'control', 'main.ts'));
}, 60_000);
afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

async function startMastd(kube: FakeKube, name: string): Promise<Mastd> {
  const config = join(dir, `kubeconfig-${kube.port}`);
  writeFileSync(config, kube.kubeconfig());
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      bundle,
      '--source',
      'kubernetes',
      '--kubeconfig',
      config,
      '--push-port',
      '0',
      '--monitoring-port',
      String(port),
      '--host',
      '127.0.0.1',
      '--debounce-ms',
      '20',
      '--watch-timeout-seconds',
      '1',
      '--namespace',
      'mast-system',
    ],
    {
      env: { ...process.env, POD_NAME: name },
    },
  );
  children.push(child);
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  return { child, port, log: () => log };
}

async function get(m: Mastd, path: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${m.port}${path}`);
    return { status: res.status, text: await res.text() };
  } catch {
    return { status: 0, text: '' };
  }
}

/** Waits for `check`, with mastd's last log lines in the failure. */
const until = (m: Mastd, what: string, check: () => Promise<boolean> | boolean, ms = 10_000) =>
  poll(what, check, ms, () => m.log().slice(-3000));

const configz = async (m: Mastd) =>
  (JSON.parse((await get(m, '/debug/configz')).text || '{"objects":[]}') as { objects: string[] }).objects;
type Found = { code: string; path: string };
const analysis = async (m: Mastd) =>
  JSON.parse((await get(m, '/debug/analyze')).text || '{"findings":[],"rejected":[]}') as { findings: Found[]; rejected: Found[] };
const metric = async (m: Mastd, name: string) =>
  Number(new RegExp(`^${name} (\\S+)$`, 'm').exec((await get(m, '/metrics')).text)?.[1] ?? NaN);

describe('mastd --source kubernetes', () => {
  const kube = new FakeKube();
  let m: Mastd;
  beforeAll(async () => {
    await kube.start();
    kube.put(GW, {
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { name: 'edge', namespace: 'default' },
      spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] },
    });
    kube.put(SVC, service('reviews'));
    kube.put(SLICES, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'reviews-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': 'reviews' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 9080 }],
      endpoints: [{ addresses: ['10.0.0.7'], conditions: { ready: true } }],
    });
    kube.put(VS, vs('reviews'));
    for (const ns of ['default', 'mast-system', 'kube-system'])
      kube.put(NS, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    kube.put(NS, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'leaving' }, status: { phase: 'Terminating' } } as never);
    kube.notFound.add(AP);
    m = await startMastd(kube, 'mastd-a');
  });
  afterAll(async () => {
    m?.child.kill('SIGKILL');
    await kube.stop();
  });

  test('lists every kind, then is ready with all of them in one snapshot; a missing CRD counts as empty', async () => {
    await until(m, 'ready', async () => (await get(m, '/ready')).status === 200);
    expect(await configz(m)).toEqual(
      expect.arrayContaining([
        'Gateway default/edge',
        'VirtualService default/reviews',
        'Service default/reviews',
        'EndpointSlice default/reviews-abc',
      ]),
    );
    for (const path of [VS, GW, SVC, SLICES, TELEMETRY, CM, '/api/v1/pods', '/api/v1/namespaces'])
      expect(kube.requests).toContainEqual({ verb: 'list', path });
    expect(m.log()).toContain('AuthorizationPolicy: the CRD is not installed (404 on /apis/security.istio.io/v1/authorizationpolicies)');
    // Looked for again at the watch-timeout pace (1 s here), not in a tight loop; and no snapshot churn.
    await expectQuietFor(
      1500,
      'a tight loop on the missing CRD, or a second snapshot',
      () => kube.requests.filter((r) => r.path === AP).length > 4 || (m.log().match(/snapshot v\d+/g) ?? []).length > 1,
    );
    expect((m.log().match(/snapshot v\d+/g) ?? []).length).toBe(1);
  });

  test('watch events apply: an added VirtualService appears, a deleted one goes', async () => {
    kube.put(VS, vs('ratings'));
    await until(m, 'ratings added', async () => (await configz(m)).includes('VirtualService default/ratings'));
    kube.remove(VS, 'default', 'ratings');
    await until(m, 'ratings deleted', async () => !(await configz(m)).includes('VirtualService default/ratings'));
  });

  test('Nodes are watched for their topology labels (the localities of pods on them, as istiod reads them): a zone change is a new snapshot', async () => {
    const node = (zone: string) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/region': 'us-east-1', 'topology.kubernetes.io/zone': zone } },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    });
    kube.put(NODES, node('us-east-1a'));
    await until(m, 'the node', async () => (await configz(m)).includes('Node /node-a'));
    const snapshots = () => (m.log().match(/snapshot v\d+/g) ?? []).length;
    const before = snapshots();
    kube.put(NODES, node('us-east-1b'));
    await until(m, 'the zone change as a new snapshot', async () => snapshots() > before);
  });

  test("the mesh config: the `istio` ConfigMap of mastd's namespace is watched, checked, and a bad one keeps its last good version", async () => {
    const meshConfig = (mesh: string) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'istio', namespace: 'mast-system' },
      data: { mesh },
    });
    kube.put(CM, meshConfig('outboundTrafficPolicy: { mode: REGISTRY_ONLY }\ncaCertificates: []'));
    await until(m, 'the mesh config', async () => (await configz(m)).includes('ConfigMap mast-system/istio'));
    // Listed and watched by name (the field selector), as RBAC and the API server expect.
    for (const verb of ['list', 'watch'] as const)
      expect(kube.fieldSelectors).toContainEqual({ verb, path: CM, fieldSelector: 'metadata.name=istio' });
    await until(m, 'its finding', async () =>
      (await analysis(m)).findings.some((f) => f.code === 'MAST0301' && f.path === 'data.mesh.caCertificates'),
    );
    kube.put(CM, meshConfig('outboundTrafficPolicy: { mode: REGISTRY }'));
    await until(m, 'the rejection', async () =>
      (await analysis(m)).rejected.some((f) => f.code === 'MAST0004' && f.path === 'data.mesh.outboundTrafficPolicy.mode'),
    );
    expect(await configz(m)).toContain('ConfigMap mast-system/istio');
    kube.remove(CM, 'mast-system', 'istio');
    await until(m, 'the mesh config gone', async () => !(await configz(m)).includes('ConfigMap mast-system/istio'));
  });

  test("Telemetry and Istio's mesh config (the istio ConfigMap) are watched: added ones apply, a deleted Telemetry goes", async () => {
    kube.put(TELEMETRY, {
      apiVersion: 'telemetry.istio.io/v1',
      kind: 'Telemetry',
      metadata: { name: 'mesh-default', namespace: 'istio-system' },
      spec: { tracing: [{ providers: [{ name: 'otel' }], randomSamplingPercentage: 100 }] },
    });
    kube.put(CM, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'istio', namespace: 'mast-system' },
      data: { mesh: 'extensionProviders:\n- name: otel\n  opentelemetry: { service: otel.observability.svc.cluster.local, port: 4318 }\n' },
    } as never);
    // Another ConfigMap: not the mesh config, so not watched (mastd selects the istio ConfigMap by name, not every ConfigMap).
    kube.put(CM, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-settings', namespace: 'mast-system' } });
    await until(m, 'the Telemetry and the mesh config', async () => {
      const objects = await configz(m);
      return objects.includes('Telemetry istio-system/mesh-default') && objects.includes('ConfigMap mast-system/istio');
    });
    expect(kube.requests).toContainEqual({ verb: 'watch', path: TELEMETRY });
    expect(await configz(m)).not.toContain('ConfigMap mast-system/app-settings');
    kube.remove(TELEMETRY, 'istio-system', 'mesh-default');
    await until(m, 'the Telemetry deleted', async () => !(await configz(m)).includes('Telemetry istio-system/mesh-default'));
  });

  test('a rejected resource keeps its last good version and gets a Warning Event from the leader', async () => {
    await until(m, 'leadership', async () => (await metric(m, 'mastd_leader')) === 1);
    kube.put(VS, vs('reviews', [0, 0]));
    await until(m, 'the rejection', async () => /MAST0101/.test((await get(m, '/debug/analyze')).text));
    expect(await configz(m)).toContain('VirtualService default/reviews');
    const event = () => kube.events.find((e) => (e.involvedObject as { kind?: string }).kind === 'VirtualService');
    await until(m, 'the Event', () => event() !== undefined);
    expect(event()).toMatchObject({
      type: 'Warning',
      reason: 'Rejected',
      involvedObject: { kind: 'VirtualService', name: 'reviews', namespace: 'default', apiVersion: 'networking.istio.io/v1' },
    });
    expect(String(event()?.message)).toMatch(
      /^Error MAST0101 VirtualService default\/reviews spec.http\[0\].route: .* \(the last good version of this resource stays in effect\)$/,
    );
    expect((event()?.involvedObject as { uid?: string } | undefined)?.uid).toMatch(/^uid-/);
    kube.put(VS, vs('reviews'));
  });

  test('410 Gone after a compaction: the informer relists, and sees what changed meanwhile', async () => {
    const lists = kube.requests.filter((r) => r.verb === 'list' && r.path === VS).length;
    kube.holdWatches();
    kube.dropWatches();
    kube.put(VS, vs('details'));
    kube.compact();
    kube.resume();
    await until(m, 'details after the relist', async () => (await configz(m)).includes('VirtualService default/details'));
    await until(m, 'a relist', () => kube.requests.filter((r) => r.verb === 'list' && r.path === VS).length > lists);
    expect(kube.gone).toContain(VS);
  });

  test('the API server going away: the last snapshot keeps serving; on return, the gap is caught up', async () => {
    const version = JSON.parse((await get(m, '/debug/configz')).text).version;
    const port = kube.port;
    await kube.stop();
    await expectQuietFor(
      800,
      'mastd turning unready or changing its snapshot with the API server away',
      async () => (await get(m, '/ready')).status !== 200 || JSON.parse((await get(m, '/debug/configz')).text).version !== version,
    );
    kube.remove(VS, 'default', 'details');
    kube.put(VS, vs('productpage'));
    await kube.start(port);
    await until(
      m,
      'catch-up',
      async () => {
        const objects = await configz(m);
        return objects.includes('VirtualService default/productpage') && !objects.includes('VirtualService default/details');
      },
      15_000,
    );
    expect(m.log()).toMatch(/list\/watch failed .*; restarting in \d+ ms/);
  });

  test('once a watch has run its course again after the outage, a failure backs off from the start (200 ms)', async () => {
    const watches = () => kube.requests.filter((r) => r.verb === 'watch' && r.path === VS).length;
    const n = watches();
    // The next watch request follows one that the server ended at its timeout: a clean cycle.
    await until(m, 'a clean watch cycle', () => watches() > n);
    const logged = m.log().length;
    kube.dropWatches();
    await until(m, 'the failure', () => /VirtualService: list\/watch failed/.test(m.log().slice(logged)));
    expect(m.log().slice(logged)).toMatch(/VirtualService: list\/watch failed \([^)]*\); restarting in 200 ms/);
    await until(m, 'the watch back', () => kube.openWatches(VS) > 0);
  });

  const rootIn = (namespace: string) => kube.configMaps.get(`${namespace}/mast-ca-root-cert`)?.data?.['root-cert.pem'];

  test("the leader writes mastd's root into every namespace (not Kubernetes' own, nor one being deleted), once", async () => {
    const root = async () => (JSON.parse((await get(m, '/debug/ca')).text || '{}') as { root?: string }).root;
    await until(m, 'the CA', async () => Boolean(await root()));
    await until(m, 'the root ConfigMaps', () => Boolean(rootIn('default') && rootIn('mast-system')));
    expect(rootIn('default')).toBe(await root());
    expect(rootIn('mast-system')).toBe(await root());
    expect([...kube.configMaps.keys()].sort()).toEqual(['default/mast-ca-root-cert', 'mast-system/mast-ca-root-cert']);
    // A namespace created later gets it too; the others are not written again.
    kube.put(NS, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    await until(m, 'shop', () => Boolean(rootIn('shop')));
    await expectQuietFor(2500, 'a root ConfigMap written again', () => kube.configMapWrites.length > 3);
    expect(kube.configMapWrites).toEqual([
      { verb: 'create', key: 'default/mast-ca-root-cert' },
      { verb: 'create', key: 'mast-system/mast-ca-root-cert' },
      { verb: 'create', key: 'shop/mast-ca-root-cert' },
    ]);
  });

  test('a proxy must own the identity it claims: its service-account token, checked by TokenReview (over TLS, verified with the root in its namespace)', async () => {
    kube.tokens.set('reviews-token', 'system:serviceaccount:default:reviews');
    const pushPort = Number(/push (\d+)/.exec(m.log())?.[1]);
    await until(m, 'the root in default', () => Boolean(rootIn('default')));
    const fake = {
      config: undefined,
      apply: async (c: { version: string }) => ({ ok: true as const, version: c.version }),
      setCertificate: () => undefined,
    };
    const connect = (id: string, serviceAccount: string, token?: string) => {
      const tls = { root: () => rootIn('default')!, servername: 'mastd.mast-system.svc' };
      const client = new PushClient(fake as never, {
        address: `127.0.0.1:${pushPort}`,
        id,
        token,
        tls,
        identity: { mode: 'sidecar', namespace: 'default', labels: { app: 'reviews' }, serviceAccount },
      });
      client.start();
      return client;
    };
    const clients = [
      connect('honest', 'reviews', 'reviews-token'),
      connect('impostor', 'admin', 'reviews-token'),
      connect('anonymous', 'reviews'),
    ];
    try {
      const ids = async () =>
        (JSON.parse((await get(m, '/debug/syncz')).text) as { proxies: Array<{ id: string }> }).proxies.map((p) => p.id);
      await until(m, 'the honest proxy', async () => (await ids()).includes('honest'));
      await until(
        m,
        'both refusals',
        () =>
          /refused impostor: the token is system:serviceaccount:default:reviews's, not system:serviceaccount:default:admin's/.test(
            m.log(),
          ) && /refused anonymous: no service account token/.test(m.log()),
      );
      expect(await ids()).not.toContain('impostor');
      expect(await ids()).not.toContain('anonymous');
    } finally {
      clients.forEach((c) => c.stop());
    }
  });

  test('a second replica follows: only one leader writes Events', async () => {
    const b = await startMastd(kube, 'mastd-b');
    await until(b, 'b ready', async () => (await get(b, '/ready')).status === 200);
    await until(b, 'b follows', async () => (await metric(b, 'mastd_leader')) === 0);
    expect(await metric(m, 'mastd_leader')).toBe(1);
    const before = kube.events.length;
    kube.put(VS, vs('broken', [0]));
    await until(
      b,
      'both rejected it',
      async () => /broken/.test((await get(b, '/debug/analyze')).text) && /broken/.test((await get(m, '/debug/analyze')).text),
    );
    await until(m, 'the Event', () => kube.events.length > before);
    await expectQuietFor(300, 'a second Event (from the follower)', () => kube.events.length - before > 1);
    // Both sign with the root the first one stored in the mastd-ca Secret.
    const root = async (x: Mastd) => (JSON.parse((await get(x, '/debug/ca')).text || '{}') as { root?: string }).root;
    await until(b, 'b has the CA', async () => Boolean(await root(b)));
    expect(await root(b)).toBe(await root(m));
    expect(kube.secrets.has('mast-system/mastd-ca')).toBe(true);
    b.child.kill('SIGTERM');
  });
});

describe('mastd --source kubernetes, a dead watch', () => {
  // An API server and a mastd of its own: the informers start healthy, not in the backoff an
  // earlier test's outage left them in (this test once timed out on CI after that one).
  const kube = new FakeKube();
  let m: Mastd;
  beforeAll(async () => {
    await kube.start();
    kube.put(SVC, service('reviews'));
    kube.put(VS, vs('reviews'));
    // No Telemetry CRD in this cluster (Istio's telemetry.istio.io not installed): mastd is ready all the same.
    kube.notFound.add(TELEMETRY);
    m = await startMastd(kube, 'mastd-c');
    await until(m, 'ready', async () => (await get(m, '/ready')).status === 200);
    expect(m.log()).toContain(`Telemetry: the CRD is not installed (404 on ${TELEMETRY}); treating it as empty`);
  });
  afterAll(async () => {
    m?.child.kill('SIGKILL');
    await kube.stop();
  });

  test('a watch that goes silent (dead connection) is replaced by a fresh informer', async () => {
    const before = kube.requests.length;
    kube.hang = true;
    kube.dropWatches();
    const since = () =>
      kube.requests
        .slice(before)
        .map((r) => `${r.verb} ${r.path}`)
        .join(', ');
    await until(m, 'a stall', async () => (await metric(m, 'mastd_kubernetes_stalls_total')) > 0, 15_000).catch((err: Error) => {
      throw new Error(`${err.message}\nrequests to the API server since it hung: ${since()}`);
    });
    kube.hang = false;
    kube.put(VS, vs('late'));
    await until(m, 'the change after the stall', async () => (await configz(m)).includes('VirtualService default/late'), 15_000);
    expect(m.log()).toMatch(/no watch activity for \d+ s; replacing the informer/);
    // The replaced informer stays stopped: one VirtualService watch, never two (watched past the
    // replaced one's retry backoff, when a wrongly restarted one would be watching again).
    await until(m, "the new informer's VirtualService watch", () => kube.openWatches(VS) === 1);
    await expectQuietFor(6000, 'a second VirtualService watch', () => kube.openWatches(VS) > 1);
  }, 40_000);
});
