/** The bundled example as kind runs it: the gateway as a NodePort Service on the ports the kind config publishes. */
import { App, YamlOutputType } from 'cdk8s';
import { Mesh } from '../../constructs';
import { addBookinfo } from '../../examples/bookinfo/bookinfo';
import { GATEWAY_NODE_PORTS } from './plan';

export interface KindExampleOptions {
  /** An egress gateway too (one replica, ClusterIP: only the mesh calls it). @default false */
  readonly egressGateway?: boolean;
  /** mast's Grafana dashboards as ConfigMaps for Grafana's sidecar (Mesh's `dashboards`). @default false */
  readonly dashboards?: boolean;
}

export function synthKindExample(outdir: string, options: KindExampleOptions = {}): App {
  const app = new App({ outdir, yamlOutputType: YamlOutputType.FILE_PER_CHART });
  // kind has no load-balancer provider: NodePort plus the cluster config's extraPortMappings.
  const mesh = new Mesh(app, 'mesh', {
    dashboards: options.dashboards ?? false,
    gateway: {
      serviceType: 'NodePort',
      replicas: { min: 1, max: 2 },
      ports: [
        { name: 'http', port: 80, targetPort: 8080, nodePort: GATEWAY_NODE_PORTS.http },
        { name: 'https', port: 443, targetPort: 8443, nodePort: GATEWAY_NODE_PORTS.https },
      ],
    },
    ...(options.egressGateway ? { egressGateway: { replicas: { min: 1, max: 2 } } } : {}),
  });
  addBookinfo(mesh);
  app.synth();
  return app;
}
