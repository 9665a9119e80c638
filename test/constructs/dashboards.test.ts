/** mast's Grafana dashboards as ConfigMaps for Grafana's dashboard sidecar: opt-in on the Mesh, or on their own. */
import { App, Chart, Testing } from 'cdk8s';
import { grafanaDashboards } from '../../api/dashboards';
import { Mesh, MeshDashboards, type MeshDashboardsProps } from '../../constructs';
import { testApp } from '../support/test-app';

const synthMesh = (dashboards?: boolean | MeshDashboardsProps) => {
  const app = new App();
  const mesh = new Mesh(app, 'mesh', { dashboards });
  return { mesh, objects: Testing.synth(mesh.system) as any[] };
};
const configMaps = (objects: any[]) => objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('mast-dashboard-'));

test("a Mesh installs none unless asked; with dashboards: true, one ConfigMap per dashboard where Grafana's sidecar looks", () => {
  expect(configMaps(synthMesh().objects)).toEqual([]);
  const { mesh, objects } = synthMesh(true);
  const maps = configMaps(objects);
  expect(maps.map((m) => m.metadata)).toEqual(
    ['mesh', 'service', 'workload', 'control-plane'].map((d) => ({
      name: `mast-dashboard-${d}`,
      namespace: mesh.controlPlane.namespace,
      labels: { grafana_dashboard: '1' },
    })),
  );
  // Each holds its dashboard's JSON model, the one dashboards/ ships, under a .json key.
  const models = grafanaDashboards();
  for (const m of maps) {
    const [[key, text]] = Object.entries(m.data as Record<string, string>);
    expect(JSON.parse(text)).toEqual(models[key]);
    expect(text.length).toBeLessThan(100_000);
  }
});

test('namespace, labels, annotations and which dashboards, as kube-prometheus-stack or another Grafana wants them', () => {
  const chart = new Chart(testApp(), 'c');
  new MeshDashboards(chart, 'dashboards', {
    namespace: 'monitoring',
    labels: { grafana_dashboard: '1', release: 'kube-prometheus-stack' },
    annotations: { grafana_folder: 'mast' },
    dashboards: ['mesh', 'control-plane'],
  });
  const maps = configMaps(Testing.synth(chart) as any[]);
  expect(
    maps.map((m) => [m.metadata.name, m.metadata.namespace, m.metadata.labels.release, m.metadata.annotations, Object.keys(m.data)]),
  ).toEqual([
    ['mast-dashboard-mesh', 'monitoring', 'kube-prometheus-stack', { grafana_folder: 'mast' }, ['mast-mesh.json']],
    ['mast-dashboard-control-plane', 'monitoring', 'kube-prometheus-stack', { grafana_folder: 'mast' }, ['mast-control-plane.json']],
  ]);
});

test.each([
  [{ namespace: 'Monitoring' }, /MAST0160 MeshDashboards dashboards namespace: "Monitoring" is not a namespace name/],
  [
    { labels: { 'grafana dashboard': '1' } },
    /MAST0160 MeshDashboards dashboards labels\.grafana dashboard: "grafana dashboard" is not a label name/,
  ],
  [{ labels: { grafana_dashboard: 'yes please' } }, /MAST0160 .* labels\.grafana_dashboard: "yes please" is not a label value/],
  [{ dashboards: ['mesh', 'pilot'] as any }, /MAST0160 .* dashboards\[1\]: "pilot" is not one of mesh, service, workload, control-plane/],
])('%j is refused, naming the prop and the value', (props, message) => {
  expect(() => new MeshDashboards(new Chart(testApp(), 'c'), 'dashboards', props)).toThrow(message);
});
