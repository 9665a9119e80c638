/** cdk8s constructs for the mesh. */
export * from './mesh-resources';
export * from './crds';
export * from './control-plane';
export * from './mesh-gateway';
export * from './ingress-gateway';
export * from './egress-gateway';
export * from './sidecar';
export * from './mesh-workload';
export * from './mesh';
export { localitySetting, type LocalityLoadBalancing } from './mesh-config';
export * from './inject';
export { MAST_VERSION, DEFAULT_CONTROL_IMAGE, DEFAULT_PROXY_IMAGE, SYSTEM_NAMESPACE, PROXY_UID } from './version';
export { ROOT_CONFIGMAP } from './pod-security';
export * from './pod-monitor';
export * from './dashboards';
