/**
 * The AWS Load Balancer Controller (it binds the NLB's target group to the gateway pods), installed
 * with EKS Pod Identity as every other add-on of the stack is, instead of aws-eks-v2's `AlbController`,
 * which only knows IRSA (an OIDC provider per cluster, and a deprecation warning on every synth).
 *
 * The image comes from the public ECR gallery, which serves every region and partition alike; the
 * regional `602401143452.dkr.ecr.<region>` registries differ by region and are absent from some.
 */
import { Aws, Duration, Stack } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The controller release and its Helm chart (the pair aws-cdk-lib ships an IAM policy for). */
export const LB_CONTROLLER = { version: 'v2.17.1', chartVersion: '1.17.1' };
export const LB_CONTROLLER_IMAGE = 'public.ecr.aws/eks/aws-load-balancer-controller';
const NAMESPACE = 'kube-system';
const SERVICE_ACCOUNT = 'aws-load-balancer-controller';

export interface LoadBalancerControllerProps {
  readonly cluster: eks.Cluster;
  /** @default LB_CONTROLLER_IMAGE */
  readonly repository?: string;
}

type PolicyDocument = { Statement: Array<Record<string, unknown> & { Resource?: string | string[] }> };

/**
 * The controller's IAM policy as published for its release (aws-cdk-lib carries it as data), with
 * `arn:aws:` made partition-aware so the stack deploys to aws-cn and aws-us-gov too.
 */
export function controllerPolicy(version = LB_CONTROLLER.version): iam.PolicyStatement[] {
  const eksDir = join(dirname(require.resolve('aws-cdk-lib/package.json')), 'aws-eks-v2', 'lib', 'addons');
  const doc = JSON.parse(readFileSync(join(eksDir, `alb-iam_policy-${version}.json`), 'utf8')) as PolicyDocument;
  const partitioned = (r: string) => r.replace(/^arn:aws:/, `arn:${Aws.PARTITION}:`);
  return doc.Statement.map((s) =>
    iam.PolicyStatement.fromJson({
      ...s,
      ...(s.Resource === undefined ? {} : { Resource: Array.isArray(s.Resource) ? s.Resource.map(partitioned) : partitioned(s.Resource) }),
    }),
  );
}

export class LoadBalancerController extends Construct {
  /** Ready when its Helm release is (webhooks included): Services and TargetGroupBindings go after it. */
  readonly chart: eks.HelmChart;
  readonly serviceAccount: eks.ServiceAccount;

  constructor(scope: Construct, id: string, props: LoadBalancerControllerProps) {
    super(scope, id);
    const cluster = props.cluster;
    this.serviceAccount = new eks.ServiceAccount(this, 'ServiceAccount', {
      cluster,
      namespace: NAMESPACE,
      name: SERVICE_ACCOUNT,
      identityType: eks.IdentityType.POD_IDENTITY,
    });
    for (const statement of controllerPolicy()) this.serviceAccount.addToPrincipalPolicy(statement);
    this.chart = new eks.HelmChart(this, 'Chart', {
      cluster,
      chart: 'aws-load-balancer-controller',
      repository: 'https://aws.github.io/eks-charts',
      namespace: NAMESPACE,
      release: 'aws-load-balancer-controller',
      version: LB_CONTROLLER.chartVersion,
      wait: true,
      timeout: Duration.minutes(15),
      values: {
        clusterName: cluster.clusterName,
        serviceAccount: { create: false, name: SERVICE_ACCOUNT },
        region: Stack.of(this).region,
        vpcId: cluster.vpc.vpcId,
        image: { repository: props.repository ?? LB_CONTROLLER_IMAGE, tag: LB_CONTROLLER.version },
      },
    });
    this.chart.node.addDependency(this.serviceAccount);
  }
}
