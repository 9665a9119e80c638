/**
 * EgressGateway: the mesh's exit, Istio's `istio-egressgateway` (MeshGateway with the egress
 * defaults): pods labelled `istio: egressgateway` and `app: istio-egressgateway`, which Gateways
 * select, behind a ClusterIP Service of that name that sidecars route external hosts to.
 */
import type { Construct } from 'constructs';
import { EGRESS_GATEWAY_NAME, EGRESS_GATEWAY_POD_LABELS, EGRESS_GATEWAY_SELECTOR_LABELS } from '../api';
import { MeshGateway, type GatewayRole, type MeshGatewayProps } from './mesh-gateway';

/**
 * As MeshGatewayProps, with the egress gateway's defaults: `name` 'istio-egressgateway',
 * `selectorLabels` { istio: 'egressgateway' }, `appLabel` 'istio-egressgateway', `serviceType`
 * 'ClusterIP' (only the mesh's sidecars call it).
 */
export interface EgressGatewayProps extends MeshGatewayProps {}

const EGRESS: GatewayRole = {
  construct: 'EgressGateway',
  component: 'egress-gateway',
  name: EGRESS_GATEWAY_NAME,
  selectorLabels: EGRESS_GATEWAY_SELECTOR_LABELS,
  appLabel: EGRESS_GATEWAY_POD_LABELS.app,
  serviceType: 'ClusterIP',
};

export class EgressGateway extends MeshGateway {
  constructor(scope: Construct, id: string, props: EgressGatewayProps = {}) {
    super(scope, id, props, EGRESS);
  }
}
