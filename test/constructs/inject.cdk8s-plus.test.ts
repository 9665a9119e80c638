/**
 * A user's own cdk8s-plus workloads (cdk8s-plus-33, the package a cdk8s 2 user writes Deployments
 * with) get the sidecar: handed to Mesh.inject() as constructs, or synthesized first and handed to
 * Mesh.addObjects() as YAML objects. What cdk8s-plus writes of its own (a non-root pod, read-only
 * containers, a selector label, probes, volumes, its Service) must survive the injection.
 */
import { Chart, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import type { KubeObject } from '../../api';
import { Mesh } from '../../constructs';
import { testApp } from '../support/test-app';

/** The user's shop: one cdk8s-plus Deployment (probe, volume, resources) exposed by a Service. */
function shop(chart: Chart): kplus.Deployment {
  const web = new kplus.Deployment(chart, 'web', {
    metadata: { name: 'web' },
    replicas: 2,
    podMetadata: { labels: { app: 'web', version: 'v1' } },
    containers: [
      {
        name: 'web',
        image: 'registry.example.com/web:1.4',
        portNumber: 8080,
        readiness: kplus.Probe.fromHttpGet('/ready', { port: 8080 }),
        resources: { cpu: { request: kplus.Cpu.millis(100) }, memory: { request: Size.mebibytes(128) } },
        volumeMounts: [{ path: '/cache', volume: kplus.Volume.fromEmptyDir(chart, 'cache', 'cache') }],
      },
    ],
  });
  web.exposeViaService({ name: 'web', ports: [{ port: 80, targetPort: 8080 }] });
  return web;
}

const podSpec = (o: any) => o.spec.template.spec;
const deploymentOf = (objects: any[]) => objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'web');
const named = (list: any[] | undefined, name: string) => (list ?? []).find((c) => c.name === name);

describe('a cdk8s-plus Deployment gets the sidecar', () => {
  test('Mesh.inject(deployment): the sidecar added at synth, what cdk8s-plus wrote kept', () => {
    const app = testApp();
    const mesh = new Mesh(app, 'mesh', { proxyImage: 'registry.example.com/mast-proxy:1' });
    const chart = new Chart(app, 'shop', { namespace: 'shop' });
    const web = shop(chart);
    // The plain objects as cdk8s-plus synthesizes them without the mesh, for comparison.
    const plain = deploymentOf(Testing.synth(chart));

    expect(mesh.inject(web)).toEqual(['shop/web/Resource']);
    const objects = Testing.synth(chart);
    const spec = podSpec(deploymentOf(objects));

    expect(named(spec.initContainers, 'mast-proxy').image).toBe('registry.example.com/mast-proxy:1');
    // cdk8s-plus makes the pod non-root; the capture init container says for itself that it runs as root.
    expect(spec.securityContext).toEqual(podSpec(plain).securityContext);
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    expect(named(spec.initContainers, 'mast-init').securityContext).toMatchObject({ runAsUser: 0, runAsNonRoot: false });
    // The app container is the user's, but for its probes (the readiness probe given, the TCP startup
    // probe cdk8s-plus adds), which now go through the sidecar's status port; the sidecar keeps the originals.
    const [container] = spec.containers;
    const [before] = podSpec(plain).containers;
    expect(spec.containers).toHaveLength(1);
    const probesAside = (c: any) => ({ ...c, readinessProbe: undefined, startupProbe: undefined });
    expect(probesAside(container)).toEqual(probesAside(before));
    expect(before.startupProbe.tcpSocket).toEqual({ port: 8080 });
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/app-health/web/readyz', port: 15020 });
    expect(container.startupProbe.httpGet).toMatchObject({ path: '/app-health/web/startupz', port: 15020 });
    const probers = JSON.parse(named(named(spec.initContainers, 'mast-proxy').env, 'MAST_APP_PROBERS').value);
    expect(probers).toEqual({
      '/app-health/web/readyz': { httpGet: { ...before.readinessProbe.httpGet, port: 8080 } },
      '/app-health/web/startupz': { tcpSocket: { port: 8080 } },
    });
    // Its volume kept beside the sidecar's; its selector label and pod labels reach the proxy.
    expect(spec.volumes.map((v: any) => v.name)).toEqual(expect.arrayContaining(['cache']));
    const selector = deploymentOf(objects).spec.selector.matchLabels;
    expect(deploymentOf(objects).spec.template.metadata.labels).toMatchObject({ ...selector, app: 'web', version: 'v1' });
    expect(named(spec.initContainers, 'mast-proxy').args.join(' ')).toContain('version=v1');
    // The Service cdk8s-plus wrote is untouched.
    const service = (o: any[]) => o.find((x) => x.kind === 'Service');
    expect(service(objects)).toEqual(service(Testing.synth(chart)));
    expect(mesh.findings).toEqual([]);
  });

  test('Mesh.addObjects(synthesized YAML): injected where the namespace says istio-injection=enabled, a finding where not', () => {
    const objects = Testing.synth(
      (() => {
        const chart = new Chart(testApp(), 'shop', { namespace: 'shop' });
        shop(chart);
        return chart;
      })(),
    ) as KubeObject[];

    const labelled = new Mesh(testApp(), 'mesh');
    expect(labelled.addObjects(objects, { namespaceLabels: { shop: { 'istio-injection': 'enabled' } } })).toEqual(['Deployment shop/web']);
    const injected = deploymentOf(Testing.synth(labelled.apps));
    expect(named(podSpec(injected).initContainers, 'mast-proxy')).toBeDefined();
    expect(podSpec(injected).containers.map((c: any) => c.name)).toEqual(['web']);
    expect(labelled.findings).toEqual([]);

    const unlabelled = new Mesh(testApp(), 'mesh');
    expect(unlabelled.addObjects(objects)).toEqual([]);
    expect(named(podSpec(deploymentOf(Testing.synth(unlabelled.apps))).initContainers, 'mast-proxy')).toBeUndefined();
    expect(unlabelled.findings.map((f) => [f.code, `${f.kind} ${f.namespace}/${f.name}`])).toEqual([['MAST0401', 'Deployment shop/web']]);
  });
});
