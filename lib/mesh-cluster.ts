/**
 * VPC and EKS cluster (aws-eks-v2): version, capacity, admins, API endpoint access, Secrets encrypted
 * with a KMS key of the stack, control-plane logging, metrics-server, the Load Balancer Controller.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { KubectlV35Layer } from '@aws-cdk/lambda-layer-kubectl-v35';
import { Construct } from 'constructs';
import { checkEndpointAccess, checkKubernetesVersion, DEFAULTS, type Capacity, type EndpointAccess } from './config';
import { LoadBalancerController } from './load-balancer-controller';

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
  /** Who reaches the Kubernetes API. @default { mode: 'private' } */
  readonly endpointAccess?: EndpointAccess;
}

/** The API endpoint access of a config, as aws-eks-v2 takes it. */
export function endpointAccessOf(access: EndpointAccess = DEFAULTS.endpointAccess): eks.EndpointAccess {
  if (access.mode === 'private') return eks.EndpointAccess.PRIVATE;
  // aws-eks-v2 refuses to restrict a public-only endpoint (its kubectl handler in the VPC reaches the API
  // through the public side then), so `public` is open to the world and restriction is `public-and-private`'s.
  if (access.mode === 'public') return eks.EndpointAccess.PUBLIC;
  return eks.EndpointAccess.PUBLIC_AND_PRIVATE.onlyFrom(...access.cidrs);
}

export class MeshCluster extends Construct {
  readonly vpc: ec2.Vpc;
  readonly cluster: eks.Cluster;
  /** Envelope encryption of the cluster's Secrets (mastd's CA key is one). */
  readonly secretsKey: kms.Key;
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
    // Typed props are checked at run time too (as MeshEnvironmentStack's config): aws-eks-v2 would take any version string.
    checkKubernetesVersion('MeshCluster.kubernetesVersion', props.kubernetesVersion ?? DEFAULTS.kubernetesVersion);
    if (props.endpointAccess) checkEndpointAccess('MeshCluster.endpointAccess', props.endpointAccess);
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
    this.secretsKey = new kms.Key(this, 'SecretsKey', {
      description: `Envelope encryption of Kubernetes Secrets in ${props.name}`,
      enableKeyRotation: true,
    });
    this.cluster = new eks.Cluster(this, 'Cluster', {
      clusterName: props.name,
      version: eks.KubernetesVersion.of(props.kubernetesVersion ?? DEFAULTS.kubernetesVersion),
      vpc: this.vpc,
      endpointAccess: endpointAccessOf(props.endpointAccess),
      secretsEncryptionKey: this.secretsKey,
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
    // Auto Mode brings its own load-balancer controller (TargetGroupBinding in eks.amazonaws.com/v1): then the
    // cluster resource itself (not the construct: its children include the manifests) is what to wait for.
    this.loadBalancerController = this.autoMode
      ? (this.cluster.node.defaultChild as Construct)
      : new LoadBalancerController(this, 'LoadBalancerController', { cluster: this.cluster }).chart;
  }
}
