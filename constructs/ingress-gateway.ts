/** IngressGateway: the mesh's entry, Istio's `istio-ingressgateway` (MeshGateway with the ingress defaults). */
import type { Construct } from 'constructs';
import { GATEWAY_NAME, GATEWAY_POD_LABELS, GATEWAY_SELECTOR_LABELS } from '../api';
import { MeshGateway, type GatewayRole, type MeshGatewayProps } from './mesh-gateway';

export interface IngressGatewayProps extends MeshGatewayProps {}

const INGRESS: GatewayRole = {
  construct: 'IngressGateway',
  component: 'ingress-gateway',
  name: GATEWAY_NAME,
  selectorLabels: GATEWAY_SELECTOR_LABELS,
  appLabel: GATEWAY_POD_LABELS.app,
  serviceType: 'LoadBalancer',
};

export class IngressGateway extends MeshGateway {
  constructor(scope: Construct, id: string, props: IngressGatewayProps = {}) {
    super(scope, id, props, INGRESS);
  }
}
