// The mesh the gateway rows route through, for HTTP/1.1 and HTTP/2 alike: a Gateway, a VirtualService
// with 5 rules (the request matches the last), a DestinationRule with two subsets, and the backend as a
// ServiceEntry with one WorkloadEntry per subset. The backend's port name and protocol say how the
// gateway speaks to it (`http`/HTTP: HTTP/1.1; `http2`/HTTP2: HTTP/2, as Istio selects it).

/**
 * @param {{ port: number, portName: string, protocol: string, trafficPolicy: string, tlsMode?: string }} backend
 *   the backend's port on 127.0.0.1, its ServiceEntry port name and protocol, the DestinationRule's trafficPolicy (YAML flow),
 *   and the endpoints' `security.istio.io/tlsMode` label (`istio`: a sidecar in front of them, auto mTLS)
 */
export function gatewayMeshYaml({ port, portName, protocol, trafficPolicy, tlsMode }) {
  const tls = tlsMode ? `, security.istio.io/tlsMode: ${tlsMode}` : '';
  return `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: [alpha.example.com] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge, namespace: default }
spec:
  hosts: [alpha.example.com]
  gateways: [edge]
  http:
    - { name: admin, match: [{ uri: { prefix: /admin } }], directResponse: { status: 403 } }
    - { name: jason, match: [{ headers: { end-user: { exact: jason } } }], route: [{ destination: { host: backend, subset: v2 } }] }
    - { name: legacy, match: [{ uri: { regex: "/legacy/[0-9]+" } }], redirect: { uri: /new } }
    - { name: static, match: [{ uri: { prefix: /static }, method: { exact: GET } }], route: [{ destination: { host: backend, subset: v1 } }] }
    - name: api
      match: [{ uri: { prefix: /api/v1 } }]
      route: [{ destination: { host: backend, subset: v1 }, weight: 100 }, { destination: { host: backend, subset: v2 }, weight: 0 }]
      timeout: 10s
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend, namespace: default }
spec:
  host: backend
  trafficPolicy: ${trafficPolicy}
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: backend, namespace: default }
spec:
  hosts: [backend.default.svc.cluster.local]
  ports: [{ number: 80, name: ${portName}, protocol: ${protocol} }]
  resolution: STATIC
  workloadSelector: { labels: { app: backend } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: backend-v1, namespace: default }
spec: { address: 127.0.0.1, ports: { ${portName}: ${port} }, labels: { app: backend, version: v1${tls} } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: backend-v2, namespace: default }
spec: { address: 127.0.0.1, ports: { ${portName}: ${port} }, labels: { app: backend, version: v2${tls} } }
`;
}
