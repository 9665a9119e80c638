/**
 * mast's Grafana dashboards (Mesh, Service, Workload, Control Plane), written for the Istio metrics
 * mast's proxies and mastd export. The JSON files in `dashboards/` are these, written by
 * `npm run dashboards`; the MeshDashboards construct installs them, `mast local` serves them. They
 * live in api/ because both of those need them and api/ is the one layer both may import: pure
 * data, no I/O.
 */
import { controlPlaneDashboard } from './control-plane';
import { type DashboardSpec, grafanaDashboard } from './grafana';
import { meshDashboard } from './mesh';
import { serviceDashboard } from './service';
import { workloadDashboard } from './workload';

export type { DashboardSpec } from './grafana';

/** By file name (without `.json`). */
export const DASHBOARD_SPECS: Readonly<Record<string, DashboardSpec>> = {
  'mast-mesh': meshDashboard,
  'mast-service': serviceDashboard,
  'mast-workload': workloadDashboard,
  'mast-control-plane': controlPlaneDashboard,
};

/** Every dashboard's Grafana JSON model, by file name (`mast-mesh.json`, ...). */
export function grafanaDashboards(): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(DASHBOARD_SPECS).map(([name, spec]) => [`${name}.json`, grafanaDashboard(spec)]));
}

/** A dashboard file's text, as written to `dashboards/` and served. */
export const dashboardText = (model: Record<string, unknown>): string => `${JSON.stringify(model, null, 2)}\n`;
