/**
 * The tcp-echo workloads of Istio's tcp-traffic-shifting task for `mast local`: its ServiceEntry,
 * v1 ("one") and v2 ("two") as WorkloadEntries running tcp-echo.ts, and the task's Gateway on a TCP
 * port of the ingress gateway (a gateway's ports are fixed when `mast local` starts, so the test
 * passes this in its first files).
 */
import { join } from 'node:path';

export function tcpEchoMesh(namespace: string, ingressPort: number, ports: readonly [number, number]): string {
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
  .join('')}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: tcp-echo-gateway, namespace: ${namespace} }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: ${ingressPort}, name: tcp, protocol: TCP }, hosts: ["*"] }]
`;
}
