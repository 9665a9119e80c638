import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Chart, Testing } from 'cdk8s';
import { EgressGateway, Mesh } from '../../constructs';
import { synthKindExample } from '../../cli/kind/example';
import { testApp } from '../support/test-app';

const synth = (build: (chart: Chart) => void) => {
  const app = testApp();
  const chart = new Chart(app, 'c');
  build(chart);
  return Testing.synth(chart) as any[];
};
const one = (objs: any[], kind: string) => objs.filter((o) => o.kind === kind);

describe('EgressGateway', () => {
  test("Istio's egress gateway: pods labelled istio: egressgateway and app: istio-egressgateway, its Service istio-egressgateway (ClusterIP)", () => {
    const objs = synth((c) => new EgressGateway(c, 'egress'));
    const deployment = one(objs, 'Deployment')[0];
    expect(deployment.metadata).toMatchObject({ name: 'istio-egressgateway', namespace: 'mast-system' });
    expect(deployment.spec.selector.matchLabels).toEqual({ istio: 'egressgateway' });
    expect(deployment.spec.template.metadata.labels).toMatchObject({
      istio: 'egressgateway',
      app: 'istio-egressgateway',
      'app.kubernetes.io/component': 'egress-gateway',
    });
    const args: string[] = deployment.spec.template.spec.containers[0].args;
    expect(args.slice(args.indexOf('--mode'), args.indexOf('--mode') + 2)).toEqual(['--mode', 'gateway']);
    // mastd compiles for the labels the proxy announces: Gateways with `istio: egressgateway` bind to it.
    expect(args[args.indexOf('--labels') + 1].split(',')).toEqual(
      expect.arrayContaining(['istio=egressgateway', 'app=istio-egressgateway']),
    );
    const service = one(objs, 'Service')[0];
    expect(service.metadata.name).toBe('istio-egressgateway');
    expect(service.spec).toMatchObject({ type: 'ClusterIP', selector: { istio: 'egressgateway' } });
    expect(service.spec.ports.map((p: any) => [p.name, p.port, p.targetPort])).toEqual([
      ['http', 80, 8080],
      ['https', 443, 8443],
    ]);
    expect(service.spec.externalTrafficPolicy).toBeUndefined();
  });

  test('bad props fail synth naming the EgressGateway, the prop and the value', () => {
    expect(() => synth((c) => new EgressGateway(c, 'egress', { ports: [{ name: 'http', port: 80, targetPort: 80 }] }))).toThrow(
      /EgressGateway.*ports\[http\]\.targetPort.*80/s,
    );
  });
});

describe('Mesh egressGateway', () => {
  const meshObjects = (props: ConstructorParameters<typeof Mesh>[2]) => {
    const app = testApp();
    const mesh = new Mesh(app, 'm', props);
    return { mesh, objs: Testing.synth(mesh.system) as any[] };
  };

  test('none by default; `true` adds one beside the ingress gateway, with the mesh proxy image and control plane', () => {
    expect(meshObjects({}).mesh.egressGateway).toBeUndefined();
    const { mesh, objs } = meshObjects({ egressGateway: true, proxyImage: 'registry.example/proxy:1' });
    expect(mesh.egressGateway?.name).toBe('istio-egressgateway');
    const deployments = one(objs, 'Deployment').map((d) => d.metadata.name);
    expect(deployments).toEqual(expect.arrayContaining(['mast-ingressgateway', 'istio-egressgateway']));
    const container = one(objs, 'Deployment').find((d) => d.metadata.name === 'istio-egressgateway').spec.template.spec.containers[0];
    expect(container.image).toBe('registry.example/proxy:1');
    expect(container.args).toEqual(expect.arrayContaining(['--control-plane', 'mastd.mast-system.svc:15012']));
  });

  test('a Gateway selecting istio: egressgateway gets its credentialName mounted into the egress gateway only', () => {
    const app = testApp();
    const mesh = new Mesh(app, 'm', { egressGateway: { replicas: { min: 1, max: 1 } } });
    mesh.addObjects([
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'Gateway',
        metadata: { name: 'egress', namespace: 'default' },
        spec: {
          selector: { istio: 'egressgateway' },
          servers: [
            {
              port: { number: 443, name: 'https', protocol: 'HTTPS' },
              hosts: ['*'],
              tls: { mode: 'SIMPLE', credentialName: 'egress-cert' },
            },
          ],
        },
      },
    ]);
    const deployments = one(Testing.synth(mesh.system) as any[], 'Deployment');
    const mounts = (name: string) =>
      deployments
        .find((d) => d.metadata.name === name)
        .spec.template.spec.volumes.map((v: any) => v.secret?.secretName)
        .filter(Boolean);
    expect(mounts('istio-egressgateway')).toEqual(['egress-cert']);
    expect(mounts('mast-ingressgateway')).toEqual([]);
    // One replica: no disruption budget that would block every node drain.
    expect(one(Testing.synth(mesh.system) as any[], 'PodDisruptionBudget').map((p) => p.metadata.name)).toEqual(['mast-ingressgateway']);
  });

  test("a DestinationRule without workloadSelector originating TLS with a credentialName: its Secret and <name>-cacert mounted into the gateways (optional), as Istio's gateways read it", () => {
    const app = testApp();
    const mesh = new Mesh(app, 'm', { egressGateway: { replicas: { min: 1, max: 1 } } });
    const rule = (name: string, workloadSelector?: Record<string, unknown>) => ({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name, namespace: 'default' },
      spec: {
        host: 'my-nginx.mesh-external.svc.cluster.local',
        ...(workloadSelector ? { workloadSelector } : {}),
        trafficPolicy: { tls: { mode: 'MUTUAL', credentialName: `${name}-credential` } },
      },
    });
    mesh.addObjects([rule('client'), rule('sleep', { matchLabels: { app: 'sleep' } })]);
    const deployments = one(Testing.synth(mesh.system) as any[], 'Deployment');
    const mounts = (name: string) =>
      deployments
        .find((d) => d.metadata.name === name)
        .spec.template.spec.volumes.filter((v: any) => v.secret)
        .map((v: any) => [v.secret.secretName, v.secret.optional]);
    const expected = [
      ['client-credential', true],
      ['client-credential-cacert', true],
    ];
    expect(mounts('istio-egressgateway')).toEqual(expected);
    expect(mounts('mast-ingressgateway')).toEqual(expected);
  });

  test('the kind example adds one on request', () => {
    const names = (egressGateway: boolean) => {
      const dir = mkdtempSync(join(tmpdir(), 'mast-kind-'));
      try {
        return synthKindExample(dir, { egressGateway })
          .charts.flatMap((c) => c.toJson())
          .filter((o: any) => o.kind === 'Deployment')
          .map((o: any) => o.metadata.name);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    expect(names(false)).not.toContain('istio-egressgateway');
    expect(names(true)).toContain('istio-egressgateway');
  });
});
