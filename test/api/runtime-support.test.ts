/** MAST0301: an Istio field mast-proxy does not apply yet is a Warning, never silence. */
import { loadYaml, validate } from '../../api';

const warnings = (yaml: string) =>
  validate(loadYaml(yaml).objects, { scope: 'resource' })
    .filter((f) => f.code === 'MAST0301')
    .map((f) => [f.kind, f.path, f.severity]);

test.each([
  ['VirtualService', '{ hosts: [a], http: [{ match: [{ sourceNamespace: x }], route: [{ destination: { host: a } }] }] }', []],
  ['VirtualService', '{ hosts: [a], tls: [{ match: [{ sniHosts: [a] }], route: [{ destination: { host: a } }] }] }', [['VirtualService', 'spec.tls[0]', 'Warning']]],
  ['VirtualService', '{ hosts: [a], tcp: [{ match: [{ sourceSubnet: 10.0.0.0/8 }], route: [{ destination: { host: a } }] }] }', [['VirtualService', 'spec.tcp[0].match[0].sourceSubnet', 'Warning']]],
  ['Gateway', '{ servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"], bind: 10.0.0.1 }] }', [['Gateway', 'spec.servers[0].bind', 'Warning']]],
  ['Gateway', '{ servers: [{ port: { number: 443, name: tls, protocol: TLS }, hosts: ["*"], tls: { mode: AUTO_PASSTHROUGH } }] }', [['Gateway', 'spec.servers[0].tls.mode', 'Warning']]],
  ['DestinationRule', '{ host: a, subsets: [{ name: v1, labels: { v: "1" }, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN, warmupDurationSecs: 10s } } }] }', [['DestinationRule', 'spec.subsets[0].trafficPolicy.loadBalancer.warmupDurationSecs', 'Warning']]],
  ['WorkloadEntry', '{ address: 10.0.0.1, weight: 3 }', [['WorkloadEntry', 'spec.weight', 'Warning']]],
  ['AuthorizationPolicy', '{ action: CUSTOM, provider: { name: ext }, rules: [{}] }', [['AuthorizationPolicy', 'spec.action', 'Warning']]],
])('%s %s', (kind, spec, expected) => {
  const group = kind === 'AuthorizationPolicy' ? 'security.istio.io' : 'networking.istio.io';
  expect(warnings(`apiVersion: ${group}/v1\nkind: ${kind}\nmetadata: { name: x, namespace: default }\nspec: ${spec}\n`)).toEqual(expected);
});

test('a VirtualService bound only to a gateway may use tls routes (PASSTHROUGH servers route them)', () => {
  expect(warnings('apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: x, namespace: default }\nspec: { hosts: [a], gateways: [edge], tls: [{ match: [{ sniHosts: [a] }], route: [{ destination: { host: a } }] }] }\n')).toEqual([]);
});
