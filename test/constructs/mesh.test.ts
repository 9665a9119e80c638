import { Chart, Testing } from 'cdk8s';
import { Mesh, MeshWorkload, VirtualService } from '../../constructs';
import { addBookinfo } from '../../examples/bookinfo/bookinfo';
import { EGRESS_GATEWAY_NAME, GATEWAY_NAME, validate } from '../../api';
import { readMeshCompileSettings } from '../../runtime/compile/mesh-config';
import { testApp } from '../support/test-app';

function bookinfo() {
  const app = testApp();
  const mesh = new Mesh(app, 'mesh');
  addBookinfo(mesh);
  return { app, mesh };
}

const find = (objs: any[], kind: string, name?: string) =>
  objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

describe('Mesh with the bookinfo example', () => {
  test('synthesizes CRDs, system and apps charts (snapshots)', () => {
    const { mesh } = bookinfo();
    expect(Testing.synth(mesh.system)).toMatchSnapshot();
    expect(Testing.synth(mesh.apps)).toMatchSnapshot();
    expect(Testing.synth(mesh.crds).map((c: any) => c.metadata.name)).toMatchSnapshot();
  });

  test('charts are ordered CRDs → system → apps', () => {
    const { app } = bookinfo();
    expect(app.charts.map((c) => c.node.id)).toEqual(['mast-0-crds', 'mast-1-system', 'mast-2-apps']);
  });

  test('the example has its Gateway, VirtualServices and DestinationRules', () => {
    const apps = Testing.synth(bookinfo().mesh.apps);
    expect(find(apps, 'Gateway')).toHaveLength(1);
    expect(
      find(apps, 'VirtualService')
        .map((v) => v.metadata.name)
        .sort(),
    ).toEqual(['bookinfo', 'details', 'ratings', 'reviews']);
    expect(find(apps, 'DestinationRule', 'reviews')[0].spec.subsets.map((s: any) => s.name)).toEqual(['v1', 'v2', 'v3']);
    expect(
      find(apps, 'Deployment')
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(['details-v1', 'productpage-v1', 'ratings-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3']);
  });
});

describe('synth-time validation', () => {
  test('a broken VirtualService fails synth with the finding code, resource, field and value', () => {
    const { app, mesh } = bookinfo();
    new VirtualService(mesh.apps, 'broken', {
      metadata: { name: 'broken' },
      spec: {
        hosts: ['details'],
        gateways: ['bookinfo-gateway'],
        http: [
          {
            route: [
              { destination: { host: 'details' }, weight: 0 },
              { destination: { host: 'details' }, weight: 0 },
            ],
          },
        ],
      },
    });
    expect(() => app.synth()).toThrow(/MAST0101 VirtualService default\/broken spec\.http\[0\]\.route: all 2 destination weights are 0/);
  });

  test('references are checked across the whole app (a subset nobody defines)', () => {
    const { app, mesh } = bookinfo();
    new VirtualService(mesh.apps, 'bad-subset', {
      metadata: { name: 'ratings-canary' },
      spec: { hosts: ['ratings.default.svc.cluster.local'], http: [{ route: [{ destination: { host: 'ratings', subset: 'v7' } }] }] },
    });
    expect(() => app.synth()).toThrow(/MAST0203 \[IST0101\] VirtualService default\/ratings-canary .*subset "v7"/);
  });

  test('typed props catch what TypeScript cannot: an unknown field from untyped data', () => {
    const app = testApp();
    const chart = new Chart(app, 'c');
    new VirtualService(chart, 'vs', {
      metadata: { name: 'x' },
      spec: { hosts: ['x.example.com'], http: [{ directResponse: { status: 200 }, timout: '1s' } as any] },
    });
    expect(() => app.synth()).toThrow(
      /MAST0001 VirtualService x spec\.http\[0\]\.timout: unknown field "timout" \(did you mean "timeout"\?\)/,
    );
  });

  test('CDK tokens in image URIs and hosts pass through untouched', () => {
    const app = testApp();
    const mesh = new Mesh(app, 'mesh', { proxyImage: '${Token[Proxy.ImageUri.1]}' });
    mesh.addWorkload('web', { image: '${Token[Web.ImageUri.2]}', port: 8080 });
    const apps = Testing.synth(mesh.apps);
    expect(find(apps, 'Deployment', 'web-v1')[0].spec.template.spec.initContainers[1].image).toBe('${Token[Proxy.ImageUri.1]}');
  });

  test('bad construct props name the prop and the value', () => {
    const app = testApp();
    const mesh = new Mesh(app, 'mesh', { gateway: { ports: [{ name: 'http', port: 80, targetPort: 80 }] } });
    mesh.addWorkload('web', { image: 'web:1', port: 15001 });
    expect(() => app.synth()).toThrow(/IngressGateway: ports\[http\]\.targetPort 80 is invalid: an unprivileged port/);
    expect(() => app.synth()).toThrow(/MeshWorkload: port 15001 is invalid: a port the sidecar does not use/);
  });
});

describe('MeshWorkload', () => {
  test('one Service and ServiceAccount, a Deployment per version labelled app/version', () => {
    const app = testApp();
    const chart = new Chart(app, 'c', { namespace: 'shop' });
    new MeshWorkload(chart, 'cart', { image: 'cart:1', port: 8080, versions: [{ version: 'v1' }, { version: 'v2', image: 'cart:2' }] });
    const objs = Testing.synth(chart);
    expect(find(objs, 'Service')).toHaveLength(1);
    expect(find(objs, 'ServiceAccount')).toHaveLength(1);
    const v2 = find(objs, 'Deployment', 'cart-v2')[0];
    expect(v2.spec.template.metadata.labels).toEqual({ app: 'cart', version: 'v2', 'security.istio.io/tlsMode': 'istio' });
    expect(v2.spec.selector.matchLabels).toEqual({ app: 'cart', version: 'v2' });
    expect(v2.spec.template.spec.containers[0].image).toBe('cart:2');
    expect(v2.spec.template.spec.serviceAccountName).toBe('cart');
  });

  test('inject: false leaves the pod alone', () => {
    const app = testApp();
    const chart = new Chart(app, 'c');
    new MeshWorkload(chart, 'batch', { image: 'b:1', port: 8080, inject: false });
    expect(find(Testing.synth(chart), 'Deployment')[0].spec.template.spec.initContainers).toBeUndefined();
  });
});

describe('meshConfig', () => {
  test("is the istio ConfigMap of the control plane's namespace, in Istio's field names, which mastd reads", () => {
    const mesh = new Mesh(testApp(), 'mesh', {
      meshConfig: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' }, pathNormalization: { normalization: 'MERGE_SLASHES' } },
    });
    const [cm] = find(Testing.synth(mesh.system), 'ConfigMap', 'istio');
    expect(cm.metadata.namespace).toBe('mast-system');
    expect(cm.data.mesh).toBe('outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\npathNormalization:\n  normalization: MERGE_SLASHES\n');
  });

  test('a value mast cannot use fails synth naming the field; none without the prop', () => {
    const bad = { outboundTrafficPolicy: { mode: 'REGISTRY' } } as never;
    expect(() => new Mesh(testApp(), 'mesh', { meshConfig: bad })).toThrow(
      /meshConfig: Error MAST0004 ConfigMap mast-system\/istio data\.mesh\.outboundTrafficPolicy\.mode: .*REGISTRY/,
    );
    expect(find(Testing.synth(new Mesh(testApp(), 'mesh').system), 'ConfigMap', 'istio')).toEqual([]);
  });

  test('access logs: accessLogFile, encoding, format and an envoyFileAccessLog provider synthesize; an operator mast-proxy does not fill fails synth', () => {
    const mesh = new Mesh(Testing.app(), 'mesh', {
      meshConfig: {
        accessLogFile: '/dev/stdout',
        accessLogEncoding: 'JSON',
        accessLogFormat: '{"code":"%RESPONSE_CODE%","path":"%REQ(:PATH)%"}',
        extensionProviders: [
          { name: 'errors', envoyFileAccessLog: { path: '/var/log/errors.log', logFormat: { text: '%RESPONSE_CODE%' } } },
        ],
        defaultProviders: { accessLogging: ['envoy', 'errors'] },
      },
    });
    const [cm] = find(Testing.synth(mesh.system), 'ConfigMap', 'istio');
    expect(validate([cm], { scope: 'resource' })).toEqual([]);
    expect(cm.data.mesh).toContain('accessLogEncoding: JSON');
    expect(
      () => new Mesh(Testing.app(), 'mesh', { meshConfig: { accessLogFile: '/dev/stdout', accessLogFormat: '%UPSTREAM_PEER_SUBJECT%' } }),
    ).toThrow(
      /meshConfig: Error MAST0162 ConfigMap mast-system\/istio data\.mesh\.accessLogFormat: %UPSTREAM_PEER_SUBJECT% is not a command operator/,
    );
  });

  test('a control plane outside the root namespaces cannot carry it (mast would not read it there)', () => {
    expect(
      () => new Mesh(testApp(), 'mesh', { controlPlane: { namespace: 'mesh-ops' }, meshConfig: { h2UpgradePolicy: 'UPGRADE' } }),
    ).toThrow(/root namespace \(mast-system, istio-system\); the control plane's namespace is mesh-ops/);
  });

  test('trustDomain is the trust domain mastd signs in (its --trust-domain); controlPlane.trustDomain too, but not both differing', () => {
    const argsOf = (mesh: Mesh) => find(Testing.synth(mesh.system), 'Deployment')[0].spec.template.spec.containers[0].args as string[];
    const args = argsOf(new Mesh(testApp(), 'mesh', { meshConfig: { trustDomain: 'new-td', trustDomainAliases: ['old-td'] } }));
    expect(args[args.indexOf('--trust-domain') + 1]).toBe('new-td');
    const viaControlPlane = argsOf(new Mesh(testApp(), 'mesh', { controlPlane: { trustDomain: 'corp.example' } }));
    expect(viaControlPlane[viaControlPlane.indexOf('--trust-domain') + 1]).toBe('corp.example');
    expect(
      () => new Mesh(testApp(), 'mesh', { meshConfig: { trustDomain: 'new-td' }, controlPlane: { trustDomain: 'corp.example' } }),
    ).toThrow(/meshConfig.trustDomain "new-td" and controlPlane.trustDomain "corp.example" differ/);
    expect(() => new Mesh(testApp(), 'mesh', { controlPlane: { trustDomain: 'Corp_Example' } })).toThrow(
      /controlPlane.trustDomain: MAST0138 "Corp_Example" is not a trust domain/,
    );
  });
});

describe('meshConfig defaultConfig.gatewayTopology: what is in front of the gateways, as their flags', () => {
  const gatewayArgs = (mesh: Mesh, name: string) =>
    find(Testing.synth(mesh.system), 'Deployment', name)[0].spec.template.spec.containers[0].args as string[];
  const behindNlb = {
    defaultConfig: { gatewayTopology: { numTrustedProxies: 1, proxyProtocol: {}, forwardClientCertDetails: 'APPEND_FORWARD' as const } },
  };

  test('both gateways start with --trusted-hops, --proxy-protocol and --forward-client-cert from it', () => {
    const mesh = new Mesh(testApp(), 'mesh', { meshConfig: behindNlb, egressGateway: true });
    for (const name of [GATEWAY_NAME, EGRESS_GATEWAY_NAME])
      expect(gatewayArgs(mesh, name).join(' ')).toContain('--trusted-hops 1 --proxy-protocol --forward-client-cert APPEND_FORWARD');
  });

  test("a gateway's own props win over the mesh config, as a pod's proxy.istio.io/config does", () => {
    const mesh = new Mesh(testApp(), 'mesh', { meshConfig: behindNlb, gateway: { proxyProtocol: false, numTrustedProxies: 2 } });
    const args = gatewayArgs(mesh, GATEWAY_NAME);
    expect(args).not.toContain('--proxy-protocol');
    expect(args.join(' ')).toContain('--trusted-hops 2');
  });

  test('without it a gateway trusts no x-forwarded-for and expects no PROXY header', () => {
    const args = gatewayArgs(new Mesh(testApp(), 'mesh'), GATEWAY_NAME);
    expect(args.filter((a) => /trusted-hops|proxy-protocol|forward-client-cert/.test(a))).toEqual([]);
  });

  test('numTrustedProxies on a gateway must be a whole number', () => {
    const mesh = new Mesh(testApp(), 'mesh', { gateway: { numTrustedProxies: -1 } });
    expect(() => Testing.synth(mesh.system)).toThrow(/numTrustedProxies.*-1.*a whole number of proxies/);
  });
});

describe('Mesh localityLoadBalancing: the mesh-wide localityLbSetting in the istio ConfigMap', () => {
  const meshConfigOf = (mesh: Mesh) => find(Testing.synth(mesh.system), 'ConfigMap', 'istio');

  test('true: `localityLbSetting: { enabled: true }` in mast-system, as mastd reads it (and validates it: no findings)', () => {
    const app = testApp();
    const mesh = new Mesh(app, 'mesh', { localityLoadBalancing: true });
    const [cm] = meshConfigOf(mesh);
    expect(cm.metadata.namespace).toBe('mast-system');
    const objects = [cm];
    expect(validate(objects, { scope: 'resource' })).toEqual([]);
    expect(readMeshCompileSettings(objects).localityLb).toEqual({ enabled: true });
  });

  test('a whole setting is written as given; false turns it off; left out, no ConfigMap', () => {
    const failover = { failover: [{ from: 'us-east-1', to: 'us-west-2' }] };
    expect(readMeshCompileSettings(meshConfigOf(new Mesh(testApp(), 'mesh', { localityLoadBalancing: failover }))).localityLb).toEqual(
      failover,
    );
    expect(readMeshCompileSettings(meshConfigOf(new Mesh(testApp(), 'mesh', { localityLoadBalancing: false }))).localityLb).toBeUndefined();
    expect(meshConfigOf(new Mesh(testApp(), 'mesh'))).toEqual([]);
  });

  test('a bad distribute fails synth naming the prop, the field and the value (MAST0135)', () => {
    const bad = { distribute: [{ from: 'us-east-1/*', to: { 'us-east-1/us-east-1a': 60 } }] };
    expect(() => new Mesh(testApp(), 'mesh', { localityLoadBalancing: bad })).toThrow(
      /meshConfig: .*MAST0135.*data\.mesh\.localityLbSetting\.distribute\[0\]\.to.*sum to 60/,
    );
  });

  test('beside meshConfig: one ConfigMap holding both', () => {
    const mesh = new Mesh(testApp(), 'mesh', { meshConfig: { h2UpgradePolicy: 'UPGRADE' }, localityLoadBalancing: true });
    const [cm] = meshConfigOf(mesh);
    expect(cm.data.mesh).toBe('h2UpgradePolicy: UPGRADE\nlocalityLbSetting:\n  enabled: true\n');
  });
});
