/**
 * localityLbSetting as Istio validates it, in a DestinationRule (every policy level) and in the mesh
 * config: what passes, what is refused (MAST0135) and failover with nothing to trigger it (MAST0136).
 */
import { loadYaml, validate } from '../../api';

const findings = (yaml: string) => validate(loadYaml(yaml).objects, { scope: 'resource' }).map((f) => `${f.code} ${f.path}: ${f.message}`);

const rule = (lb: string, outlier = '    outlierDetection: { consecutive5xxErrors: 1 }') => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: helloworld, namespace: sample }
spec:
  host: helloworld.sample.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
${lb
  .split('\n')
  .map((l) => `        ${l}`)
  .join('\n')}
${outlier}
`;

test("Istio's failover and distribute tasks' DestinationRules validate without findings", () => {
  expect(findings(rule('enabled: true\nfailover: [{ from: region1, to: region2 }]'))).toEqual([]);
  expect(
    findings(
      rule(
        'enabled: true\ndistribute:\n- from: region1/zone1/*\n  to: { "region1/zone1/*": 70, "region1/zone2/*": 20, "region3/zone4/*": 10 }',
      ),
    ),
  ).toEqual([]);
  expect(findings(rule('failoverPriority: [topology.istio.io/network, topology.kubernetes.io/region, "tier=gold"]'))).toEqual([]);
});

const AT = 'spec.trafficPolicy.loadBalancer.localityLbSetting';

test.each([
  {
    name: 'distribute and failover together',
    lb: 'distribute: [{ from: r1, to: { r1: 100 } }]\nfailover: [{ from: r1, to: r2 }]',
    at: `${AT}.failover`,
  },
  { name: 'weights that sum to 90', lb: 'distribute: [{ from: r1, to: { r1: 70, r2: 20 } }]', at: `${AT}.distribute[0].to` },
  { name: 'a weight of 0', lb: 'distribute: [{ from: r1, to: { r1: 100, r2: 0 } }]', at: `${AT}.distribute[0].to["r2"]` },
  { name: 'a wildcard not at the end', lb: 'distribute: [{ from: "r1/*/s1", to: { r1: 100 } }]', at: `${AT}.distribute[0].from` },
  { name: 'two wildcards', lb: 'distribute: [{ from: r1, to: { "r1/*/*": 100 } }]', at: `${AT}.distribute[0].to["r1/*/*"]` },
  { name: 'an empty zone', lb: 'distribute: [{ from: "r1//s1", to: { r1: 100 } }]', at: `${AT}.distribute[0].from` },
  {
    name: 'a locality covered by an earlier one',
    lb: 'distribute: [{ from: r1, to: { "r1/*": 50, "r1/z1": 50 } }]',
    at: `${AT}.distribute[0].to["r1/z1"]`,
  },
  {
    name: 'two from localities that overlap',
    lb: 'distribute: [{ from: "r1/z1", to: { r1: 100 } }, { from: "r1/z1/s1", to: { r1: 100 } }]',
    at: `${AT}.distribute[1].from`,
  },
  { name: 'failover to the same region', lb: 'failover: [{ from: r1, to: r1 }]', at: `${AT}.failover[0]` },
  { name: 'failover to a zone', lb: 'failover: [{ from: r1, to: r2/z1 }]', at: `${AT}.failover[0]` },
  { name: 'failover from a wildcard', lb: 'failover: [{ from: "*", to: r2 }]', at: `${AT}.failover[0]` },
  {
    name: 'failover with a topology label in failoverPriority',
    lb: 'failover: [{ from: r1, to: r2 }]\nfailoverPriority: [topology.kubernetes.io/zone]',
    at: `${AT}.failoverPriority[0]`,
  },
])('MAST0135: $name', ({ lb, at }) => {
  const got = findings(rule(lb));
  expect(got.filter((f) => f.startsWith('MAST0135')).map((f) => f.split(':')[0])).toContain(`MAST0135 ${at}`);
  // Each names the field and the value.
  expect(got.every((f) => f.startsWith('MAST0135 spec.'))).toBe(true);
});

test('"r1" then "*" passes (Istio compares later wildcards literally), "*" then "r1" does not', () => {
  expect(findings(rule('distribute: [{ from: r1, to: { r1: 50, "*": 50 } }]'))).toEqual([]);
  expect(findings(rule('distribute: [{ from: r1, to: { "*": 50, r1: 50 } }]'))).toEqual([
    `MAST0135 ${AT}.distribute[0].to["r1"]: locality "r1" overlaps "*" given before it`,
  ]);
});

test('MAST0136: failover or failoverPriority without outlierDetection at that level or above', () => {
  expect(findings(rule('failover: [{ from: r1, to: r2 }]', ''))).toEqual([
    `MAST0136 ${AT}: locality failover needs outlierDetection in the same traffic policy: without it no endpoint is ever seen unhealthy and traffic never fails over`,
  ]);
  expect(findings(rule('failoverPriority: [tier]', '')).map((f) => f.split(' ')[0])).toEqual(['MAST0136']);
  // distribute needs none; a subset's setting counts the top level's outlier detection.
  expect(findings(rule('distribute: [{ from: r1, to: { r1: 100 } }]', ''))).toEqual([]);
  expect(
    findings(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: helloworld, namespace: sample }
spec:
  host: helloworld.sample.svc.cluster.local
  trafficPolicy: { outlierDetection: { consecutive5xxErrors: 1 } }
  subsets:
  - name: v1
    labels: { version: v1 }
    trafficPolicy: { loadBalancer: { localityLbSetting: { failover: [{ from: r1, to: r2 }] } } }
`),
  ).toEqual([]);
});

const meshConfig = (setting: string) => `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    localityLbSetting: ${setting}
`;

test('the mesh-wide setting: the same checks, no MAST0136 (each rule brings its own outlier detection), unknown fields MAST0301', () => {
  expect(findings(meshConfig('{ enabled: true, failover: [{ from: r1, to: r2 }] }'))).toEqual([]);
  expect(findings(meshConfig('{ distribute: [{ from: r1, to: { r1: 60 } }] }'))).toEqual([
    'MAST0135 data.mesh.localityLbSetting.distribute[0].to: the weights sum to 60; they must sum to 100',
  ]);
  expect(findings(meshConfig('{ enabled: yes-please }')).map((f) => f.split(' ').slice(0, 2).join(' '))).toEqual([
    'MAST0135 data.mesh.localityLbSetting.enabled:',
  ]);
  expect(findings(meshConfig('{ zoneAware: true }')).map((f) => f.split(':')[0])).toEqual([
    'MAST0301 data.mesh.localityLbSetting.zoneAware',
  ]);
});
