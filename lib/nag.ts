/**
 * cdk-nag AwsSolutions findings this architecture accepts, each with its reason.
 * Anything not listed here fails synth (cdk-nag 3 reports through `Validations`).
 */
import { Validations, type Stack } from 'aws-cdk-lib';
import { MeshEnvironmentStack } from './mesh-environment-stack';

const EKS_MANAGED = 'EKS needs its AWS managed policies on the cluster and node roles; AWS keeps them current with the service.';
const LAMBDA_MANAGED = 'The kubectl provider Lambdas (created by aws-cdk-lib) use the standard Lambda execution policies.';
const LB_CONTROLLER =
  'AWS Load Balancer Controller policy: it manages load balancers, listeners, target groups and security groups it cannot name in advance (its own policy scopes them by tags).';

const iam4 = (policy: string, reason: string) => ({ id: `AwsSolutions::AwsSolutions-IAM4[Policy::${policy}]`, reason });
const iam5 = (resource: string, reason: string) => ({ id: `AwsSolutions::AwsSolutions-IAM5[Resource::${resource}]`, reason });
const elb = (kind: string) => iam5(`arn:<AWS::Partition>:elasticloadbalancing:*:*:${kind}`, LB_CONTROLLER);

export const ACKNOWLEDGED: ReadonlyArray<{ id: string; reason: string }> = [
  iam4('arn:<AWS::Partition>:iam::aws:policy/AmazonEKSClusterPolicy', EKS_MANAGED),
  iam4('arn:<AWS::Partition>:iam::aws:policy/AmazonEKSWorkerNodePolicy', EKS_MANAGED),
  iam4('arn:<AWS::Partition>:iam::aws:policy/AmazonEKS_CNI_Policy', EKS_MANAGED),
  // Capacity { type: 'automode' }: EKS Auto Mode runs compute, storage, load balancing and networking for the
  // cluster, and requires these AWS managed policies on the cluster role (AWS documents no custom equivalent).
  ...['AmazonEKSComputePolicy', 'AmazonEKSBlockStoragePolicy', 'AmazonEKSLoadBalancingPolicy', 'AmazonEKSNetworkingPolicy'].map((p) =>
    iam4(`arn:<AWS::Partition>:iam::aws:policy/${p}`, `EKS Auto Mode requires the AWS managed ${p} on the cluster role.`),
  ),
  iam4(
    'arn:<AWS::Partition>:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly',
    'Nodes and the kubectl provider pull images from ECR (the mesh images are ECR assets).',
  ),
  iam4('arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole', LAMBDA_MANAGED),
  iam4('arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole', LAMBDA_MANAGED),
  iam4(
    '{"Fn::If":["MeshClusterKubectlProviderHandlerHasEcrPublic7FD46089",{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly"]]},{"Ref":"AWS::NoValue"}]}',
    'The kubectl provider pulls Helm charts from public ECR in the regions that have it.',
  ),
  iam5(
    '*',
    "Actions without resource scope: the Load Balancer Controller's Describe* calls, and cert-manager's route53:ListHostedZonesByName.",
  ),
  iam5(
    'arn:<AWS::Partition>:route53:::change/*',
    "Edge TLS at the gateway: cert-manager polls route53:GetChange for the change its DNS-01 record made, whose id Route 53 assigns at that moment (it cannot be named in advance); GetChange only reads a change's status.",
  ),
  iam5(
    '<MeshClusterKubectlProviderHandlerA433F2A3.Arn>:*',
    'The custom-resource framework invokes any version of its own kubectl handler.',
  ),
  iam5('arn:<AWS::Partition>:ec2:*:*:security-group/*', LB_CONTROLLER),
  ...[
    'listener-rule/app/*/*/*',
    'listener-rule/net/*/*/*',
    'listener/app/*/*/*',
    'listener/net/*/*/*',
    'loadbalancer/app/*/*',
    'loadbalancer/net/*/*',
    'targetgroup/*/*',
  ].map(elb),
  {
    id: 'CloudFormation-Validate::W9009',
    reason:
      "aws-eks-v2 writes EncryptionConfig.Resources: ['secrets'] (the only value EKS takes), a property the CloudFormation schema marks deprecated.",
  },
  {
    id: 'AwsSolutions::AwsSolutions-EC23',
    reason:
      'The NLB is the public edge: its security group must accept the gateway listener ports from anywhere; everything behind it is opened only from this security group.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-ELB2',
    reason:
      'NLB access logs only cover TLS listeners; every request is logged by the ingress gateway (one JSON access log line per request).',
  },
  {
    id: 'AwsSolutions::AwsSolutions-L1',
    reason:
      'The kubectl provider and custom-resource framework Lambdas are created by aws-cdk-lib with the runtime it pins; upgrading aws-cdk-lib moves them.',
  },
];

/**
 * Acknowledges the findings above on a stack. On a `MeshEnvironmentStack` whose API endpoint is
 * `public-and-private` restricted to CIDRs (none of them 0.0.0.0/0), AwsSolutions-EKS1 too: the
 * operator named who reaches it. A `public` endpoint (open to the world) stays a finding.
 */
export function acknowledgeNagFindings(stack: Stack): void {
  for (const a of ACKNOWLEDGED) Validations.of(stack).acknowledge(a);
  const access = stack instanceof MeshEnvironmentStack ? stack.config.endpointAccess : undefined;
  if (access?.mode === 'public-and-private' && !access.cidrs.some((c) => c.endsWith('/0')))
    Validations.of(stack).acknowledge({
      id: 'AwsSolutions::AwsSolutions-EKS1',
      reason: `The public side of the API endpoint is restricted to the CIDRs configured: ${access.cidrs.join(', ')}.`,
    });
}
