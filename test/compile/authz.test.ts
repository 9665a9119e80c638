/**
 * The policies compiled into a proxy (authz.ts): which AuthorizationPolicies apply to it, and
 * PeerAuthentication compiled into a sidecar's inbound: workload → namespace → root namespace, and per port.
 */
import { loadYaml } from '../../api';
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';
import { authzFor } from '../../runtime/compile/authz';
import type { ProxyIdentity } from '../../runtime/contract/push-protocol';
import { serviceEntryDoc } from '../support/mesh-yaml';

const pa = (name: string, namespace: string, spec: string) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ${name}, namespace: ${namespace} }
spec: ${spec}
---
`;

const POD: ProxyIdentity = { mode: 'sidecar', namespace: 'shop', labels: { app: 'cart' }, inbound: { port: 15006 } };
const LOCAL: ProxyIdentity = { ...POD, inbound: { port: 15006, appPort: 8080 } };

function inbound(yaml: string, proxy: ProxyIdentity) {
  const config = compile(buildIndex(makeSnapshot(loadYaml(yaml).objects, 'v1')), proxy);
  const l = config.listeners.find((x) => x.name === 'virtualInbound')!;
  return { mtls: l.mtls, mtlsByPort: l.mtlsByPort };
}

describe('a pod (the port comes with each connection)', () => {
  test('no PeerAuthentication: PERMISSIVE, nothing per port', () => {
    expect(inbound('', POD)).toEqual({ mtls: 'PERMISSIVE', mtlsByPort: undefined });
  });

  test("the workload's portLevelMtls sets its ports; other ports keep the workload's mode", () => {
    const yaml = pa(
      'cart',
      'shop',
      `{ selector: { matchLabels: { app: cart } }, mtls: { mode: STRICT }, portLevelMtls: { "8080": { mode: DISABLE }, "9090": { mode: STRICT } } }`,
    );
    // 9090 is STRICT like the rest: no entry of its own.
    expect(inbound(yaml, POD)).toEqual({ mtls: 'STRICT', mtlsByPort: { '8080': 'DISABLE' } });
  });

  test('a port left UNSET inherits from the namespace, then the root namespace', () => {
    const yaml =
      pa('root', 'istio-system', '{ mtls: { mode: STRICT } }') +
      pa('ns', 'shop', '{ mtls: { mode: PERMISSIVE } }') +
      pa(
        'cart',
        'shop',
        `{ selector: { matchLabels: { app: cart } }, mtls: { mode: UNSET }, portLevelMtls: { "9000": { mode: STRICT }, "9001": { mode: UNSET } } }`,
      );
    expect(inbound(yaml, POD)).toEqual({ mtls: 'PERMISSIVE', mtlsByPort: { '9000': 'STRICT' } });
  });

  test("another workload's PeerAuthentication does not apply", () => {
    const yaml = pa('other', 'shop', `{ selector: { matchLabels: { app: other } }, portLevelMtls: { "8080": { mode: STRICT } } }`);
    expect(inbound(yaml, POD)).toEqual({ mtls: 'PERMISSIVE', mtlsByPort: undefined });
  });
});

test('mast local (one app port, known ahead): the mode of that port, nothing per port', () => {
  const yaml = pa(
    'cart',
    'shop',
    `{ selector: { matchLabels: { app: cart } }, mtls: { mode: STRICT }, portLevelMtls: { "8080": { mode: DISABLE } } }`,
  );
  expect(inbound(yaml, LOCAL)).toEqual({ mtls: 'DISABLE', mtlsByPort: undefined });
});

describe('authorization: which policies apply to a proxy', () => {
  const index = buildIndex(
    makeSnapshot(
      loadYaml(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: mesh-deny-delete, namespace: mast-system }
spec: { action: DENY, rules: [{ to: [{ operation: { methods: [DELETE] } }] }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ratings-jason, namespace: default }
spec:
  selector: { matchLabels: { app: ratings } }
  rules: [{ when: [{ key: "request.headers[end-user]", values: [jason] }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: other-ns, namespace: shop }
spec: { action: DENY, rules: [{}] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: external, namespace: default }
spec: { selector: { matchLabels: { app: details } }, action: CUSTOM, provider: { name: opa }, rules: [{ to: [{ operation: { paths: [/admin*] } }] }] }
`).objects,
      'v1',
    ),
  );
  const sidecar = (labels: Record<string, string>, namespace = 'default') => authzFor(index, { mode: 'sidecar', namespace, labels });

  test('root-namespace policies apply everywhere; selectors pick workloads; other namespaces do not leak', () => {
    expect(sidecar({ app: 'ratings' })).toEqual({
      deny: [{ name: 'mast-system/mesh-deny-delete[0]', to: [{ methods: ['DELETE'] }] }],
      allow: [{ name: 'default/ratings-jason[0]', when: [{ key: 'request.headers[end-user]', values: ['jason'] }] }],
    });
    expect(sidecar({ app: 'reviews' })).toEqual({ deny: [{ name: 'mast-system/mesh-deny-delete[0]', to: [{ methods: ['DELETE'] }] }] });
    expect(sidecar({ app: 'x' }, 'shop')?.deny.map((r) => r.name)).toEqual(['mast-system/mesh-deny-delete[0]', 'shop/other-ns[0]']);
  });

  test('CUSTOM (an external authorizer) is not supported: it fails closed, its rules deny', () => {
    expect(sidecar({ app: 'details' })?.deny.map((r) => r.name)).toContain('default/external[0]');
  });
});

describe("clients of a workload whose PeerAuthentication DISABLEs mTLS send it plain text (Istio's endpoint check)", () => {
  const CLIENT: ProxyIdentity = { mode: 'sidecar', namespace: 'shop', labels: { app: 'web' }, outboundPort: 15001 };
  const cart = (annotations = '') => `${serviceEntryDoc({ name: 'cart', namespace: 'shop' })}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: cart, namespace: shop${annotations} }
spec: { address: 10.0.0.5, ports: { http: 8080 }, labels: { app: cart, security.istio.io/tlsMode: istio } }
---
`;
  const tlsMode = (yaml: string) =>
    compile(buildIndex(makeSnapshot(loadYaml(yaml).objects, 'v1')), CLIENT)
      .clusters.find((c) => c.name === 'outbound|80||cart.shop.svc.cluster.local')!
      .endpoints.map((e) => e.labels?.['security.istio.io/tlsMode']);

  test('no PeerAuthentication, STRICT or PERMISSIVE: mTLS (istio)', () => {
    expect(tlsMode(cart())).toEqual(['istio']);
    expect(tlsMode(cart() + pa('default', 'shop', '{ mtls: { mode: STRICT } }'))).toEqual(['istio']);
  });

  test('DISABLE for the workload, its namespace or the mesh: disabled; a workload policy over its namespace’s wins', () => {
    expect(tlsMode(cart() + pa('cart', 'shop', '{ selector: { matchLabels: { app: cart } }, mtls: { mode: DISABLE } }'))).toEqual([
      'disabled',
    ]);
    expect(tlsMode(cart() + pa('default', 'istio-system', '{ mtls: { mode: DISABLE } }'))).toEqual(['disabled']);
    const overridden =
      pa('default', 'shop', '{ mtls: { mode: DISABLE } }') +
      pa('cart', 'shop', '{ selector: { matchLabels: { app: cart } }, mtls: { mode: STRICT } }');
    expect(tlsMode(cart() + overridden)).toEqual(['istio']);
  });

  test('portLevelMtls DISABLE on the port the app listens on (the endpoint port; mast local’s app-port annotation)', () => {
    const perPort = (port: number) =>
      pa(
        'cart',
        'shop',
        `{ selector: { matchLabels: { app: cart } }, mtls: { mode: STRICT }, portLevelMtls: { "${port}": { mode: DISABLE } } }`,
      );
    expect(tlsMode(cart() + perPort(8080))).toEqual(['disabled']);
    expect(tlsMode(cart() + perPort(9090))).toEqual(['istio']);
    // mast local rewrote the endpoint's port to the sidecar's; the annotation keeps the app's.
    expect(tlsMode(cart(', annotations: { local.mast.dev/app-port: "9090" }') + perPort(9090))).toEqual(['disabled']);
  });
});
