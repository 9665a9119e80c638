import { loadYaml, validate } from '../../api';
import { gatewayDoc, gatewayRouteDoc, gatewayServersDoc, meshConfigDoc, meshYaml, serviceEntryDoc, workloadEntryDoc } from './mesh-yaml';

describe('mesh YAML for tests', () => {
  test('the documents load as the kinds they name and make a mesh that validates', () => {
    const { objects, findings } = loadYaml(
      meshYaml(
        gatewayDoc(['shop.example.com']),
        gatewayRouteDoc('shop', ['shop.example.com'], 'cart'),
        serviceEntryDoc({ name: 'cart', port: 9080 }),
        workloadEntryDoc({ app: 'cart', version: 'v1', port: 4001, run: './cart.js' }),
        serviceEntryDoc({ name: 'pay', internal: false, endpoints: [4002, 4003] }),
      ),
    );
    expect(findings).toEqual([]);
    expect(objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'Gateway default/edge',
      'VirtualService default/shop',
      'ServiceEntry default/cart',
      'WorkloadEntry default/cart-v1',
      'ServiceEntry default/pay',
    ]);
    // As mast validate checks it: the gateway is mast's default one, which the files do not describe.
    expect(validate(objects, { defaultIngressGateway: true }).filter((f) => f.severity === 'Error')).toEqual([]);
    const [cart, we, pay] = objects.slice(2) as any[];
    expect(cart.spec).toMatchObject({
      hosts: ['cart.default.svc.cluster.local'],
      ports: [{ number: 9080, name: 'http', protocol: 'HTTP' }],
      location: 'MESH_INTERNAL',
      workloadSelector: { labels: { app: 'cart' } },
    });
    expect(we.metadata.annotations).toEqual({ 'local.mast.dev/run': './cart.js' });
    expect(we.spec).toEqual({ address: '127.0.0.1', ports: { http: 4001 }, labels: { app: 'cart', version: 'v1' } });
    expect(pay.spec.location).toBeUndefined();
    expect(pay.spec.endpoints).toEqual([
      { address: '127.0.0.1', ports: { http: 4002 } },
      { address: '127.0.0.1', ports: { http: 4003 } },
    ]);
  });

  test('a Gateway with servers of its own, a route in another namespace to a port, an entry with spec lines of its own', () => {
    const { objects, findings } = loadYaml(
      meshYaml(
        gatewayServersDoc(
          ['{ port: { number: 443, name: https, protocol: HTTPS }, hosts: [a.example.com], tls: { mode: SIMPLE, credentialName: a } }'],
          'tls',
          'shop',
        ),
        gatewayRouteDoc('a', ['a.example.com'], 'cart.shop.svc.cluster.local', 'tls', { namespace: 'shop', port: 9080 }),
        serviceEntryDoc({ name: 'cart', namespace: 'shop', specLines: '  endpoints: [{ address: 10.0.0.1, serviceAccount: cart }]' }),
      ),
    );
    expect(findings).toEqual([]);
    const [gateway, route, entry] = objects as any[];
    expect(gateway.metadata).toEqual({ name: 'tls', namespace: 'shop' });
    expect(gateway.spec.servers).toEqual([
      { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['a.example.com'], tls: { mode: 'SIMPLE', credentialName: 'a' } },
    ]);
    expect(route.metadata.namespace).toBe('shop');
    expect(route.spec.http).toEqual([{ route: [{ destination: { host: 'cart.shop.svc.cluster.local', port: { number: 9080 } } }] }]);
    expect(entry.spec.endpoints).toEqual([{ address: '10.0.0.1', serviceAccount: 'cart' }]);
    expect(entry.spec.workloadSelector).toBeUndefined();
  });
});

test('meshConfigDoc: the istio ConfigMap of istio-system whose mesh text holds the given fields', () => {
  const { objects, findings } = loadYaml(meshConfigDoc('trustDomain: new-td\ntrustDomainAliases: [old-td]'));
  expect(findings).toEqual([]);
  expect(objects[0]).toMatchObject({
    kind: 'ConfigMap',
    metadata: { name: 'istio', namespace: 'istio-system' },
    data: { mesh: 'trustDomain: new-td\ntrustDomainAliases: [old-td]\n' },
  });
});
