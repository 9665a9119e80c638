import { Chart, Testing } from 'cdk8s';
import { IngressGateway, MeshControlPlane, MeshWorkload } from '../../constructs';
import { testApp } from '../support/test-app';

const synth = (build: (chart: Chart) => void) => {
  const app = testApp();
  const chart = new Chart(app, 'c');
  build(chart);
  return Testing.synth(chart) as any[];
};
const containersOf = (objs: any[]) => objs.filter((o) => o.kind === 'Deployment').flatMap((d) => d.spec.template.spec.containers);

describe('Kubernetes defaults an operator expects', () => {
  test('a disruption budget only when the gateway has several replicas (one replica and minAvailable 1 block every drain)', () => {
    const budgets = (min: number) =>
      synth((c) => new IngressGateway(c, 'gw', { replicas: { min, max: 3 } })).filter((o) => o.kind === 'PodDisruptionBudget');
    expect(budgets(1)).toEqual([]);
    expect(budgets(2).map((b) => b.spec.minAvailable)).toEqual([1]);
  });

  test('no liveness probe on a readiness endpoint: mastd and the gateway are not restarted for being slow', () => {
    const objs = synth((c) => {
      new MeshControlPlane(c, 'cp');
      new IngressGateway(c, 'gw');
    });
    for (const container of containersOf(objs)) {
      expect(container.livenessProbe).toBeUndefined();
      expect(container.readinessProbe).toBeDefined();
    }
    const gateway = containersOf(objs).find((c) => c.args?.includes('gateway'));
    expect(gateway?.startupProbe?.httpGet.path).toBe('/healthz/ready');
  });

  test("the recommended app.kubernetes.io labels on mast's own objects, outside the selectors", () => {
    const objs = synth((c) => new MeshControlPlane(c, 'cp'));
    const deployment = objs.find((o) => o.kind === 'Deployment');
    expect(deployment.metadata.labels).toMatchObject({
      'app.kubernetes.io/name': 'mastd',
      'app.kubernetes.io/instance': 'mastd',
      'app.kubernetes.io/component': 'control-plane',
      'app.kubernetes.io/part-of': 'mast',
      'app.kubernetes.io/managed-by': 'mast',
      'app.kubernetes.io/version': expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    expect(Object.keys(deployment.spec.selector.matchLabels)).not.toContain('app.kubernetes.io/version');
  });

  test("the app's container runs as its image says unless the user sets securityContext; the sidecar is non-root", () => {
    const objs = synth((c) => new MeshWorkload(c, 'app', { image: 'example/app:1', port: 8080 }));
    const [pod] = objs.filter((o) => o.kind === 'Deployment').map((d) => d.spec.template.spec);
    const app = pod.containers.find((c: any) => c.name === 'app');
    expect(app.securityContext.runAsNonRoot).toBeUndefined();
    expect(app.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    const sidecar = [...(pod.initContainers ?? []), ...pod.containers].find((c: any) => c.name === 'mast-proxy');
    expect(sidecar.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1337 });
    const custom = synth((c) => new MeshWorkload(c, 'app', { image: 'example/app:1', port: 8080, securityContext: { runAsUser: 0 } }));
    const customApp = containersOf(custom).find((c: any) => c.name === 'app');
    expect(customApp.securityContext).toEqual({ runAsUser: 0 });
  });
});

describe('MeshWorkload takes the usual pod settings', () => {
  const settings = {
    image: 'example/app:1',
    port: 8080,
    additionalPorts: [{ name: 'grpc', port: 9090, appProtocol: 'grpc' }],
    volumes: [{ name: 'data', emptyDir: {} }],
    volumeMounts: [{ name: 'data', mountPath: '/data' }],
    livenessProbe: { httpGet: { path: '/live', port: 8080 } },
    affinity: { podAntiAffinity: {} },
    tolerations: [{ key: 'dedicated', operator: 'Exists' }],
    nodeSelector: { pool: 'apps' },
    podAnnotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': '9901' },
  };

  test('several ports on the Service (appProtocol kept) and the container; volumes, probes, placement, annotations', () => {
    const objs = synth((c) => new MeshWorkload(c, 'app', settings));
    const service = objs.find((o) => o.kind === 'Service');
    expect(service.spec.ports.map((p: any) => [p.name, p.port, p.appProtocol])).toEqual([
      ['http', 8080, undefined],
      ['grpc', 9090, 'grpc'],
    ]);
    const pod = objs.find((o) => o.kind === 'Deployment').spec.template;
    const app = pod.spec.containers.find((c: any) => c.name === 'app');
    expect(app.ports.map((p: any) => p.containerPort)).toEqual([8080, 9090]);
    expect(app.volumeMounts).toEqual(settings.volumeMounts);
    // The probe goes through the sidecar's status port (rewritten, as Istio does), the original kept for the proxy.
    expect(app.livenessProbe.httpGet.path).toBe('/app-health/app/livez');
    expect(pod.spec.volumes).toEqual(expect.arrayContaining(settings.volumes));
    expect([pod.spec.affinity, pod.spec.tolerations, pod.spec.nodeSelector]).toEqual([
      settings.affinity,
      settings.tolerations,
      settings.nodeSelector,
    ]);
    expect(pod.metadata.annotations).toMatchObject(settings.podAnnotations);
  });

  test('a clashing or reserved additional port is an error naming the prop and the value', () => {
    const app = testApp();
    const chart = new Chart(app, 'c');
    new MeshWorkload(chart, 'app', { image: 'x', port: 8080, additionalPorts: [{ name: 'http', port: 15001 }] });
    expect(() => app.synth()).toThrow(/additionalPorts\[0\]\.port 15001 is invalid[\s\S]*additionalPorts\[0\]\.name "http" is invalid/);
  });

  test('a name that cannot be a Service name, and negative or fractional replicas, are errors naming the prop and the value', () => {
    const app = testApp();
    const chart = new Chart(app, 'c');
    new MeshWorkload(chart, 'web', { name: 'Web_1', image: 'x', port: 8080, replicas: -1, versions: [{ version: 'v1', replicas: 1.5 }] });
    expect(() => app.synth()).toThrow(
      /MeshWorkload: name "Web_1" is invalid: a Service name[\s\S]*MeshWorkload: replicas -1 is invalid: an integer >= 0[\s\S]*versions\[0\]\.replicas 1\.5 is invalid/,
    );
    const ok = testApp();
    new MeshWorkload(new Chart(ok, 'c'), 'web', { name: 'web-1', image: 'x', port: 8080, replicas: 0 });
    expect(() => ok.synth()).not.toThrow();
  });
});
