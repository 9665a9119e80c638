import { ApiObject, Chart, JsonPatch, Lazy, Testing } from 'cdk8s';
import { Construct } from 'constructs';
import type { KubeObject } from '../../api';
import { injectManifests, Mesh } from '../../constructs';
import { testApp } from '../support/test-app';

const deployment = (name: string, namespace: string, podLabels: Record<string, string> = {}, annotations?: Record<string, string>) =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...podLabels }, ...(annotations ? { annotations } : {}) },
        spec: { containers: [{ name, image: `example/${name}:1`, ports: [{ containerPort: 8080 }] }] },
      },
    },
  }) as unknown as KubeObject;
const namespace = (name: string, labels: Record<string, string>) =>
  ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }) as KubeObject;
const podSpecOf = (o: any) => (o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec);
const hasSidecar = (o: any) => (podSpecOf(o).initContainers ?? []).some((c: any) => c.name === 'mast-proxy');

describe("injection of workloads mast did not write (Istio's webhook rules, at synth time)", () => {
  test('a namespace labelled istio-injection=enabled injects its pods, unless a pod opts out', () => {
    const { objects, injected, findings } = injectManifests([
      namespace('shop', { 'istio-injection': 'enabled' }),
      deployment('cart', 'shop'),
      deployment('legacy', 'shop', { 'sidecar.istio.io/inject': 'false' }),
    ]);
    expect(injected).toEqual(['Deployment shop/cart']);
    expect(objects.filter((o) => o.kind === 'Deployment').map(hasSidecar)).toEqual([true, false]);
    expect(findings.map((f) => [f.code, f.name, f.message])).toEqual([
      ['MAST0401', 'legacy', 'not injected: the pod says sidecar.istio.io/inject: "false"'],
    ]);
  });

  test('a pod labelled sidecar.istio.io/inject=true is injected in any namespace not disabled', () => {
    const { injected, findings } = injectManifests(
      [deployment('a', 'plain', { 'sidecar.istio.io/inject': 'true' }), deployment('b', 'off', { 'sidecar.istio.io/inject': 'true' })],
      { namespaceLabels: { off: { 'istio-injection': 'disabled' } } },
    );
    expect(injected).toEqual(['Deployment plain/a']);
    expect(findings.map((f) => f.message)).toEqual(['not injected: its namespace is labelled istio-injection=disabled']);
  });

  test('every workload kind with a pod template; none is left out silently', () => {
    const ns = { namespaceLabels: { jobs: { 'istio-injection': 'enabled' } } };
    const template = (deployment('x', 'jobs') as any).spec.template;
    const kinds: any[] = [
      { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 's', namespace: 'jobs' }, spec: { template } },
      { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'd', namespace: 'jobs' }, spec: { template } },
      { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j', namespace: 'jobs' }, spec: { template } },
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'c', namespace: 'jobs' },
        spec: { jobTemplate: { spec: { template } } },
      },
    ];
    const { objects, injected } = injectManifests(kinds, ns);
    expect(injected).toEqual(['StatefulSet jobs/s', 'DaemonSet jobs/d', 'Job jobs/j', 'CronJob jobs/c']);
    expect(objects.every(hasSidecar)).toBe(true);
    const { findings } = injectManifests([deployment('lonely', 'elsewhere')]);
    expect(findings.map((f) => [f.code, f.severity, f.istioCode])).toEqual([['MAST0401', 'Warning', 'IST0103']]);
  });

  test("Istio's capture annotations and the pod's labels reach the sidecar; injecting twice changes nothing", () => {
    const { objects } = injectManifests(
      [
        deployment(
          'api',
          'shop',
          {},
          {
            'traffic.sidecar.istio.io/excludeInboundPorts': '9901',
            'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.0.0.0/8',
          },
        ),
      ],
      { namespaceLabels: { shop: { 'istio-injection': 'enabled' } } },
    );
    const spec = podSpecOf(objects[0]);
    const init = spec.initContainers.find((c: any) => c.name === 'mast-init').args.join(' ');
    expect(init).toMatch(/--exclude-inbound-ports \S*9901/);
    expect(init).toMatch(/--exclude-outbound-cidrs \S*10\.0\.0\.0\/8/);
    expect(spec.initContainers.find((c: any) => c.name === 'mast-proxy').args.join(' ')).toContain('app=api');
    expect(injectManifests(objects, { namespaceLabels: { shop: { 'istio-injection': 'enabled' } } }).objects).toEqual(objects);
  });

  test('Mesh.addObjects injects what it is given (a Helm chart output, mast synth -f) and keeps the findings', () => {
    const app = testApp();
    const mesh = new Mesh(app, 'mesh', { proxyImage: 'registry/proxy:1' });
    mesh.addObjects([namespace('shop', { 'istio-injection': 'enabled' }), deployment('cart', 'shop'), deployment('batch', 'tools')]);
    const cart = Testing.synth(mesh.apps).find((o: any) => o.kind === 'Deployment' && o.metadata.name === 'cart');
    expect(podSpecOf(cart).initContainers.find((c: any) => c.name === 'mast-proxy').image).toBe('registry/proxy:1');
    expect(mesh.findings.map((f) => `${f.namespace}/${f.name}`)).toEqual(['tools/batch']);
  });
});

describe("Mesh.inject: the user's own cdk8s objects, as istioctl kube-inject injects them", () => {
  const proxyOf = (o: any) => podSpecOf(o).initContainers?.find((c: any) => c.name === 'mast-proxy');
  const synthOf = (chart: Chart, kind: string, name: string) =>
    Testing.synth(chart).find((o: any) => o.kind === kind && o.metadata.name === name);

  test('an ApiObject Deployment in a chart of their own gets the sidecar, whatever its namespace says', () => {
    const app = testApp();
    const mesh = new Mesh(app, 'mesh', { proxyImage: 'registry/proxy:1' });
    const chart = new Chart(app, 'shop', { namespace: 'shop' });
    const cart = new ApiObject(chart, 'cart', deployment('cart', 'shop') as any);
    expect(mesh.inject(cart)).toEqual(['shop/cart']);
    const synthesized = synthOf(chart, 'Deployment', 'cart');
    expect(proxyOf(synthesized).image).toBe('registry/proxy:1');
    expect(podSpecOf(synthesized).containers.map((c: any) => c.name)).toEqual(['cart']);
    expect(mesh.findings).toEqual([]);
  });

  test('what is added after inject() is injected too: a container built lazily (as cdk8s-plus builds its pod) and labels from a JSON patch', () => {
    const app = testApp();
    const mesh = new Mesh(app, 'mesh');
    const chart = new Chart(app, 'shop');
    // The shape of a cdk8s-plus Deployment: a construct whose ApiObject renders its spec at synth.
    const containers: any[] = [];
    const plusLike = new Construct(chart, 'web');
    new ApiObject(plusLike, 'Resource', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: Lazy.any({
        produce: () => ({
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers } },
        }),
      }),
    });
    expect(mesh.inject(plusLike)).toEqual(['shop/web/Resource']);
    containers.push({ name: 'web', image: 'web:1', readinessProbe: { httpGet: { path: '/ready', port: 8080 } } });
    ApiObject.of(plusLike).addJsonPatch(JsonPatch.add('/spec/template/metadata/labels/version', 'v2'));
    const spec = podSpecOf(synthOf(chart, 'Deployment', 'web'));
    // The late container's probe goes through the sidecar's status port; the patched label reaches the proxy.
    expect(spec.containers[0].readinessProbe.httpGet).toMatchObject({ path: '/app-health/web/readyz', port: 15020 });
    expect(proxyOf({ kind: 'Deployment', spec: { template: { spec } } }).args.join(' ')).toContain('version=v2');
  });

  test('a whole chart: its workloads injected, other kinds untouched, pods that refuse reported once; injecting twice adds nothing', () => {
    const app = testApp();
    const mesh = new Mesh(app, 'mesh');
    const chart = new Chart(app, 'tools', { namespace: 'tools' });
    new ApiObject(chart, 'api', deployment('api', 'tools') as any);
    new ApiObject(chart, 'migrate', {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'migrate' },
      spec: { template: (deployment('migrate', 'tools') as any).spec.template },
    });
    new ApiObject(chart, 'legacy', deployment('legacy', 'tools', { 'sidecar.istio.io/inject': 'false' }) as any);
    const host = deployment('node-agent', 'tools') as any;
    host.spec.template.spec.hostNetwork = true;
    new ApiObject(chart, 'node-agent', host);
    new ApiObject(chart, 'api-svc', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'api' }, spec: { ports: [{ port: 80 }] } });
    expect(mesh.inject(chart)).toEqual(['tools/api', 'tools/migrate', 'tools/legacy', 'tools/node-agent']);
    expect(mesh.inject(chart)).toEqual([]);
    Testing.synth(chart);
    const objects = Testing.synth(chart);
    const sidecars = (o: any) => (podSpecOf(o).initContainers ?? []).filter((c: any) => c.name === 'mast-proxy').length;
    expect(objects.filter((o: any) => o.kind !== 'Service').map((o: any) => [o.metadata.name, sidecars(o)])).toEqual([
      ['api', 1],
      ['migrate', 1],
      ['legacy', 0],
      ['node-agent', 0],
    ]);
    expect(objects.find((o: any) => o.kind === 'Service').spec).toEqual({ ports: [{ port: 80 }] });
    expect(mesh.findings.map((f) => [f.code, `${f.kind} ${f.namespace}/${f.name}`, f.message])).toEqual([
      ['MAST0401', 'Deployment tools/legacy', 'not injected: the pod says sidecar.istio.io/inject: "false"'],
      ['MAST0401', 'Deployment tools/node-agent', 'not injected: it uses the host network (its traffic cannot be captured)'],
    ]);
  });
});
