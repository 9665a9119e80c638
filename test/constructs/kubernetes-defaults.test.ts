import { Chart, Testing } from 'cdk8s';
import { IngressGateway, MeshControlPlane, MeshWorkload } from '../../constructs';

const synth = (build: (chart: Chart) => void) => {
  const app = Testing.app();
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
