/**
 * Prometheus Operator users' scrape config for the mesh: a PodMonitor (monitoring.coreos.com/v1)
 * for every pod that declares a `status-port` container port (a sidecar's 15020, where its metrics are
 * merged with the app's own; a gateway's 15021), scraped at `/stats/prometheus`. The counterpart of
 * Istio's `envoy-stats-monitor`; for the annotation-based scrape see docs/observability.md.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { SCRAPE_PATH } from './sidecar';
import { SYSTEM_NAMESPACE } from './version';

export interface MeshPodMonitorProps {
  /** @default 'mast-proxies' */
  readonly name?: string;
  /** Where the PodMonitor lives (it selects pods in every namespace). @default 'mast-system' */
  readonly namespace?: string;
  /** Scrape interval. @default '15s' */
  readonly interval?: string;
  /** Labels a Prometheus resource's `podMonitorSelector` picks it by. @default - none */
  readonly labels?: Record<string, string>;
}

/** The container port the sidecar and the gateway both name their status port: only pods with it are targets. */
export const STATUS_PORT_NAME = 'status-port';

export class MeshPodMonitor extends Construct {
  constructor(scope: Construct, id: string, props: MeshPodMonitorProps = {}) {
    super(scope, id);
    new ApiObject(this, 'pod-monitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: {
        name: props.name ?? 'mast-proxies',
        namespace: props.namespace ?? SYSTEM_NAMESPACE,
        ...(props.labels ? { labels: props.labels } : {}),
      },
      spec: {
        // Every pod of every namespace; the Operator keeps only those whose containers name the port.
        selector: {},
        namespaceSelector: { any: true },
        podMetricsEndpoints: [{ port: STATUS_PORT_NAME, path: SCRAPE_PATH, interval: props.interval ?? '15s' }],
      },
    });
  }
}
