/**
 * The package's main entry point (`import { ... } from 'mast'`): the AWS CDK stacks and their
 * constructs, and, re-exported, the cdk8s constructs, so one import serves a CDK app.
 * The mesh API (types, `validate`) is `mast/api`; the cdk8s constructs alone are `mast/constructs`.
 */
export * from '../constructs';
export * from './mesh-environment-stack';
export * from './config';
export * from './mesh-cluster';
export * from './images';
export * from './image-context';
export * from './edge';
export * from './edge-tls';
export * from './dns-records';
export * from './gateway-hosts';
export * from './load-balancer-controller';
export * from './workload-identity';
export { addChartInParts, splitBySize, MAX_MANIFEST_BYTES } from './manifests';
export { acknowledgeNagFindings, ACKNOWLEDGED } from './nag';
export { EksV2Checks } from './nag-eks';
