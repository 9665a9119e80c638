/**
 * Where localities come from (WorkloadEntries, a pod's topology labels, zones without a region) and
 * which proxies get them (sidecars, gateways, subsets), and that configs differ by locality only where
 * some rule can use it: compiled as in locality.simulation.test.ts.
 */
import { buildIndex, compile, equivalenceKey, makeSnapshot, type ProxyIdentity } from '../../runtime/compile';
import { gatewayDoc, gatewayRouteDoc } from '../support/mesh-yaml';
import { CLUSTER, HOST, client, mesh } from './locality-mesh';
import { meshOf } from './simulation';

describe('where localities come from, and who gets them', () => {
  const FAILOVER_ONLY = '    outlierDetection: { consecutive5xxErrors: 1 }';
  const WEB = 'outbound|80||web.sample.svc.cluster.local';

  /** Service web of sample with `objects` (pods, nodes), its EndpointSlice of `endpoints` (flow mappings) and failover by locality. */
  const webMesh = (objects: string, endpoints: readonly string[]) => `apiVersion: v1
kind: Service
metadata: { name: web, namespace: sample }
spec: { ports: [{ name: http, port: 80 }], selector: { app: web } }
${objects}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-abc, namespace: sample, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 8080 }]
endpoints:
${endpoints.map((e) => `  - ${e}`).join('\n')}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web, namespace: sample }
spec:
  host: web.sample.svc.cluster.local
  trafficPolicy:
${FAILOVER_ONLY}`;

  test("an EndpointSlice endpoint's locality is its pod's topology labels (as Kubernetes copies them from the node)", () => {
    const pod = (name: string, zone: string) => `---
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: sample
  labels: { app: web, topology.kubernetes.io/region: us-east-1, topology.kubernetes.io/zone: ${zone} }
spec: { serviceAccountName: web }`;
    const yaml = webMesh(`${pod('web-a', 'us-east-1a')}\n${pod('web-b', 'us-east-1b')}`, [
      '{ addresses: [10.0.0.1], zone: us-east-1a, targetRef: { kind: Pod, name: web-a, namespace: sample } }',
      '{ addresses: [10.0.0.2], zone: us-east-1b, targetRef: { kind: Pod, name: web-b, namespace: sample } }',
    ]);
    const config = compile(buildIndex(makeSnapshot(meshOf(yaml), 'v1')), client('us-east-1/us-east-1b'));
    const web = config.clusters.find((c) => c.name === WEB)!;
    expect(web.endpoints.map((e) => [e.address, e.locality, e.priority ?? 0])).toEqual([
      ['10.0.0.1', 'us-east-1/us-east-1a', 1],
      ['10.0.0.2', 'us-east-1/us-east-1b', 0],
    ]);
  });

  test("without topology labels on pods, their node's (mastd watches Nodes, as istiod): endpoints by their pod's node or the slice's nodeName, a proxy by the node it names", () => {
    const node = (name: string, zone: string) => `---
apiVersion: v1
kind: Node
metadata: { name: ${name}, labels: { topology.kubernetes.io/region: us-east-1, topology.kubernetes.io/zone: ${zone} } }`;
    const pod = `---
apiVersion: v1
kind: Pod
metadata: { name: web-a, namespace: sample, labels: { app: web } }
spec: { serviceAccountName: web, nodeName: node-a }`;
    const yaml = webMesh(`${node('node-a', 'us-east-1a')}\n${node('node-b', 'us-east-1b')}\n${pod}`, [
      '{ addresses: [10.0.0.1], targetRef: { kind: Pod, name: web-a, namespace: sample } }',
      '{ addresses: [10.0.0.2], nodeName: node-b }',
      '{ addresses: [10.0.0.3], nodeName: node-unknown }',
    ]);
    const index = buildIndex(makeSnapshot(meshOf(yaml), 'v1'));
    const onNodeB: ProxyIdentity = { ...client(), node: 'node-b' };
    const web = compile(index, onNodeB).clusters.find((c) => c.name === WEB)!;
    expect(web.endpoints.map((e) => [e.address, e.locality, e.priority ?? 0])).toEqual([
      ['10.0.0.1', 'us-east-1/us-east-1a', 1],
      ['10.0.0.2', 'us-east-1/us-east-1b', 0],
      ['10.0.0.3', undefined, 2],
    ]);
    // The locality a proxy says wins over its node's; replicas on one node share a config, not across zones.
    expect(
      compile(index, { ...onNodeB, locality: 'us-east-1/us-east-1a' }).clusters.find((c) => c.name === web.name)!.endpoints[0].priority ??
        0,
    ).toBe(0);
    expect(equivalenceKey(index, onNodeB)).not.toBe(equivalenceKey(index, { ...client(), node: 'node-a' }));
    expect(equivalenceKey(index, { ...client(), node: 'node-x' })).toBe(equivalenceKey(index, { ...client(), node: 'node-y' }));
  });

  test("a subset's own setting applies to its cluster only", () => {
    const yaml = mesh(['region1/zone1', 'region1/zone2', 'region2/zone3'], FAILOVER_ONLY).replace(
      `  trafficPolicy:\n${FAILOVER_ONLY}`,
      `  trafficPolicy:\n${FAILOVER_ONLY}\n  subsets:\n  - name: off\n    labels: { app: helloworld }\n    trafficPolicy: { loadBalancer: { localityLbSetting: { enabled: false } } }\n  - name: on\n    labels: { app: helloworld }`,
    );
    const config = compile(buildIndex(makeSnapshot(meshOf(yaml), 'v1')), client('region1/zone1'));
    const VS = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: helloworld, namespace: sample }
spec:
  hosts: [${HOST}]
  http: [{ route: [{ destination: { host: ${HOST}, subset: off }, weight: 50 }, { destination: { host: ${HOST}, subset: on }, weight: 50 }] }]`;
    const routed = compile(buildIndex(makeSnapshot(meshOf(yaml + VS), 'v1')), client('region1/zone1'));
    const priorities = (name: string) => routed.clusters.find((c) => c.name === name)!.endpoints.map((e) => e.priority ?? 0);
    expect(priorities(`outbound|5000|off|${HOST}`)).toEqual([0, 0, 0]);
    expect(priorities(`outbound|5000|on|${HOST}`)).toEqual([0, 1, 2]);
    expect(config.clusters.find((c) => c.name === CLUSTER)!.endpoints.map((e) => e.priority ?? 0)).toEqual([0, 1, 2]);
  });

  test('a gateway gets priorities from its own locality too', () => {
    const yaml = mesh(['region1/zone1', 'region1/zone2'], FAILOVER_ONLY);
    const GATEWAY_ROUTE = `---
${gatewayDoc(['"*"'], 'edge', 'sample')}
---
${gatewayRouteDoc('edge', ['"*"'], HOST, 'edge', { namespace: 'sample' })}`;
    const gateway: ProxyIdentity = {
      mode: 'gateway',
      namespace: 'mast-system',
      labels: { istio: 'ingressgateway' },
      locality: 'region1/zone2',
    };
    const config = compile(buildIndex(makeSnapshot(meshOf(yaml + GATEWAY_ROUTE), 'v1')), gateway);
    expect(config.clusters.find((c) => c.name === CLUSTER)!.endpoints.map((e) => [e.locality, e.priority ?? 0])).toEqual([
      ['region1/zone1', 1],
      ['region1/zone2', 0],
    ]);
  });

  test('proxies in two zones share one config unless some rule can balance by locality', () => {
    const key = (trafficPolicy: string, locality: string) =>
      equivalenceKey(buildIndex(makeSnapshot(meshOf(mesh(['region1/zone1'], trafficPolicy)), 'v1')), client(locality));
    const plain = '    loadBalancer: { simple: ROUND_ROBIN }';
    expect(key(plain, 'region1/zone1')).toBe(key(plain, 'region1/zone2'));
    expect(key(FAILOVER_ONLY, 'region1/zone1')).not.toBe(key(FAILOVER_ONLY, 'region1/zone2'));
  });
});
