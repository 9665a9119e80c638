/** EKS Pod Identity: an IAM role for a mesh workload's service account. */
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

export interface WorkloadIdentityProps {
  readonly cluster: eks.Cluster;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** @default - a new role that only EKS Pod Identity can assume */
  readonly role?: iam.IRole;
}

export class WorkloadIdentity extends Construct {
  readonly role: iam.IRole;

  constructor(scope: Construct, id: string, props: WorkloadIdentityProps) {
    super(scope, id);
    this.role =
      props.role ??
      new iam.Role(this, 'Role', {
        assumedBy: new iam.ServicePrincipal('pods.eks.amazonaws.com').withSessionTags(),
        description: `Pod Identity role of ${props.namespace}/${props.serviceAccount}`,
      });
    const association = new eks.CfnPodIdentityAssociation(this, 'Association', {
      clusterName: props.cluster.clusterName,
      namespace: props.namespace,
      serviceAccount: props.serviceAccount,
      roleArn: this.role.roleArn,
    });
    // The agent add-on must run before a pod can use the association.
    const agent = props.cluster.eksPodIdentityAgent;
    if (agent) association.node.addDependency(agent);
  }
}
