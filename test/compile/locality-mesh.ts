/**
 * The mesh the locality simulation tests compile: helloworld in given localities (as Istio's
 * locality load-balancing tasks set it up), a client proxy, its helloworld cluster, and where picks go.
 */
import { buildIndex, compile, makeSnapshot, type ProxyIdentity } from '../../runtime/compile';
import type { ClusterConfig } from '../../runtime/contract/proxy-config';
import { candidates, priorityLevels } from '../../runtime/proxy/upstream/locality';
import { seededRandom } from '../support/seeded-random';
import { HOST, helloworldRule, helloworldService } from '../fixtures/helloworld-locality';
import { meshOf } from './simulation';

export { HOST };
export const CLUSTER = `outbound|5000||${HOST}`;

/** One helloworld WorkloadEntry per locality (`spec.locality`, or the topology labels when `byLabels`), named by it. */
export function mesh(localities: readonly string[], trafficPolicy: string, meshConfig = '', byLabels = false): string {
  const entries = localities.map((l, i) => {
    const [region, zone] = l.split('/');
    const where = byLabels
      ? `labels: { app: helloworld, version: ${l.replaceAll('/', '.')}, topology.kubernetes.io/region: ${region}, topology.kubernetes.io/zone: ${zone} }`
      : `labels: { app: helloworld, version: ${l.replaceAll('/', '.')} }\n  locality: ${l}`;
    return `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: helloworld-${i}, namespace: sample }
spec:
  address: 10.0.0.${i + 1}
  ports: { http: 5000 }
  ${where}`;
  });
  return `${helloworldService()}
${entries.join('\n')}
---
${helloworldRule(trafficPolicy)}
${meshConfig}`;
}

export const client = (locality?: string, labels: Record<string, string> = { app: 'sleep' }): ProxyIdentity => ({
  mode: 'sidecar',
  namespace: 'sample',
  labels,
  ...(locality ? { locality } : {}),
});

export function clusterFor(yaml: string, proxy: ProxyIdentity): ClusterConfig {
  const config = compile(buildIndex(makeSnapshot(meshOf(yaml), 'v1')), proxy);
  const c = config.clusters.find((x) => x.name === CLUSTER);
  if (!c) throw new Error(`no cluster ${CLUSTER}`);
  return c;
}

/** Where `n` requests go (by endpoint locality) with the endpoints of `down` localities ejected. */
export function picks(c: ClusterConfig, n: number, down: readonly string[] = [], seed = 7): Record<string, number> {
  const levels = priorityLevels(
    c.endpoints,
    c.endpoints.map((e) => e.priority ?? 0),
    c.endpoints.map((e) => e.locality ?? ''),
    c.localityWeights,
  );
  const random = seededRandom(seed);
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const list = candidates(levels, (e) => !down.includes(e.locality ?? ''), random);
    const e = list[Math.floor(random() * list.length)];
    const where = e?.locality ?? 'none';
    out[where] = (out[where] ?? 0) + 1;
  }
  return out;
}

export const FAILOVER = `    connectionPool: { http: { maxRequestsPerConnection: 1 } }
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        enabled: true
        failover: [{ from: region1, to: region2 }]
    outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 10m }`;

export const FOUR = ['region1/zone1', 'region1/zone2', 'region2/zone3', 'region3/zone4'];
