/**
 * The edge: an internet-facing NLB owned by CDK, one IP target group per gateway port
 * bound to the gateway pods by the AWS Load Balancer Controller's TargetGroupBinding,
 * health checks on the gateway's readiness endpoint, and security-group rules that
 * open exactly the gateway's pod ports from the NLB (CDK owns them, not the controller).
 */
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type { ICluster } from 'aws-cdk-lib/aws-eks-v2';
import { Construct, type IConstruct } from 'constructs';
import type { IngressGateway } from '../constructs';

export interface EdgeProps {
  readonly vpc: ec2.IVpc;
  readonly cluster: ICluster;
  readonly gateway: IngressGateway;
  /** @default true */
  readonly crossZone?: boolean;
  /** @default true */
  readonly proxyProtocol?: boolean;
  /** TLS listener certificate for port 443 when the NLB terminates TLS. @default - TCP listeners only */
  readonly tlsCertificateArn?: string;
  /** Constructs the bindings must wait for (the controller, the gateway's Service). */
  readonly after: IConstruct[];
  /** EKS Auto Mode's built-in controller takes TargetGroupBinding as eks.amazonaws.com/v1. @default false */
  readonly autoMode?: boolean;
}

export class Edge extends Construct {
  readonly nlb: elbv2.NetworkLoadBalancer;
  readonly securityGroup: ec2.SecurityGroup;
  readonly targetGroups: Array<{ port: number; targetPort: number; targetGroup: elbv2.NetworkTargetGroup }> = [];

  constructor(scope: Construct, id: string, props: EdgeProps) {
    super(scope, id);
    const { vpc, cluster, gateway } = props;
    this.securityGroup = new ec2.SecurityGroup(this, 'NlbSecurityGroup', {
      vpc,
      description: 'mast NLB: public listeners to the ingress gateway pods',
      allowAllOutbound: false,
    });
    this.nlb = new elbv2.NetworkLoadBalancer(this, 'Nlb', {
      vpc,
      internetFacing: true,
      crossZoneEnabled: props.crossZone ?? true,
      securityGroups: [this.securityGroup],
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
    });
    const podSecurityGroup = cluster.clusterSecurityGroup;
    const status = gateway.readinessPort;
    for (const p of gateway.ports) {
      this.securityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(p.port), `public ${p.name}`);
      const terminateTls = props.tlsCertificateArn !== undefined && p.port === 443;
      // With TLS at the NLB, 443 forwards decrypted traffic to the gateway's HTTP port.
      const targetPort = terminateTls
        ? (gateway.ports.find((q) => q.name.startsWith('http') && !q.name.startsWith('https'))?.targetPort ?? p.targetPort)
        : p.targetPort;
      const servicePort = terminateTls ? (gateway.ports.find((q) => q.targetPort === targetPort)?.port ?? p.port) : p.port;
      const targetGroup = new elbv2.NetworkTargetGroup(this, `Targets${p.port}`, {
        vpc,
        port: targetPort,
        protocol: elbv2.Protocol.TCP,
        targetType: elbv2.TargetType.IP,
        proxyProtocolV2: props.proxyProtocol ?? true,
        deregistrationDelay: Duration.seconds(30),
        healthCheck: {
          protocol: elbv2.Protocol.HTTP,
          port: String(status),
          path: gateway.readinessPath,
          interval: Duration.seconds(10),
          healthyThresholdCount: 2,
          unhealthyThresholdCount: 2,
        },
      });
      this.nlb.addListener(`Listener${p.port}`, {
        port: p.port,
        protocol: terminateTls ? elbv2.Protocol.TLS : elbv2.Protocol.TCP,
        ...(terminateTls
          ? { certificates: [elbv2.ListenerCertificate.fromArn(props.tlsCertificateArn!)], sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS }
          : {}),
        defaultTargetGroups: [targetGroup],
      });
      this.targetGroups.push({ port: servicePort, targetPort, targetGroup });
      const binding = cluster.addManifest(`TargetGroupBinding${p.port}`, {
        apiVersion: props.autoMode ? 'eks.amazonaws.com/v1' : 'elbv2.k8s.aws/v1beta1',
        kind: 'TargetGroupBinding',
        metadata: { name: `${gateway.name}-${p.port}`, namespace: gateway.namespace, labels: { 'app.kubernetes.io/part-of': 'mast' } },
        spec: { serviceRef: { name: gateway.name, port: servicePort }, targetGroupARN: targetGroup.targetGroupArn, targetType: 'ip' },
      });
      for (const dep of props.after) binding.node.addDependency(dep);
    }
    const podPorts = [...new Set([...this.targetGroups.map((t) => t.targetPort), status])];
    for (const port of podPorts) {
      this.securityGroup.addEgressRule(podSecurityGroup, ec2.Port.tcp(port), `to gateway pods ${port}`);
      podSecurityGroup.addIngressRule(this.securityGroup, ec2.Port.tcp(port), `mast NLB to gateway pods ${port}`);
    }
  }
}
