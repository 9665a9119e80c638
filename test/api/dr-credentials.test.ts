/**
 * DestinationRule `tls.credentialName` in `mast validate` (api/validate/dr-credentials.ts): the
 * Secret must be where the proxies applying it run, the gateways' namespace without a
 * workloadSelector (MAST0170), and a rule without one says sidecars do not apply it (MAST0171).
 */
import { validate, type Finding } from '../../api';

const only = (findings: Finding[], code: string) => findings.filter((f) => f.code === code);

const serviceEntry = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name: 'my-nginx', namespace: 'mesh-external' },
  spec: {
    hosts: ['my-nginx.mesh-external.svc.cluster.local'],
    ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }],
    resolution: 'DNS',
  },
};
const egressPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'istio-egressgateway-1', namespace: 'istio-system', labels: { istio: 'egressgateway', app: 'istio-egressgateway' } },
  spec: { containers: [{ name: 'istio-proxy', image: 'mast-proxy' }] },
};
const sleepPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'sleep-1', namespace: 'default', labels: { app: 'sleep' } },
  spec: { containers: [{ name: 'sleep', image: 'curl' }] },
};
const egressGateway = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'Gateway',
  metadata: { name: 'istio-egressgateway', namespace: 'default' },
  spec: {
    selector: { istio: 'egressgateway' },
    servers: [
      {
        port: { number: 443, name: 'https', protocol: 'HTTPS' },
        hosts: ['my-nginx.mesh-external.svc.cluster.local'],
        tls: { mode: 'ISTIO_MUTUAL' },
      },
    ],
  },
};
const secret = (namespace: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'client-credential', namespace } });
const originate = (namespace: string, workloadSelector?: Record<string, string>) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'originate-mtls-for-nginx', namespace },
  spec: {
    host: 'my-nginx.mesh-external.svc.cluster.local',
    ...(workloadSelector ? { workloadSelector: { matchLabels: workloadSelector } } : {}),
    trafficPolicy: {
      portLevelSettings: [
        {
          port: { number: 443 },
          tls: { mode: 'MUTUAL', credentialName: 'client-credential', sni: 'my-nginx.mesh-external.svc.cluster.local' },
        },
      ],
    },
  },
});
const AT = 'spec.trafficPolicy.portLevelSettings[0].tls.credentialName';

describe('MAST0170: the credentialName Secret where the proxies applying it run', () => {
  test('the egress gateway task: the Secret in istio-system, with the egress gateway: nothing to say', () => {
    expect(
      only(validate([serviceEntry, egressPod, sleepPod, egressGateway, secret('istio-system'), originate('istio-system')]), 'MAST0170'),
    ).toEqual([]);
  });

  test("without workloadSelector, a Secret in another namespace than the gateways': named with both", () => {
    const found = only(
      validate([serviceEntry, egressPod, sleepPod, egressGateway, secret('default'), originate('istio-system')]),
      'MAST0170',
    );
    expect(found).toEqual([
      expect.objectContaining({
        severity: 'Error',
        kind: 'DestinationRule',
        namespace: 'istio-system',
        name: 'originate-mtls-for-nginx',
        path: AT,
        message:
          'Secret "client-credential" is in namespace default, not in istio-system where the gateways run: Istio gives a credentialName only to proxies of its namespace, so TLS origination to my-nginx.mesh-external.svc.cluster.local fails',
      }),
    ]);
  });

  test('the assumed default gateway (a Gateway selecting it) reads mast-system and istio-system: a Secret in neither is named with them', () => {
    const ingress = {
      ...egressGateway,
      metadata: { name: 'ingress', namespace: 'default' },
      spec: { ...egressGateway.spec, selector: { istio: 'ingressgateway' } },
    };
    const found = only(
      validate([serviceEntry, ingress, secret('elsewhere'), originate('default')], { defaultIngressGateway: true }),
      'MAST0170',
    );
    expect(found.map((f) => f.message)).toEqual([
      expect.stringMatching(
        /^Secret "client-credential" is in namespace elsewhere, not in mast-system, istio-system where the gateways run/,
      ),
    ]);
  });

  test("with a workloadSelector (the sidecar task), the rule's own namespace: a Secret elsewhere is named with both", () => {
    expect(only(validate([serviceEntry, sleepPod, secret('default'), originate('default', { app: 'sleep' })]), 'MAST0170')).toEqual([]);
    const found = only(validate([serviceEntry, sleepPod, secret('istio-system'), originate('default', { app: 'sleep' })]), 'MAST0170');
    expect(found.map((f) => f.message)).toEqual([
      'Secret "client-credential" is in namespace istio-system, not in default where the workloads it selects run: Istio gives a credentialName only to proxies of its namespace, so TLS origination to my-nginx.mesh-external.svc.cluster.local fails',
    ]);
  });

  test('nothing is said when the input has no Secrets (they live in the cluster), nor without a gateway to apply it', () => {
    expect(only(validate([serviceEntry, egressPod, egressGateway, originate('istio-system')]), 'MAST0170')).toEqual([]);
    expect(only(validate([serviceEntry, sleepPod, secret('default'), originate('istio-system')]), 'MAST0170')).toEqual([]);
  });
});

describe('MAST0171: without a workloadSelector, credentialName is applied at gateways only', () => {
  test('an Info on the first credentialName of a rule without workloadSelector; none with one', () => {
    expect(only(validate([serviceEntry, egressPod, egressGateway, originate('istio-system')]), 'MAST0171')).toEqual([
      expect.objectContaining({
        severity: 'Info',
        path: AT,
        message: expect.stringMatching(/^credentialName applies at gateways; sidecars use the files/),
      }),
    ]);
    expect(only(validate([serviceEntry, sleepPod, originate('default', { app: 'sleep' })]), 'MAST0171')).toEqual([]);
  });

  test('no longer "not applied" (MAST0301)', () => {
    expect(only(validate([serviceEntry, egressPod, egressGateway, originate('istio-system')]), 'MAST0301')).toEqual([]);
  });
});
