/**
 * mast's Grafana dashboards (api/dashboards: Mesh, Service, Workload, Control Plane) as ConfigMaps
 * that Grafana's dashboard sidecar loads: labelled `grafana_dashboard: "1"`, what the Grafana Helm
 * chart and kube-prometheus-stack look for by default. One ConfigMap per dashboard, its JSON compact.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { finding, formatFinding } from '../api';
import { grafanaDashboards } from '../api/dashboards';
import { SYSTEM_NAMESPACE } from './version';

/** A dashboard by its short name. */
export type MeshDashboardName = 'mesh' | 'service' | 'workload' | 'control-plane';
const NAMES: readonly MeshDashboardName[] = ['mesh', 'service', 'workload', 'control-plane'];

export interface MeshDashboardsProps {
  /** Where the ConfigMaps go: a namespace Grafana's sidecar watches (its `searchNamespace`). @default 'mast-system' */
  readonly namespace?: string;
  /** The labels the sidecar selects dashboards by. @default { grafana_dashboard: '1' } */
  readonly labels?: Record<string, string>;
  /** Annotations on each ConfigMap (e.g. the sidecar's folder annotation). @default - none */
  readonly annotations?: Record<string, string>;
  /** Which dashboards. @default - all four */
  readonly dashboards?: readonly MeshDashboardName[];
}

/** Props that cannot make a ConfigMap: MAST0160, naming the prop and the value. */
export class MeshDashboardsError extends Error {
  readonly code = 'MAST0160';
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

export class MeshDashboards extends Construct {
  /** The ConfigMaps' names, by dashboard. */
  readonly configMaps: Readonly<Partial<Record<MeshDashboardName, string>>>;

  constructor(scope: Construct, id: string, props: MeshDashboardsProps = {}) {
    super(scope, id);
    const namespace = props.namespace ?? SYSTEM_NAMESPACE;
    const labels = props.labels ?? { grafana_dashboard: '1' };
    const wanted = props.dashboards ?? NAMES;
    const bad = (path: string, message: string) => {
      throw new MeshDashboardsError(formatFinding(finding('MAST0160', { kind: 'MeshDashboards', metadata: { name: id } }, path, message)));
    };
    if (namespace.length > 63 || !DNS_LABEL.test(namespace))
      bad('namespace', `${JSON.stringify(namespace)} is not a namespace name (lowercase letters, digits and "-", at most 63)`);
    for (const [key, value] of Object.entries(labels)) {
      if (!LABEL_NAME.test(key) || key.split('/').pop()!.length > 63) bad(`labels.${key}`, `${JSON.stringify(key)} is not a label name`);
      if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value))
        bad(`labels.${key}`, `${JSON.stringify(value)} is not a label value (a string of at most 63 letters, digits, "-", "_", ".")`);
    }
    wanted.forEach((name, i) => {
      if (!NAMES.includes(name)) bad(`dashboards[${i}]`, `${JSON.stringify(name)} is not one of ${NAMES.join(', ')}`);
    });
    const models = grafanaDashboards();
    const names: Partial<Record<MeshDashboardName, string>> = {};
    for (const name of new Set(wanted)) {
      const file = `mast-${name}.json`;
      names[name] = `mast-dashboard-${name}`;
      new ApiObject(this, name, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: names[name], namespace, labels, ...(props.annotations ? { annotations: props.annotations } : {}) },
        data: { [file]: JSON.stringify(models[file]) },
      });
    }
    this.configMaps = names;
  }
}
