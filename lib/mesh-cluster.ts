/** VPC and EKS cluster (aws-eks-v2): version, capacity, admins, logging, metrics-server, LB controller. */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import { KubectlV35Layer } from '@aws-cdk/lambda-layer-kubectl-v35';
import { Construct } from 'constructs';
import { DEFAULTS, type Capacity } from './config';

export interface MeshClusterProps {
  readonly name: string;
  /** @default '1.35' */
  readonly kubernetesVersion?: string;
  /** @default managed node group of 2 m6i.large */
  readonly capacity?: Capacity;
  /** @default 2 */
  readonly maxAzs?: number;
  /** @default 1 */
  readonly natGateways?: number;
  /** IAM principal ARNs given cluster-admin. @default - none */
  readonly admins?: string[];
}

export class MeshCluster extends Construct {
  readonly vpc: ec2.Vpc;
  readonly cluster: eks.Cluster;
  /**
   * What must be ready before Services and TargetGroupBindings: the AWS Load Balancer
   * Controller (its webhook intercepts Services), or with Auto Mode the cluster and its
   * built-in load balancing.
   */
  readonly loadBalancerController: Construct;
  readonly arm64: boolean;
  readonly autoMode: boolean;

  constructor(scope: Construct, id: string, props: MeshClusterProps) {
    super(scope, id);
    const capacity = props.capacity ?? DEFAULTS.capacity;
    this.arm64 = capacity.type === 'nodegroup' && !!capacity.arm64;
    this.autoMode = capacity.type === 'automode';
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: props.maxAzs ?? DEFAULTS.maxAzs,
      natGateways: props.natGateways ?? DEFAULTS.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.REJECT } },
    });
    this.cluster = new eks.Cluster(this, 'Cluster', {
      clusterName: props.name,
      version: eks.KubernetesVersion.of(props.kubernetesVersion ?? DEFAULTS.kubernetesVersion),
      vpc: this.vpc,
      vpcSubnets: [{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
      kubectlProviderOptions: { kubectlLayer: new KubectlV35Layer(this, 'KubectlLayer') },
      defaultCapacityType: capacity.type === 'automode' ? eks.DefaultCapacityType.AUTOMODE : eks.DefaultCapacityType.NODEGROUP,
      ...(capacity.type === 'automode' ? {} : { defaultCapacity: 0 }),
      clusterLogging: [
        eks.ClusterLoggingTypes.API,
        eks.ClusterLoggingTypes.AUDIT,
        eks.ClusterLoggingTypes.AUTHENTICATOR,
        eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
        eks.ClusterLoggingTypes.SCHEDULER,
      ],
      // Auto Mode brings its own load-balancer controller (TargetGroupBinding in eks.amazonaws.com/v1).
      ...(this.autoMode ? {} : { albController: { version: eks.AlbControllerVersion.V2_17_1 } }),
    });
    if (capacity.type === 'nodegroup')
      this.cluster.addNodegroupCapacity('Nodes', {
        instanceTypes: (capacity.instanceTypes ?? ['m6i.large']).map((t) => new ec2.InstanceType(t)),
        minSize: capacity.minSize ?? 2,
        maxSize: capacity.maxSize ?? 4,
        desiredSize: capacity.desiredSize ?? capacity.minSize ?? 2,
        amiType: this.arm64 ? eks.NodegroupAmiType.AL2023_ARM_64_STANDARD : eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
        subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      });
    (props.admins ?? []).forEach((arn, i) =>
      this.cluster.grantAccess(`Admin${i}`, arn, [
        eks.AccessPolicy.fromAccessPolicyName('AmazonEKSClusterAdminPolicy', { accessScopeType: eks.AccessScopeType.CLUSTER }),
      ]),
    );
    // The gateway's HorizontalPodAutoscaler needs resource metrics.
    new eks.Addon(this, 'MetricsServer', { cluster: this.cluster, addonName: 'metrics-server' });
    // With Auto Mode, the cluster resource itself (not the construct: its children include the manifests).
    this.loadBalancerController = this.cluster.albController ?? (this.cluster.node.defaultChild as Construct);
  }
}
