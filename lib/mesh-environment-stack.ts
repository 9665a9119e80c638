/**
 * One environment: alpha.example.com → Route 53 → NLB → ingress gateway pods in EKS → mesh.
 * `cdk deploy` brings all of it up, the mesh included, in an explicit order:
 * load balancer controller → CRDs → control plane and gateway → apps and TargetGroupBindings.
 */
import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { App as Cdk8sApp } from 'cdk8s';
import type { Construct } from 'constructs';
import { apiObjectsOf, Mesh, type MeshProps } from '../constructs';
import { checkConfig, ConfigError, DEFAULTS, type EnvironmentConfig } from './config';
import { MeshCluster } from './mesh-cluster';
import { MeshImages } from './images';
import { Edge } from './edge';
import { DnsRecords } from './dns-records';
import { GatewayTls } from './edge-tls';
import { gatewayHosts, planRecords, type RecordPlan } from './gateway-hosts';
import { addChartInParts } from './manifests';

export interface MeshEnvironmentStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /**
   * Fills the mesh: workloads and routing (e.g. `addBookinfo`). `images` are the stack's image
   * assets (undefined with `buildImages: false`): `images.bookinfo` adds the example's image.
   */
  readonly populate: (mesh: Mesh, images?: MeshImages) => void;
  /** Extra Mesh props (images come from the stack's assets). @default - none */
  readonly mesh?: Omit<MeshProps, 'proxyImage'>;
  /** Build images from `images/`; off in tests that do not need assets. @default true */
  readonly buildImages?: boolean;
}

export class MeshEnvironmentStack extends Stack {
  /** The config, checked. */
  readonly config: EnvironmentConfig;
  readonly cluster: MeshCluster;
  readonly mesh: Mesh;
  /** The image assets, when the stack builds them. */
  readonly images?: MeshImages;
  readonly edge: Edge;
  readonly records: readonly RecordPlan[];

  constructor(scope: Construct, id: string, props: MeshEnvironmentStackProps) {
    // Typed props are checked as cdk.json's environments are (types do not hold for JSON-loaded or cast configs).
    const config = checkConfig(props.config);
    super(scope, id, {
      ...props,
      env: props.env ?? (config.account ? { account: config.account, region: config.region } : undefined),
    });
    this.config = config;
    this.cluster = new MeshCluster(this, 'Mesh', {
      name: `mast-${config.envName}`,
      kubernetesVersion: config.kubernetesVersion,
      capacity: config.capacity,
      maxAzs: config.maxAzs,
      natGateways: config.natGateways,
      admins: config.admins,
      endpointAccess: config.endpointAccess,
    });
    const images = props.buildImages === false ? undefined : new MeshImages(this, 'Images', { arm64: this.cluster.arm64 });
    this.images = images;
    const tls = config.tls ?? DEFAULTS.tls;

    // The mesh charts, synthesized in memory and added to the cluster as manifests.
    const cdk8sApp = new Cdk8sApp();
    // The Load Balancer Controller's readiness gate on the gateway's namespace: a new gateway pod is
    // Ready only once the NLB's target group reports it healthy, so a rolling update never leaves the
    // NLB without a registered target (Auto Mode's controller has no such injection).
    const readinessGate: Record<string, string> = this.cluster.autoMode ? {} : { 'elbv2.k8s.aws/pod-readiness-gate-inject': 'enabled' };
    const controlPlane = {
      ...props.mesh?.controlPlane,
      namespaceLabels: { ...readinessGate, ...props.mesh?.controlPlane?.namespaceLabels },
      ...(images ? { image: images.control.imageUri } : {}),
    };
    this.mesh = new Mesh(cdk8sApp, 'mesh', {
      ...props.mesh,
      ...(images ? { proxyImage: images.proxy.imageUri } : {}),
      controlPlane,
      gateway: { ...(props.mesh?.gateway || {}), serviceType: 'ClusterIP', proxyProtocol: config.proxyProtocol ?? DEFAULTS.proxyProtocol },
    });
    props.populate(this.mesh, images);
    // A bad mesh fails `cdk synth` with its finding codes, as `cdk8s synth` would.
    this.node.addValidation({ validate: () => cdk8sApp.node.findAll().flatMap((c) => c.node.validate()) });

    const gateway = this.mesh.gateway!;
    const hosts = gatewayHosts(apiObjectsOf(this.mesh.apps), gateway.labels);
    this.records = planRecords(hosts, config.zoneName);

    const cluster = this.cluster.cluster;
    const controller = this.cluster.loadBalancerController;
    // The CRDs outlive the stack (a destroy must not delete every mesh object in the cluster with them),
    // and by default are not installed over existing ones of the same names (Istio's): the deploy fails instead.
    const crds = addChartInParts(cluster, 'MeshCrds', this.mesh.crds, [controller], {
      removalPolicy: RemovalPolicy.RETAIN,
      overwrite: config.adoptExistingCrds ?? false,
    });
    const system = addChartInParts(cluster, 'MeshSystem', this.mesh.system, [controller, ...crds]);
    addChartInParts(cluster, 'MeshApps', this.mesh.apps, [controller, ...system]);

    let certificateArn: string | undefined;
    if (tls.mode === 'nlb') {
      certificateArn = tls.certificateArn;
      if (!certificateArn && config.zoneRoleArn)
        throw new ConfigError('tls.mode "nlb" with a zone in another account needs tls.certificateArn (ACM cannot validate there)');
    }
    this.edge = new Edge(this, 'Edge', {
      vpc: this.cluster.vpc,
      cluster,
      gateway,
      crossZone: config.crossZone,
      proxyProtocol: config.proxyProtocol ?? DEFAULTS.proxyProtocol,
      tlsCertificateArn: certificateArn ?? (tls.mode === 'nlb' ? this.acmCertificate(hosts, config) : undefined),
      after: [controller, ...system],
      autoMode: this.cluster.autoMode,
    });
    const dns = new DnsRecords(this, 'Dns', {
      zoneName: config.zoneName,
      hostedZoneId: config.hostedZoneId,
      nlb: this.edge.nlb,
      records: this.records,
      ttlSeconds: config.recordTtlSeconds,
      zoneRoleArn: config.zoneRoleArn,
    });
    if (tls.mode === 'gateway')
      new GatewayTls(this, 'GatewayTls', {
        cluster,
        hostedZoneId: config.hostedZoneId,
        hosts,
        namespace: gateway.namespace,
        email: tls.email,
        secretName: tls.secretName,
        staging: tls.staging,
        after: system,
      });

    new CfnOutput(this, 'NlbDnsName', { value: this.edge.nlb.loadBalancerDnsName, description: 'Where the Gateway hosts point' });
    new CfnOutput(this, 'HostedZoneId', { value: dns.zone.hostedZoneId });
    new CfnOutput(this, 'GatewayHosts', { value: hosts.join(',') });
    new CfnOutput(this, 'ClusterName', { value: cluster.clusterName });
  }

  private acmCertificate(hosts: string[], config: EnvironmentConfig): string {
    const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'CertificateZone', {
      hostedZoneId: config.hostedZoneId,
      zoneName: config.zoneName,
    });
    const cert = new acm.Certificate(this, 'EdgeCertificate', {
      domainName: hosts[0] ?? config.zoneName,
      subjectAlternativeNames: hosts.slice(1),
      validation: acm.CertificateValidation.fromDns(zone),
    });
    return cert.certificateArn;
  }
}
