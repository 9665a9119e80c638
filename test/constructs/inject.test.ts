import { Testing } from 'cdk8s';
import type { KubeObject } from '../../api';
import { injectManifests, Mesh } from '../../constructs';

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
    const app = Testing.app();
    const mesh = new Mesh(app, 'mesh', { proxyImage: 'registry/proxy:1' });
    mesh.addObjects([namespace('shop', { 'istio-injection': 'enabled' }), deployment('cart', 'shop'), deployment('batch', 'tools')]);
    const cart = Testing.synth(mesh.apps).find((o: any) => o.kind === 'Deployment' && o.metadata.name === 'cart');
    expect(podSpecOf(cart).initContainers.find((c: any) => c.name === 'mast-proxy').image).toBe('registry/proxy:1');
    expect(mesh.findings.map((f) => `${f.namespace}/${f.name}`)).toEqual(['tools/batch']);
  });
});
