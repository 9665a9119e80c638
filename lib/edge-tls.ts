/**
 * TLS at the gateway: cert-manager (Helm) with a Pod Identity role allowed to answer
 * Route 53 DNS-01 challenges in the zone, a ClusterIssuer, and one Certificate for the
 * Gateway hosts in the gateway's namespace (the Secret a Gateway names as credentialName).
 */
import { Aws, Stack } from 'aws-cdk-lib';
import type * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, type IConstruct } from 'constructs';
import { WorkloadIdentity } from './workload-identity';

export const CERT_MANAGER_VERSION = 'v1.19.1';

export interface GatewayTlsProps {
  readonly cluster: eks.Cluster;
  readonly hostedZoneId: string;
  readonly hosts: readonly string[];
  /** Namespace of the gateway pods, where the certificate's Secret must live. */
  readonly namespace: string;
  readonly email: string;
  /** @default 'mast-gateway-cert' */
  readonly secretName?: string;
  /** Let's Encrypt staging (for tests of the pipeline). @default false */
  readonly staging?: boolean;
  /** The certificate waits for these (the gateway namespace). */
  readonly after: IConstruct[];
}

export class GatewayTls extends Construct {
  readonly secretName: string;

  constructor(scope: Construct, id: string, props: GatewayTlsProps) {
    super(scope, id);
    this.secretName = props.secretName ?? 'mast-gateway-cert';
    const chart = props.cluster.addHelmChart('CertManager', {
      chart: 'cert-manager',
      repository: 'https://charts.jetstack.io',
      version: CERT_MANAGER_VERSION,
      namespace: 'cert-manager',
      createNamespace: true,
      values: { crds: { enabled: true }, serviceAccount: { name: 'cert-manager' } },
      wait: true,
    });
    const identity = new WorkloadIdentity(this, 'Dns01', {
      cluster: props.cluster,
      namespace: 'cert-manager',
      serviceAccount: 'cert-manager',
    });
    identity.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['route53:GetChange'], resources: [`arn:${Aws.PARTITION}:route53:::change/*`] }),
    );
    identity.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['route53:ChangeResourceRecordSets', 'route53:ListResourceRecordSets'],
        resources: [`arn:${Aws.PARTITION}:route53:::hostedzone/${props.hostedZoneId}`],
      }),
    );
    identity.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['route53:ListHostedZonesByName'], resources: ['*'] }));
    const issuer = props.cluster.addManifest('Issuer', {
      apiVersion: 'cert-manager.io/v1',
      kind: 'ClusterIssuer',
      metadata: { name: 'mast-letsencrypt' },
      spec: {
        acme: {
          email: props.email,
          server: props.staging
            ? 'https://acme-staging-v02.api.letsencrypt.org/directory'
            : 'https://acme-v02.api.letsencrypt.org/directory',
          privateKeySecretRef: { name: 'mast-letsencrypt-account' },
          solvers: [{ dns01: { route53: { region: Stack.of(this).region, hostedZoneID: props.hostedZoneId } } }],
        },
      },
    });
    issuer.node.addDependency(chart, identity);
    const certificate = props.cluster.addManifest('Certificate', {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: this.secretName, namespace: props.namespace },
      spec: { secretName: this.secretName, dnsNames: [...props.hosts], issuerRef: { kind: 'ClusterIssuer', name: 'mast-letsencrypt' } },
    });
    certificate.node.addDependency(issuer, ...props.after);
  }
}
