/**
 * cdk-nag's EKS rules (AwsSolutions-EKS1, -EKS2) for the cluster aws-eks-v2 makes. cdk-nag's own rules
 * recognise `aws-eks`'s CfnCluster class and the old custom resource, not aws-eks-v2's
 * `AWS::EKS::Cluster` (another class), so they never ran on this stack: a public API endpoint open to
 * the world passed silently. Same ids and meaning, applied to any `AWS::EKS::Cluster`; a finding is
 * acknowledged as cdk-nag's would be (`Validations.of(construct).acknowledge`).
 */
import { type CfnResource, Stack } from 'aws-cdk-lib';
import { NagMessageLevel, NagPack, NagRuleCompliance, NagRules } from 'cdk-nag';

const ALL_LOGS = ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'];

/** The L1's properties as it holds them (camelCase), tokens resolved. */
type ClusterProps = {
  resourcesVpcConfig?: { endpointPublicAccess?: unknown };
  logging?: { clusterLogging?: { enabledTypes?: Array<{ type?: unknown }> } };
};

const propsOf = (node: CfnResource) =>
  (Stack.of(node).resolve((node as unknown as { cfnProperties: unknown }).cfnProperties) ?? {}) as ClusterProps;

/** EKS1: the API server endpoint is not reachable from the internet (AWS's default is public: absent means public). */
export function endpointNotPublic(node: CfnResource): NagRuleCompliance {
  if (node.cfnResourceType !== 'AWS::EKS::Cluster') return NagRuleCompliance.NOT_APPLICABLE;
  const isPublic = NagRules.resolveIfPrimitive(node, propsOf(node).resourcesVpcConfig?.endpointPublicAccess);
  return isPublic === false ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}

/** EKS2: every control-plane log type goes to CloudWatch. */
export function allControlPlaneLogs(node: CfnResource): NagRuleCompliance {
  if (node.cfnResourceType !== 'AWS::EKS::Cluster') return NagRuleCompliance.NOT_APPLICABLE;
  const enabled = new Set(
    (propsOf(node).logging?.clusterLogging?.enabledTypes ?? []).map((t) => NagRules.resolveIfPrimitive(node, t.type)),
  );
  return ALL_LOGS.every((t) => enabled.has(t)) ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}

/** The two rules, under cdk-nag's AwsSolutions pack name so their ids are the ones operators know. */
export class EksV2Checks extends NagPack {
  readonly name = 'AwsSolutions';

  constructor(...args: ConstructorParameters<typeof NagPack>) {
    super(...args);
    this.packName = 'AwsSolutions';
  }

  protected checkResource(node: CfnResource): void {
    this.applyRule({
      ruleSuffixOverride: 'EKS1',
      info: "The EKS cluster's Kubernetes API server endpoint has public access enabled.",
      explanation:
        'A public endpoint exposes the API server to the internet; keep it private (the default of MeshCluster) or restrict it to known CIDRs and acknowledge this finding.',
      level: NagMessageLevel.ERROR,
      rule: endpointNotPublic,
      node,
    });
    this.applyRule({
      ruleSuffixOverride: 'EKS2',
      info: "The EKS cluster does not publish 'api', 'audit', 'authenticator', 'controllerManager' and 'scheduler' control plane logs.",
      explanation: 'Control plane logs are the audit trail and diagnostics of the cluster.',
      level: NagMessageLevel.ERROR,
      rule: allControlPlaneLogs,
      node,
    });
  }
}
