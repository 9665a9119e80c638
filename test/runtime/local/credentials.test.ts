/**
 * mast local's Secrets for its gateway (and a sidecar): only those of the proxy's namespace that its Gateways
 * name (and `<name>-cacert`), in either form, written as kubelet mounts them, and what it cannot
 * have said with both namespaces. No private key stays in what mastd's snapshot holds.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeObject } from '../../../api';
import { planCredentials, planGatewayCredentials, withoutSecretData, writeCredentials } from '../../../runtime/local/credentials';
import { tempDir } from '../../support/temp-dir';

const LABELS = { istio: 'ingressgateway' };
/** mast local's gateway: its own namespace, and istio-system where Istio's tasks create the Secrets. */
const NAMESPACES = ['mast-system', 'istio-system'];
const b64 = (s: string) => Buffer.from(s).toString('base64');
const secret = (name: string, namespace: string, data: Record<string, string>, type = 'kubernetes.io/tls'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace },
  type,
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});
/** A server's host and its tls block, `credentialName` in `mode`. */
const server = (host: string, mode: string, credentialName: string) => ({ host, tls: { mode, credentialName } });
const gateway = (servers: Array<{ host: string; tls: Record<string, unknown> }>, selector = LABELS): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'Gateway',
  metadata: { name: 'mygateway', namespace: 'default' },
  spec: {
    selector,
    servers: servers.map((s, i) => ({ port: { number: 443, name: `https-${i}`, protocol: 'HTTPS' }, hosts: [s.host], tls: s.tls })),
  },
});
/** What mast local hands its gateway from these objects. */
const planFor = (objects: KubeObject[]) => planCredentials(objects, NAMESPACES, LABELS);

test('the gateway gets the Secrets its Gateways name, from its own namespace, in either form, with <name>-cacert', () => {
  const plan = planFor([
    gateway([server('httpbin.example.com', 'SIMPLE', 'httpbin-credential'), server('hello.example.com', 'MUTUAL', 'hello-credential')]),
    secret('httpbin-credential', 'istio-system', { 'tls.crt': 'CERT', 'tls.key': 'KEY' }),
    secret('hello-credential', 'istio-system', { cert: 'C2', key: 'K2' }, 'Opaque'),
    secret('hello-credential-cacert', 'istio-system', { cacert: 'CA' }, 'Opaque'),
    secret('unrelated', 'istio-system', { 'tls.crt': 'X', 'tls.key': 'Y' }),
    // The gateway's own namespace before istio-system.
    secret('httpbin-credential', 'mast-system', { 'tls.crt': 'OWN', 'tls.key': 'OWN-KEY' }),
  ]);
  expect(plan.problems).toEqual([]);
  const files = Object.fromEntries(
    [...plan.secrets].map(([name, keys]) => [name, Object.fromEntries([...keys].map(([k, v]) => [k, `${v}`]))]),
  );
  expect(files).toEqual({
    'httpbin-credential': { 'tls.crt': 'OWN', 'tls.key': 'OWN-KEY' },
    'hello-credential': { cert: 'C2', key: 'K2' },
    'hello-credential-cacert': { cacert: 'CA' },
  });
});

test('a Secret in another namespace is not handed over: the finding names both namespaces; a missing one names itself', () => {
  const plan = planFor([
    gateway([server('httpbin.example.com', 'SIMPLE', 'httpbin-credential'), server('hello.example.com', 'SIMPLE', 'nowhere')]),
    secret('httpbin-credential', 'default', { 'tls.crt': 'CERT', 'tls.key': 'KEY' }),
  ]);
  expect(plan.secrets.size).toBe(0);
  expect(plan.problems).toEqual([
    'Error MAST0215 [IST0101] Gateway default/mygateway spec.servers[0].tls.credentialName: Secret "httpbin-credential" is in namespace default, not in mast-system, istio-system where the gateway runs (Istio reads it from the gateway\'s namespace only): the server is not served',
    'Error MAST0215 [IST0101] Gateway default/mygateway spec.servers[1].tls.credentialName: Secret "nowhere" not found in mast-system, istio-system: the server is not served',
  ]);
});

test('a Gateway for other gateway pods hands nothing to this one; names that are not Secret names become no path', () => {
  const plan = planFor([
    gateway([server('a.example.com', 'SIMPLE', 'a')], { istio: 'egressgateway' }),
    gateway([server('b.example.com', 'SIMPLE', '../../etc'), server('c.example.com', 'SIMPLE', 'b')]),
    secret('a', 'istio-system', { 'tls.crt': 'C', 'tls.key': 'K' }),
    { ...secret('b', 'istio-system', {}), data: { '../escape': b64('x'), 'tls.crt': b64('C') } },
  ]);
  expect([...plan.secrets.keys()]).toEqual(['b']);
  expect([...plan.secrets.get('b')!.keys()]).toEqual(['tls.crt']);
  expect(plan.problems).toEqual([]);
});

test('written as kubelet mounts them (a file per key, owner-only), replaced whole on change, removed when gone', () => {
  const dir = join(tempDir('mast-credentials-'), 'credentials');
  const objects = (cert: string) => [
    gateway([server('httpbin.example.com', 'SIMPLE', 'httpbin-credential')]),
    secret('httpbin-credential', 'istio-system', { 'tls.crt': cert, 'tls.key': 'KEY', 'ca.crt': 'CA' }),
  ];
  writeCredentials(dir, planFor(objects('CERT-1')));
  expect(readdirSync(join(dir, 'httpbin-credential')).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
  expect(readFileSync(join(dir, 'httpbin-credential', 'tls.crt'), 'utf8')).toBe('CERT-1');
  expect(statSync(join(dir, 'httpbin-credential', 'tls.key')).mode & 0o077).toBe(0);
  writeCredentials(dir, planFor(objects('CERT-2')));
  expect(readFileSync(join(dir, 'httpbin-credential', 'tls.crt'), 'utf8')).toBe('CERT-2');
  expect(readdirSync(join(dir, 'httpbin-credential')).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
  writeCredentials(dir, planFor(objects('CERT-2').slice(0, 1)));
  expect(readdirSync(dir)).toEqual([]);
});

test('mastd’s snapshot keeps a Secret’s name and type, not its keys', () => {
  const [s] = withoutSecretData([{ ...secret('httpbin-credential', 'istio-system', { 'tls.key': 'KEY' }), stringData: { more: 'x' } }]);
  expect(s).toEqual({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'httpbin-credential', namespace: 'istio-system' },
    type: 'kubernetes.io/tls',
  });
});

/** A DestinationRule originating mutual TLS to my-nginx with `client-credential`, in `namespace`, selecting `selector` when given. */
const originate = (namespace: string, selector?: Record<string, string>): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'originate-mtls-for-nginx', namespace },
  spec: {
    host: 'my-nginx.mesh-external.svc.cluster.local',
    ...(selector ? { workloadSelector: { matchLabels: selector } } : {}),
    trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls: { mode: 'MUTUAL', credentialName: 'client-credential' } }] },
  },
});
const CLIENT = { 'tls.crt': 'C', 'tls.key': 'K', 'ca.crt': 'CA' };

describe('DestinationRule credentialName (TLS origination)', () => {
  test('without workloadSelector: the gateway gets it from its namespaces, wherever the rule is', () => {
    const plan = planFor([originate('istio-system'), secret('client-credential', 'istio-system', CLIENT, 'Opaque')]);
    expect([...plan.secrets.keys()]).toEqual(['client-credential']);
    expect(plan.problems).toEqual([]);
  });

  test('without workloadSelector, the Secret in default: not handed over, MAST0170 names both', () => {
    const plan = planFor([originate('istio-system'), secret('client-credential', 'default', CLIENT, 'Opaque')]);
    expect(plan.secrets.size).toBe(0);
    expect(plan.problems).toEqual([
      'Error MAST0170 DestinationRule istio-system/originate-mtls-for-nginx spec.trafficPolicy.portLevelSettings[0].tls.credentialName: Secret "client-credential" is in namespace default, not in mast-system, istio-system where the gateway runs (Istio reads it from the gateway\'s namespace only): TLS origination to my-nginx.mesh-external.svc.cluster.local fails',
    ]);
  });

  test('a sidecar gets it only from a rule of its namespace whose workloadSelector selects it; the gateway not', () => {
    const objects = [originate('default', { app: 'sleep' }), secret('client-credential', 'default', CLIENT, 'Opaque')];
    expect([...planCredentials(objects, ['default'], { app: 'sleep' }, false).secrets.keys()]).toEqual(['client-credential']);
    expect(planCredentials(objects, ['default'], { app: 'other' }, false)).toEqual({ secrets: new Map(), problems: [] });
    expect(planCredentials(objects, ['elsewhere'], { app: 'sleep' }, false)).toEqual({ secrets: new Map(), problems: [] });
    expect(planFor(objects)).toEqual({ secrets: new Map(), problems: [] });
    // A rule without workloadSelector is the gateways' only.
    expect(planCredentials([originate('default'), objects[1]], ['default'], { app: 'sleep' }, false).secrets.size).toBe(0);
  });

  test("a sidecar's Secret in another namespace: MAST0170 names the workload's", () => {
    const plan = planCredentials(
      [originate('default', { app: 'sleep' }), secret('client-credential', 'istio-system', CLIENT, 'Opaque')],
      ['default'],
      { app: 'sleep' },
      false,
    );
    expect(plan.problems).toEqual([
      expect.stringContaining(
        'Secret "client-credential" is in namespace istio-system, not in default where the workload runs (Istio reads it from the workload\'s namespace only)',
      ),
    ]);
  });
});

test("the ingress and egress gateways share one directory: each Gateway's Secret is there for the gateway it selects, a problem said once", () => {
  const egress = { istio: 'egressgateway' };
  const objects = [
    gateway([server('httpbin.example.com', 'SIMPLE', 'ingress-credential')]),
    { ...gateway([server('edition.cnn.com', 'SIMPLE', 'egress-credential')], egress), metadata: { name: 'egress', namespace: 'default' } },
    { ...gateway([server('x.example.com', 'SIMPLE', 'nowhere')], egress), metadata: { name: 'broken', namespace: 'default' } },
    secret('ingress-credential', 'istio-system', { 'tls.crt': 'I', 'tls.key': 'IK' }),
    secret('egress-credential', 'istio-system', { 'tls.crt': 'E', 'tls.key': 'EK' }),
  ];
  const both = planGatewayCredentials(objects, NAMESPACES, [LABELS, egress, egress]);
  expect([...both.secrets.keys()].sort()).toEqual(['egress-credential', 'ingress-credential']);
  expect(both.problems).toHaveLength(1);
  expect(both.problems[0]).toMatch(/MAST0215 .*broken.*Secret "nowhere" not found/);
  // Without the egress gateway running, only the ingress gateway's.
  expect([...planGatewayCredentials(objects, NAMESPACES, [LABELS]).secrets.keys()]).toEqual(['ingress-credential']);
});
