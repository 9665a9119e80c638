/** The PodMonitor for Prometheus Operator users: every pod with a status port, at /stats/prometheus. */
import { Chart, Testing } from 'cdk8s';
import { IngressGateway, MeshPodMonitor, MeshWorkload, STATUS_PORT_NAME } from '../../constructs';
import { testApp } from '../support/test-app';

test('scrapes the status port the sidecars and gateways name, in every namespace', () => {
  const chart = new Chart(testApp(), 'c');
  new MeshPodMonitor(chart, 'monitor', { labels: { release: 'prom' } });
  new IngressGateway(chart, 'gw');
  new MeshWorkload(chart, 'web', { name: 'web', image: 'example/web:1', port: 8080 });
  const objects = Testing.synth(chart) as any[];
  const monitor = objects.find((o) => o.kind === 'PodMonitor');
  expect(monitor).toEqual({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: { name: 'mast-proxies', namespace: 'mast-system', labels: { release: 'prom' } },
    spec: {
      selector: {},
      namespaceSelector: { any: true },
      podMetricsEndpoints: [{ port: 'status-port', path: '/stats/prometheus', interval: '15s' }],
    },
  });
  // The port it names is the one the proxies declare, in the gateway's pods and in a workload's sidecar.
  const ports = (o: any) =>
    [...(o.spec.template.spec.initContainers ?? []), ...o.spec.template.spec.containers].flatMap((c: any) => c.ports ?? []);
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  expect(deployments.length).toBeGreaterThanOrEqual(2);
  for (const d of deployments) expect(ports(d).map((p: any) => p.name)).toContain(STATUS_PORT_NAME);
});
