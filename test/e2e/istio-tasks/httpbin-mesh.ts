/**
 * httpbin of Istio's security tasks for `mast local`: its ServiceEntry (port 8000, as the task's
 * Service) and one WorkloadEntry running httpbin.ts on `port`, in `namespace`.
 */
import { join } from 'node:path';

export function httpbinWorkload(namespace: string, port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin, namespace: ${namespace} }
spec:
  hosts: [httpbin.${namespace}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 8000, name: http, protocol: HTTP }]
  workloadSelector: { labels: { app: httpbin } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: httpbin
  namespace: ${namespace}
  annotations: { local.mast.dev/run: ${join(__dirname, 'httpbin.ts')} }
spec: { address: 127.0.0.1, ports: { http: ${port} }, labels: { app: httpbin, version: v1 } }
`;
}
