/**
 * The tcp-echo workloads of Istio's tcp-traffic-shifting task for `mast local`: its ServiceEntry,
 * v1 ("one") and v2 ("two") as WorkloadEntries running tcp-echo.ts, and the task's Gateway on a TCP
 * port of the ingress gateway (in the first files, or applied to the running mesh: `mast local`
 * serves a Gateway port added while it runs).
 */
import { join } from 'node:path';

/** The ServiceEntry and the two WorkloadEntries. */
export function tcpEchoWorkloads(namespace: string, ports: readonly [number, number]): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: tcp-echo, namespace: ${namespace} }
spec:
  hosts: [tcp-echo.${namespace}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9000, name: tcp, protocol: TCP }]
  workloadSelector: { labels: { app: tcp-echo } }
${(['one', 'two'] as const)
  .map(
    (prefix, i) => `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: tcp-echo-v${i + 1}
  namespace: ${namespace}
  annotations:
    local.mast.dev/run: ${join(__dirname, 'tcp-echo.ts')}
    local.mast.dev/env: PREFIX=${prefix}
spec:
  address: 127.0.0.1
  ports: { tcp: ${ports[i]} }
  labels: { app: tcp-echo, version: v${i + 1} }
`,
  )
  .join('')}`;
}

/** The task's `tcp-echo-gateway` on `ingressPort` (TCP). */
export function tcpEchoGateway(namespace: string, ingressPort: number): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: tcp-echo-gateway, namespace: ${namespace} }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: ${ingressPort}, name: tcp, protocol: TCP }, hosts: ["*"] }]
`;
}

/**
 * The task's tcp-echo VirtualService: connections to the gateway's `ingressPort` go to tcp-echo
 * port 9000, all to v1, or split by `weights` (v2 left out at weight 0).
 */
export function tcpEchoRoute(namespace: string, ingressPort: number, weights?: { readonly v1: number; readonly v2: number }): string {
  const to = (subset: string, weight?: number) =>
    `    - destination: { host: tcp-echo, port: { number: 9000 }, subset: ${subset} }\n${weight === undefined ? '' : `      weight: ${weight}\n`}`;
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: tcp-echo, namespace: ${namespace} }
spec:
  hosts: ["*"]
  gateways: [tcp-echo-gateway]
  tcp:
  - match: [{ port: ${ingressPort} }]
    route:
${weights ? `${to('v1', weights.v1)}${weights.v2 ? to('v2', weights.v2) : ''}` : to('v1')}`;
}

/** The workloads and the Gateway in one file. */
export function tcpEchoMesh(namespace: string, ingressPort: number, ports: readonly [number, number]): string {
  return `${tcpEchoWorkloads(namespace, ports)}---\n${tcpEchoGateway(namespace, ingressPort)}`;
}
