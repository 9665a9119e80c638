import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { VirtualService } from '../../constructs';
import { addBookinfo } from '../../examples/bookinfo/bookinfo';
import { MeshEnvironmentStack, type MeshEnvironmentStackProps } from '../../lib/mesh-environment-stack';
import { acknowledgeNagFindings } from '../../lib/nag';
import { EksV2Checks } from '../../lib/nag-eks';
import { MAX_MANIFEST_BYTES } from '../../lib/manifests';
import { MeshCluster, type MeshClusterProps } from '../../lib/mesh-cluster';
import { ConfigError, type EnvironmentConfig } from '../../lib/config';
import { tempDir } from '../support/temp-dir';

// Each synthesized assembly (about 57 MB with the EKS handlers' assets) goes under one directory,
// removed after this file's tests: an App without an outdir leaves a new cdk.out* in /tmp per synth.
const OUTDIR = tempDir('mast-environment-test-');
let apps = 0;
const newApp = () => new App({ outdir: join(OUTDIR, String(apps++)) });

const CONFIG: EnvironmentConfig = { envName: 'test', zoneName: 'example.com', hostedZoneId: 'Z0TEST' };

function synth(config: Partial<EnvironmentConfig> = {}, extra: Partial<MeshEnvironmentStackProps> = {}) {
  const app = newApp();
  const stack = new MeshEnvironmentStack(app, 'Env', { config: { ...CONFIG, ...config }, populate: (mesh) => addBookinfo(mesh), ...extra });
  return { app, stack, template: Template.fromStack(stack) };
}

type Resources = Record<string, { Type: string; Properties: any; DependsOn?: string[] }>;
/** Kubernetes objects of a manifest resource, with CloudFormation tokens rendered as `{{Ref:X}}`/`{{GetAtt:X.Y}}`. */
function objectsOf(resource: { Properties: any }): any[] {
  const m = resource.Properties.Manifest;
  const text =
    typeof m === 'string'
      ? m
      : m['Fn::Join'][1]
          .map((p: any) =>
            typeof p === 'string'
              ? p
              : p.Ref
                ? `{{Ref:${p.Ref}}}`
                : p['Fn::GetAtt']
                  ? `{{GetAtt:${p['Fn::GetAtt'].join('.')}}}`
                  : `{{${JSON.stringify(p).replace(/"/g, "'")}}}`,
          )
          .join('');
  return JSON.parse(text);
}

describe('MeshEnvironmentStack', () => {
  const { stack, template } = synth();
  const resources = template.toJSON().Resources as Resources;
  const manifests = Object.entries(resources).filter(([, r]) => r.Type === 'Custom::AWSCDK-EKS-KubernetesResource');
  const objects = manifests.flatMap(([id, r]) => objectsOf(r).map((o) => ({ id, o })));
  const find = (kind: string, name?: string) => objects.filter(({ o }) => o.kind === kind && (!name || o.metadata.name === name));
  const logicalId = (type: string, pathPart: string) =>
    Object.entries(resources).find(([id, r]) => r.Type === type && id.includes(pathPart))![0];

  test('EKS cluster: Kubernetes 1.35, managed node group, control-plane logging, metrics-server', () => {
    template.hasResourceProperties('AWS::EKS::Cluster', {
      Version: '1.35',
      Logging: { ClusterLogging: { EnabledTypes: Match.arrayWith([{ Type: 'api' }, { Type: 'audit' }]) } },
    });
    template.hasResourceProperties('AWS::EKS::Nodegroup', {
      ScalingConfig: { MinSize: 2, MaxSize: 4, DesiredSize: 2 },
      AmiType: 'AL2023_x86_64_STANDARD',
    });
    template.hasResourceProperties('AWS::EKS::Addon', { AddonName: 'metrics-server' });
  });

  test('NLB: network, internet-facing, listeners on 80 and 443, cross-zone on', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Type: 'network',
      Scheme: 'internet-facing',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'load_balancing.cross_zone.enabled', Value: 'true' }]),
    });
    template.resourcePropertiesCountIs('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'TCP' }, 1);
    template.resourcePropertiesCountIs('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'TCP' }, 1);
  });

  test('TargetGroupBinding → the IP target group → the ClusterIP gateway Service → the gateway container port', () => {
    const gwService = find('Service', 'mast-ingressgateway')[0].o;
    const gwPod = find('Deployment', 'mast-ingressgateway')[0].o.spec.template.spec.containers[0];
    expect(gwService.spec.type).toBe('ClusterIP');
    for (const port of [80, 443]) {
      const tgId = logicalId('AWS::ElasticLoadBalancingV2::TargetGroup', `Targets${port}`);
      const tg = resources[tgId].Properties;
      const binding = find('TargetGroupBinding', `mast-ingressgateway-${port}`)[0].o;
      expect(binding.spec).toEqual({
        serviceRef: { name: 'mast-ingressgateway', port },
        targetGroupARN: `{{Ref:${tgId}}}`,
        targetType: 'ip',
      });
      const svcPort = gwService.spec.ports.find((p: any) => p.port === port);
      expect(tg).toMatchObject({ TargetType: 'ip', Protocol: 'TCP', Port: svcPort.targetPort });
      expect(gwPod.ports.map((p: any) => p.containerPort)).toContain(svcPort.targetPort);
      expect(tg.TargetGroupAttributes).toEqual(expect.arrayContaining([{ Key: 'proxy_protocol_v2.enabled', Value: 'true' }]));
    }
  });

  test('health checks probe what the gateway readiness probe probes', () => {
    const probe = find('Deployment', 'mast-ingressgateway')[0].o.spec.template.spec.containers[0].readinessProbe.httpGet;
    template.allResourcesProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      HealthCheckProtocol: 'HTTP',
      HealthCheckPort: String(probe.port),
      HealthCheckPath: probe.path,
    });
  });

  test('security groups: the pods accept exactly the gateway ports, only from the NLB', () => {
    const nlbSg = logicalId('AWS::EC2::SecurityGroup', 'NlbSecurityGroup');
    const fromNlb = Object.values(resources).filter(
      (r) => r.Type === 'AWS::EC2::SecurityGroupIngress' && r.Properties.SourceSecurityGroupId?.['Fn::GetAtt']?.[0] === nlbSg,
    );
    expect(fromNlb.map((r) => r.Properties.FromPort).sort((a, b) => a - b)).toEqual([8080, 8443, 15021]);
    for (const r of fromNlb) expect(r.Properties.ToPort).toBe(r.Properties.FromPort);
    const nlbIngress = resources[nlbSg].Properties.SecurityGroupIngress.map((r: any) => r.FromPort).sort((a: number, b: number) => a - b);
    expect(nlbIngress).toEqual([80, 443]);
  });

  test('every container image is an ECR asset URI', () => {
    const images = objects.flatMap(({ o }) =>
      [...(o.spec?.template?.spec?.containers ?? []), ...(o.spec?.template?.spec?.initContainers ?? [])].map((c: any) => c.image),
    );
    const meshImages = images.filter((i) => !i.startsWith('mast/bookinfo'));
    expect(meshImages.length).toBeGreaterThan(5);
    for (const image of meshImages)
      expect(image).toMatch(/^\{\{.*dkr\.ecr.*container-assets.*:[0-9a-f]{64}\}\}$|cdk-hnb659fds-container-assets/);
  });

  test('manifests: controller → CRDs → system → apps and bindings, each under the size limit', () => {
    const id = (part: string) => manifests.find(([k]) => k.includes(part))![0];
    const deps = (part: string) => resources[id(part)].DependsOn ?? [];
    const controller = Object.keys(resources).filter((k) => k.includes('LoadBalancerController'));
    expect(deps('MeshCrds').some((d) => controller.includes(d))).toBe(true);
    expect(deps('MeshSystem')).toContain(id('MeshCrds'));
    expect(deps('MeshApps')).toContain(id('MeshSystem'));
    expect(deps('TargetGroupBinding80')).toContain(id('MeshSystem'));
    // A part of several objects stays near the bound; one object larger than it (a CRD with its docs) goes
    // alone, still well under the custom resource's 256 KB payload limit.
    for (const [, r] of manifests) {
      const bytes = Buffer.byteLength(JSON.stringify(r.Properties.Manifest));
      expect(bytes).toBeLessThan(objectsOf(r).length > 1 ? MAX_MANIFEST_BYTES + 10_000 : 200_000);
    }
    expect(Buffer.byteLength(JSON.stringify(template.toJSON()))).toBeLessThan(1_000_000);
  });

  test('one CNAME per Gateway host, pointing at the NLB', () => {
    const nlb = logicalId('AWS::ElasticLoadBalancingV2::LoadBalancer', 'Nlb');
    template.resourceCountIs('AWS::Route53::RecordSet', 1);
    template.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'alpha.example.com.',
      Type: 'CNAME',
      HostedZoneId: 'Z0TEST',
      TTL: '300',
      ResourceRecords: [{ 'Fn::GetAtt': [nlb, 'DNSName'] }],
    });
    expect(stack.records).toEqual([{ host: 'alpha.example.com', type: 'CNAME' }]);
  });

  // Every documented option of the config, as the repo app (bin/mast.ts) runs it: cdk-nag with the acknowledged findings.
  test.each<[string, Partial<EnvironmentConfig>]>([
    ['the defaults', {}],
    ['TLS at the gateway (cert-manager, Route 53 DNS-01)', { tls: { mode: 'gateway', email: 'ops@example.com' } }],
    ['TLS at the NLB (ACM)', { tls: { mode: 'nlb' } }],
    ['Auto Mode capacity', { capacity: { type: 'automode' } }],
    ['arm64 node group', { capacity: { type: 'nodegroup', arm64: true, instanceTypes: ['m7g.large'] } }],
  ])('cdk-nag AwsSolutions (its EKS rules included) passes with the acknowledged findings: %s', (_, config) => {
    const app = newApp();
    const s = new MeshEnvironmentStack(app, 'Nagged', { config: { ...CONFIG, ...config }, populate: (mesh) => addBookinfo(mesh) });
    acknowledgeNagFindings(s);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new EksV2Checks(app));
    expect(() => app.synth()).not.toThrow();
  });

  test('the API endpoint is private by default; Secrets are encrypted with a rotated KMS key of the stack', () => {
    template.hasResourceProperties('AWS::EKS::Cluster', {
      ResourcesVpcConfig: Match.objectLike({ EndpointPublicAccess: false, EndpointPrivateAccess: true }),
      EncryptionConfig: [{ Provider: { KeyArn: Match.anyValue() }, Resources: ['secrets'] }],
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('the Load Balancer Controller uses Pod Identity (no OIDC provider) and the region-neutral public ECR image', () => {
    template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      Namespace: 'kube-system',
      ServiceAccount: 'aws-load-balancer-controller',
    });
    expect(Object.values(resources).filter((r) => /OpenIdConnect/.test(r.Type))).toEqual([]);
    const chart = Object.values(resources).find(
      (r) => r.Type === 'Custom::AWSCDK-EKS-HelmChart' && r.Properties.Chart === 'aws-load-balancer-controller',
    );
    expect(JSON.stringify(chart?.Properties.Values)).toContain('public.ecr.aws/eks/aws-load-balancer-controller');
  });

  test('the CRDs outlive a destroy and are not installed over existing ones unless adopted', () => {
    const all = template.toJSON().Resources as Record<string, any>;
    const parts = (name: string) =>
      Object.entries(all).filter(([id, r]) => r.Type === 'Custom::AWSCDK-EKS-KubernetesResource' && id.includes(name));
    expect(parts('MeshCrds').length).toBeGreaterThan(0);
    for (const [, r] of parts('MeshCrds')) expect([r.DeletionPolicy, r.Properties.Overwrite ?? false]).toEqual(['Retain', false]);
    for (const [, r] of parts('MeshApps')) expect(r.DeletionPolicy).toBe('Delete');
    const adopted = synth({ adoptExistingCrds: true }).template.toJSON().Resources as Record<string, any>;
    const adoptedCrds = Object.entries(adopted).filter(
      ([id, r]) => r.Type === 'Custom::AWSCDK-EKS-KubernetesResource' && id.includes('MeshCrds'),
    );
    for (const [, r] of adoptedCrds) expect(r.Properties.Overwrite).toBe(true);
  });

  test("the gateway's namespace carries the Load Balancer Controller's readiness gate", () => {
    const [ns] = find('Namespace', 'mast-system');
    expect(ns.o.metadata.labels).toMatchObject({ 'elbv2.k8s.aws/pod-readiness-gate-inject': 'enabled' });
  });

  test('no ARN names the aws partition literally (aws-cn and aws-us-gov deploy too)', () => {
    expect(JSON.stringify(template.toJSON())).not.toMatch(/"arn:aws:/);
  });

  test('an endpoint public to the world is AwsSolutions-EKS1 unless acknowledged; one restricted to CIDRs is acknowledged with them', () => {
    const nagged = (endpointAccess: EnvironmentConfig['endpointAccess'], acknowledgeEks1: boolean) => {
      const app = newApp();
      const s = new MeshEnvironmentStack(app, 'Public', { config: { ...CONFIG, endpointAccess }, populate: (mesh) => addBookinfo(mesh) });
      acknowledgeNagFindings(s);
      if (acknowledgeEks1) Validations.of(s).acknowledge({ id: 'AwsSolutions::AwsSolutions-EKS1', reason: 'a test' });
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new EksV2Checks(app));
      return () => app.synth();
    };
    const restricted: EnvironmentConfig['endpointAccess'] = { mode: 'public-and-private', cidrs: ['203.0.113.0/24'] };
    expect(nagged(restricted, false)).not.toThrow();
    expect(nagged({ mode: 'public-and-private', cidrs: ['203.0.113.0/24', '0.0.0.0/0'] }, false)).toThrow(/AwsSolutions-EKS1/);
    expect(nagged({ mode: 'public' }, false)).toThrow(/AwsSolutions-EKS1/);
    expect(nagged({ mode: 'public' }, true)).not.toThrow();
    synth({ endpointAccess: restricted }).template.hasResourceProperties('AWS::EKS::Cluster', {
      ResourcesVpcConfig: Match.objectLike({
        EndpointPublicAccess: true,
        EndpointPrivateAccess: true,
        PublicAccessCidrs: ['203.0.113.0/24'],
      }),
    });
    synth({ endpointAccess: { mode: 'public' } }).template.hasResourceProperties('AWS::EKS::Cluster', {
      ResourcesVpcConfig: Match.objectLike({ EndpointPublicAccess: true, EndpointPrivateAccess: false }),
    });
  });
});

describe('typed props are checked as cdk.json is', () => {
  const bad = (config: unknown) => () =>
    new MeshEnvironmentStack(newApp(), 'Env', { config: config as EnvironmentConfig, populate: (mesh) => addBookinfo(mesh) });
  test.each<[string, unknown, RegExp]>([
    ['an unsupported Kubernetes version', { ...CONFIG, kubernetesVersion: '1.99' }, /config\.kubernetesVersion "1\.99" is not supported/],
    [
      'a typo in a config read from JSON',
      JSON.parse('{"envName":"test","zoneName":"example.com","hostedZoneId":"Z0TEST","maxAZs":3}'),
      /config\.maxAZs is not a setting/,
    ],
    ['no envName', { zoneName: 'example.com', hostedZoneId: 'Z0TEST' }, /config\.envName is required/],
    [
      'a CIDR that is no address',
      { ...CONFIG, endpointAccess: { mode: 'public-and-private', cidrs: ['10.0.0.300/8'] } },
      /config\.endpointAccess\.cidrs\[0\] must be an IPv4 CIDR block .*got "10\.0\.0\.300\/8"/,
    ],
    [
      'CIDRs on a public-only endpoint',
      { ...CONFIG, endpointAccess: { mode: 'public', cidrs: ['203.0.113.0/24'] } },
      /config\.endpointAccess\.cidrs is not a setting \(an endpoint restricted to CIDRs is mode "public-and-private"\)/,
    ],
    [
      'an account id that is not 12 digits',
      { ...CONFIG, account: '12345' },
      /config\.account must be an AWS account id of 12 digits, got "12345"/,
    ],
  ])('%s is MAST_CONFIG_INVALID', (_, config, message) => {
    expect(bad(config)).toThrow(ConfigError);
    expect(bad(config)).toThrow(/^MAST_CONFIG_INVALID: /);
    expect(bad(config)).toThrow(message);
  });

  test('MeshCluster used alone checks its Kubernetes version and endpoint access the same way', () => {
    const cluster = (props: Partial<MeshClusterProps>) => () => new MeshCluster(new Stack(newApp(), 'S'), 'C', { name: 'c', ...props });
    expect(cluster({ kubernetesVersion: '1.99' })).toThrow(/^MAST_CONFIG_INVALID: MeshCluster\.kubernetesVersion "1\.99" is not supported/);
    expect(cluster({ endpointAccess: { mode: 'public-and-private', cidrs: ['10.0.0.300/8'] } })).toThrow(
      /MeshCluster\.endpointAccess\.cidrs\[0\] must be an IPv4 CIDR block .*got "10\.0\.0\.300\/8"/,
    );
  });
});

describe('synth-time errors', () => {
  test('a Gateway host outside the zone fails with its code', () => {
    expect(() => synth({ zoneName: 'other.org' })).toThrow(
      /MAST_DNS_OUTSIDE_ZONE: Gateway host "alpha.example.com" is outside the hosted zone other.org/,
    );
  });

  test('a broken VirtualService fails cdk synth with its finding code', () => {
    const populate = (mesh: any) => {
      addBookinfo(mesh);
      new VirtualService(mesh.apps, 'broken', {
        metadata: { name: 'broken' },
        spec: {
          hosts: ['details'],
          http: [
            {
              route: [
                { destination: { host: 'details', subset: 'v1' }, weight: 0 },
                { destination: { host: 'details', subset: 'v1' }, weight: 0 },
              ],
            },
          ],
        },
      });
    };
    expect(() => synth({}, { populate })).toThrow(/MAST0101 VirtualService default\/broken/);
  });

  test('the zone apex gets an alias record, and a cross-account zone is written through its role', () => {
    const populate = (mesh: any) => {
      addBookinfo(mesh);
      mesh.addObjects([
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'Gateway',
          metadata: { name: 'apex', namespace: 'default' },
          spec: {
            selector: { istio: 'ingressgateway' },
            servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['example.com'] }],
          },
        },
      ]);
      mesh.addObjects([
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'apex', namespace: 'default' },
          spec: { hosts: ['example.com'], gateways: ['apex'], http: [{ route: [{ destination: { host: 'productpage' } }] }] },
        },
      ]);
    };
    const { template } = synth({}, { populate });
    template.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'example.com.',
      Type: 'A',
      AliasTarget: Match.objectLike({ DNSName: Match.anyValue() }),
    });
    const cross = synth({ zoneRoleArn: 'arn:aws:iam::111111111111:role/dns' }).template;
    cross.resourceCountIs('AWS::Route53::RecordSet', 0);
    const create = JSON.stringify(Object.values(cross.findResources('Custom::AWS'))[0].Properties.Create);
    expect(create).toMatch(/changeResourceRecordSets.*arn:aws:iam::111111111111:role\/dns.*UPSERT.*alpha.example.com/);
  });

  test('TLS at the NLB: a TLS listener on 443 to the gateway HTTP port, with an ACM certificate validated in the zone', () => {
    const { template } = synth({ tls: { mode: 'nlb' } });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'TLS' });
    template.hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: 'alpha.example.com', ValidationMethod: 'DNS' });
  });

  test('TLS at the gateway: cert-manager, a DNS-01 issuer for the zone and a Certificate for the Gateway hosts', () => {
    const { template } = synth({ tls: { mode: 'gateway', email: 'ops@example.com' } });
    template.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', { Chart: 'cert-manager', Version: 'v1.19.1' });
    template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', { Namespace: 'cert-manager', ServiceAccount: 'cert-manager' });
    const json = JSON.stringify(template.toJSON());
    expect(json).toMatch(/ClusterIssuer.*hostedZoneID.*Z0TEST/);
    expect(json).toMatch(/\\"kind\\":\\"Certificate\\".*alpha.example.com/);
  });

  test("Auto Mode capacity and several environments from one app, staging's with mast's Grafana dashboards", () => {
    const app = newApp();
    for (const envName of ['staging', 'prod'])
      new MeshEnvironmentStack(app, envName, {
        config: { ...CONFIG, envName, capacity: { type: 'automode' } },
        populate: (mesh) => addBookinfo(mesh),
        ...(envName === 'staging' ? { mesh: { dashboards: true } } : {}),
      });
    // The dashboards' ConfigMaps go with the system chart's manifests, only where asked for.
    const dashboards = (stack: string) =>
      Object.values(Template.fromStack(app.node.findChild(stack) as Stack).toJSON().Resources as Resources)
        .filter((r) => r.Type === 'Custom::AWSCDK-EKS-KubernetesResource')
        .flatMap(objectsOf)
        .filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1')
        .map((o) => o.metadata.name);
    expect(dashboards('staging')).toEqual([
      'mast-dashboard-mesh',
      'mast-dashboard-service',
      'mast-dashboard-workload',
      'mast-dashboard-control-plane',
    ]);
    expect(dashboards('prod')).toEqual([]);
    const prod = Template.fromStack(app.node.findChild('prod') as Stack);
    prod.resourceCountIs('AWS::EKS::Nodegroup', 0);
    prod.hasResourceProperties('AWS::EKS::Cluster', { Name: 'mast-prod', ComputeConfig: Match.objectLike({ Enabled: true }) });
    // Auto Mode's own controller: no Load Balancer Controller chart, bindings in its API group.
    const json = JSON.stringify(prod.toJSON());
    expect(json).not.toMatch(/aws-load-balancer-controller/);
    expect(json).toMatch(/eks.amazonaws.com\/v1\\",\\"kind\\":\\"TargetGroupBinding/);
  });
});

describe('the egress gateway, optional', () => {
  const deployments = (extra: Partial<MeshEnvironmentStackProps>) => {
    const resources = synth({}, { buildImages: false, ...extra }).template.toJSON().Resources as Resources;
    return Object.values(resources)
      .filter((r) => r.Type === 'Custom::AWSCDK-EKS-KubernetesResource')
      .flatMap((r) => objectsOf(r))
      .filter((o) => o.kind === 'Deployment' || o.kind === 'Service');
  };

  test('none by default; mesh: { egressGateway: true } adds istio-egressgateway (a ClusterIP Service) beside the ingress gateway', () => {
    expect(deployments({}).map((o) => o.metadata.name)).not.toContain('istio-egressgateway');
    const objs = deployments({ mesh: { egressGateway: true } });
    expect(objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'istio-egressgateway')?.spec.selector.matchLabels).toEqual({
      istio: 'egressgateway',
    });
    expect(objs.find((o) => o.kind === 'Service' && o.metadata.name === 'istio-egressgateway')?.spec.type).toBe('ClusterIP');
    expect(objs.find((o) => o.kind === 'Service' && o.metadata.name === 'mast-ingressgateway')?.spec.type).toBe('ClusterIP');
  });
});
