import { Chart, Testing } from 'cdk8s';
import { IngressGateway, Mesh, MeshControlPlane } from '../../constructs';
import type { KubeObject } from '../../api';
import { authzFor } from '../../runtime/compile/authz';
import { buildIndex, makeSnapshot } from '../../runtime/compile';
import { testApp } from '../support/test-app';

const synth = (build: (chart: Chart) => void) => {
  const app = testApp();
  const chart = new Chart(app, 'c');
  build(chart);
  return Testing.synth(chart) as any[];
};
const one = (objs: any[], kind: string) => objs.filter((o) => o.kind === kind);

describe('MeshControlPlane RBAC is least privilege', () => {
  const objs = synth((c) => new MeshControlPlane(c, 'cp'));
  const clusterRules = one(objs, 'ClusterRole')[0].rules as any[];
  const verbsFor = (group: string, resource: string) =>
    clusterRules.filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource)).flatMap((r) => r.verbs);

  test('watches the mesh kinds, Telemetry, Services, EndpointSlices, Pods, Namespaces; writes nothing there', () => {
    for (const [g, r] of [
      ['networking.istio.io', 'virtualservices'],
      ['security.istio.io', 'authorizationpolicies'],
      ['telemetry.istio.io', 'telemetries'],
      ['', 'services'],
      ['discovery.k8s.io', 'endpointslices'],
      ['', 'pods'],
      ['', 'namespaces'],
    ])
      expect(verbsFor(g, r).sort()).toEqual(['get', 'list', 'watch']);
  });

  test('cluster-wide it may only create TokenReviews and Events, update mesh status, and write its root ConfigMap', () => {
    expect(verbsFor('authentication.k8s.io', 'tokenreviews')).toEqual(['create']);
    // ConfigMaps: create any (Kubernetes cannot limit create by name), read and replace only mast-ca-root-cert
    // (the mesh config is read in its own namespace: the Role).
    expect(clusterRules.filter((r) => r.resources.includes('configmaps'))).toEqual([
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['mast-ca-root-cert'], verbs: ['get', 'update'] },
    ]);
    expect(verbsFor('', 'events').sort()).toEqual(['create', 'patch']);
    expect(verbsFor('networking.istio.io', 'virtualservices/status').sort()).toEqual(['get', 'patch', 'update']);
    expect(clusterRules.flatMap((r) => r.resources)).not.toContain('secrets');
    expect(clusterRules.flatMap((r) => r.verbs)).not.toContain('*');
  });

  test('Secrets, ConfigMaps (the mesh config, read only) and Leases only in its own namespace', () => {
    const role = one(objs, 'Role')[0];
    expect(role.metadata.namespace).toBe('mast-system');
    expect(role.rules.flatMap((r: any) => r.resources).sort()).toEqual(['configmaps', 'leases', 'secrets']);
    expect(role.rules.find((r: any) => r.resources.includes('configmaps')).verbs).toEqual(['get', 'list', 'watch']);
  });

  test('serves its push port over TLS (the default with --source kubernetes)', () => {
    const args = one(objs, 'Deployment')[0].spec.template.spec.containers[0].args as string[];
    expect(args).toEqual(expect.arrayContaining(['--source', 'kubernetes']));
    expect(args).not.toContain('--push-tls');
  });

  test('mastd runs non-root with probes', () => {
    const pod = one(objs, 'Deployment')[0].spec.template.spec;
    expect(pod.containers[0].securityContext.runAsNonRoot).toBe(true);
    expect(pod.containers[0].readinessProbe.httpGet.path).toBe('/ready');
  });
});

describe('IngressGateway', () => {
  /** A Gateway in `default` selecting `selector`, with these servers. */
  const gateway = (name: string, selector: Record<string, string>, servers: object[]): KubeObject => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace: 'default' },
    spec: { selector, servers },
  });
  /** An HTTPS server for `host`. */
  const httpsServer = (number: number, name: string, host: string, tls: object) => ({
    port: { number, name, protocol: 'HTTPS' },
    hosts: [host],
    tls,
  });
  /** The ingress gateway's Deployment, as the mesh's system chart synthesizes it. */
  const gatewayDeployment = (mesh: Mesh) =>
    (Testing.synth(mesh.system) as any[]).find((o) => o.kind === 'Deployment' && o.metadata.name === 'mast-ingressgateway');
  test.each(['LoadBalancer', 'ClusterIP', 'NodePort'] as const)('Service type %s', (serviceType) => {
    const objs = synth(
      (c) => new IngressGateway(c, 'gw', { serviceType, ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }] }),
    );
    const svc = one(objs, 'Service')[0];
    expect(svc.spec.type).toBe(serviceType);
    expect(svc.spec.ports[0]).toMatchObject({ port: 80, targetPort: 8080 });
    expect(svc.spec.ports[0].nodePort).toBe(serviceType === 'NodePort' ? 30080 : undefined);
  });

  test('PDB, HPA, readiness on the status port, graceful drain', () => {
    const objs = synth((c) => new IngressGateway(c, 'gw', { drainSeconds: 20, proxyProtocol: true }));
    expect(one(objs, 'PodDisruptionBudget')[0].spec.minAvailable).toBe(1);
    expect(one(objs, 'HorizontalPodAutoscaler')[0].spec).toMatchObject({ minReplicas: 2, maxReplicas: 5 });
    const pod = one(objs, 'Deployment')[0].spec.template.spec;
    const proxy = pod.containers[0];
    expect(proxy.readinessProbe.httpGet).toEqual({ path: '/healthz/ready', port: 15021 });
    expect(pod.terminationGracePeriodSeconds).toBe(35); // 20 s accepting, 10 s for requests in flight, 5 s to spare
    expect(proxy.args).toEqual(expect.arrayContaining(['--mode', 'gateway', '--proxy-protocol', '--port-map', '80=8080,443=8443']));
  });

  test('the TLS Secrets its Gateways name as credentialName are mounted read-only, optional, where the proxy reads them', () => {
    const mesh = new Mesh(testApp(), 'm');
    mesh.addObjects([
      gateway('alpha', { istio: 'ingressgateway' }, [
        httpsServer(443, 'https', 'alpha.example.com', { mode: 'SIMPLE', credentialName: 'alpha-cert' }),
      ]),
    ]);
    mesh.gateway!.addCredential('extra-cert');
    const pod = gatewayDeployment(mesh).spec.template.spec;
    expect(pod.volumes).toEqual([
      { name: 'mast-ca-root', configMap: { name: 'mast-ca-root-cert' } },
      { name: 'credential-0', secret: { secretName: 'alpha-cert', optional: true } },
      { name: 'credential-1', secret: { secretName: 'extra-cert', optional: true } },
    ]);
    expect(pod.containers[0].volumeMounts).toEqual([
      { name: 'mast-ca-root', mountPath: '/var/run/mast/root', readOnly: true },
      { name: 'credential-0', mountPath: '/etc/mast/credentials/alpha-cert', readOnly: true },
      { name: 'credential-1', mountPath: '/etc/mast/credentials/extra-cert', readOnly: true },
    ]);
  });

  test('a MUTUAL server without caCertificates also gets <name>-cacert mounted, where Istio may take the CA from', () => {
    const mesh = new Mesh(testApp(), 'm');
    mesh.addObjects([
      gateway('mutual', { istio: 'ingressgateway' }, [
        httpsServer(443, 'https', 'a.example.com', { mode: 'MUTUAL', credentialName: 'a-cert' }),
        httpsServer(8443, 'https-b', 'b.example.com', { mode: 'MUTUAL', credentialName: 'b-cert', caCertificates: '/etc/ca.pem' }),
      ]),
    ]);
    expect(
      gatewayDeployment(mesh)
        .spec.template.spec.volumes.map((v: any) => v.secret?.secretName)
        .filter(Boolean),
    ).toEqual(['a-cert', 'a-cert-cacert', 'b-cert']);
  });

  test("verifies mastd's push port with the root mastd writes into its namespace", () => {
    const pod = one(
      synth((c) => new IngressGateway(c, 'gw')),
      'Deployment',
    )[0].spec.template.spec;
    expect(pod.volumes).toEqual([{ name: 'mast-ca-root', configMap: { name: 'mast-ca-root-cert' } }]);
    expect(pod.containers[0].volumeMounts).toEqual([{ name: 'mast-ca-root', mountPath: '/var/run/mast/root', readOnly: true }]);
    expect(pod.containers[0].args).toEqual(expect.arrayContaining(['--control-plane-ca', '/var/run/mast/root/root-cert.pem']));
  });

  test('several proxy processes per pod on request; a bad count fails synth', () => {
    const args = one(
      synth((c) => new IngressGateway(c, 'gw', { workers: 4 })),
      'Deployment',
    )[0].spec.template.spec.containers[0].args;
    expect(args).toEqual(expect.arrayContaining(['--workers', '4']));
    expect(() => synth((c) => new IngressGateway(c, 'gw', { workers: 0 }))).toThrow(/IngressGateway.*workers.*0/s);
  });

  test("carries Istio's labels and announces them: a policy written for Istio's gateway selects it (issue 19, finding 6)", () => {
    const objs = synth((c) => new IngressGateway(c, 'gw'));
    const deployment = one(objs, 'Deployment')[0];
    expect(deployment.spec.template.metadata.labels).toMatchObject({ istio: 'ingressgateway', app: 'istio-ingressgateway' });
    expect(deployment.spec.selector.matchLabels).toEqual({ istio: 'ingressgateway' });
    // mastd compiles for what the proxy announces: the pod's labels, not a fixed default.
    const args: string[] = deployment.spec.template.spec.containers[0].args;
    const announced = Object.fromEntries(args[args.indexOf('--labels') + 1].split(',').map((kv) => kv.split('=') as [string, string]));
    expect(announced).toEqual(deployment.spec.template.metadata.labels);
    const policy = {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'ingress-policy', namespace: 'istio-system' },
      spec: {
        selector: { matchLabels: { app: 'istio-ingressgateway' } },
        action: 'ALLOW',
        rules: [{ from: [{ source: { ipBlocks: ['1.2.3.4'] } }] }],
      },
    };
    expect(
      authzFor(buildIndex(makeSnapshot([policy as KubeObject], 'v1')), {
        mode: 'gateway',
        namespace: 'mast-system',
        labels: announced,
      })?.allow?.map((r) => r.name),
    ).toEqual(['istio-system/ingress-policy[0]']);
  });

  test('selector labels win over the app label: the pods always match their Deployment', () => {
    const deployment = one(
      synth((c) => new IngressGateway(c, 'gw', { selectorLabels: { app: 'edge' }, appLabel: 'ignored' })),
      'Deployment',
    )[0];
    expect(deployment.spec.template.metadata.labels.app).toBe('edge');
    expect(
      one(
        synth((c) => new IngressGateway(c, 'gw', { appLabel: 'internal-gateway' })),
        'Deployment',
      )[0].spec.template.metadata.labels.app,
    ).toBe('internal-gateway');
  });

  test('a Gateway selecting app: istio-ingressgateway gets its credential mounted', () => {
    const mesh = new Mesh(testApp(), 'm');
    mesh.addObjects([
      gateway('beta', { app: 'istio-ingressgateway' }, [
        httpsServer(443, 'https', 'beta.example.com', { mode: 'SIMPLE', credentialName: 'beta-cert' }),
      ]),
    ]);
    expect(gatewayDeployment(mesh).spec.template.spec.volumes).toContainEqual({
      name: 'credential-0',
      secret: { secretName: 'beta-cert', optional: true },
    });
  });

  test('a credential that is not a Secret name fails synth, naming it', () => {
    expect(() => synth((c) => new IngressGateway(c, 'gw', { credentials: ['Not_A_Name'] }))).toThrow(
      /IngressGateway.*credentials.*"Not_A_Name"/s,
    );
  });
});
