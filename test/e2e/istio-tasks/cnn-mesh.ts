/**
 * edition.cnn.com and the egress gateway of Istio's egress tasks, as YAML (pure: the compile
 * simulations use it as the e2e tests do): the ServiceEntry, the egress Gateway, the
 * DestinationRule for the egress gateway's `cnn` subset, the VirtualService that sends the mesh's
 * requests through the egress gateway and the egress gateway's on to edition.cnn.com, and the
 * DestinationRule that originates TLS to it. The egress gateway's Service is mast's
 * (`istio-egressgateway.mast-system`), where the tasks name Istio's in istio-system.
 */
export const EGRESS_HOST = 'istio-egressgateway.mast-system.svc.cluster.local';

/** The ServiceEntry `cnn`: ports 80 (HTTP, named `http`) and 443 (HTTPS); resolved by DNS, or at `endpoint` (the test's host). */
export const cnnServiceEntry = (endpoint?: { address: string; httpPort: number; httpsPort: number }) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: cnn, namespace: default }
spec:
  hosts: [edition.cnn.com]
  ports:
  - { number: 80, name: http, protocol: HTTP }
  - { number: 443, name: https, protocol: HTTPS }
  resolution: DNS
${
  endpoint
    ? `  # The test's edition.cnn.com, where the task resolves the name by DNS.
  endpoints: [{ address: ${endpoint.address}, ports: { http: ${endpoint.httpPort}, https: ${endpoint.httpsPort} } }]
`
    : ''
}`;

/** The Gateway `istio-egressgateway` with one server for edition.cnn.com on 80: HTTP, or HTTPS with `tls.mode: ISTIO_MUTUAL`. */
export const egressGateway = (mode: 'HTTP' | 'ISTIO_MUTUAL') => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway, namespace: default }
spec:
  selector: { istio: egressgateway }
  servers:
${
  mode === 'HTTP'
    ? '  - port: { number: 80, name: http, protocol: HTTP }\n    hosts: [edition.cnn.com]\n'
    : '  - port: { number: 80, name: https-port-for-tls-origination, protocol: HTTPS }\n    hosts: [edition.cnn.com]\n    tls: { mode: ISTIO_MUTUAL }\n'
}`;

/** The DestinationRule `egressgateway-for-cnn`: the subset `cnn` of the egress gateway, over ISTIO_MUTUAL with SNI edition.cnn.com when asked. */
export const egressSubset = (mutual: boolean) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: egressgateway-for-cnn, namespace: default }
spec:
  host: ${EGRESS_HOST}
  subsets:
  - name: cnn
${
  mutual
    ? `    trafficPolicy:
      loadBalancer: { simple: ROUND_ROBIN }
      portLevelSettings:
      - port: { number: 80 }
        tls: { mode: ISTIO_MUTUAL, sni: edition.cnn.com }
`
    : ''
}`;

/** The VirtualService `direct-cnn-through-egress-gateway`: the mesh's port 80 to the egress gateway, the egress gateway's to edition.cnn.com:`port`. */
export const throughEgressGateway = (port: 80 | 443) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: direct-cnn-through-egress-gateway, namespace: default }
spec:
  hosts: [edition.cnn.com]
  gateways: [istio-egressgateway, mesh]
  http:
  - match: [{ gateways: [mesh], port: 80 }]
    route:
    - destination: { host: ${EGRESS_HOST}, subset: cnn, port: { number: 80 } }
      weight: 100
  - match: [{ gateways: [istio-egressgateway], port: 80 }]
    route:
    - destination: { host: edition.cnn.com, port: { number: ${port} } }
      weight: 100
`;

/** The DestinationRule `originate-tls-for-edition-cnn-com`: SIMPLE TLS to port 443, the server checked against `ca` (a file) when given. */
export const originateTls = (ca?: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: originate-tls-for-edition-cnn-com, namespace: default }
spec:
  host: edition.cnn.com
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    portLevelSettings:
    - port: { number: 443 }
      tls: { mode: SIMPLE${ca ? `, caCertificates: ${ca}` : ''} }
`;

/**
 * The task's `edition-cnn-com` VirtualService sending port 80 to the `tls-origination` subset on 443,
 * and that subset's SIMPLE TLS, the server checked against `ca` (a file the sidecar can read).
 */
export const originateTlsForPort80 = (ca: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edition-cnn-com, namespace: default }
spec:
  hosts: [edition.cnn.com]
  http:
  - match: [{ port: 80 }]
    route:
    - destination: { host: edition.cnn.com, subset: tls-origination, port: { number: 443 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: edition-cnn-com, namespace: default }
spec:
  host: edition.cnn.com
  subsets:
  - name: tls-origination
    trafficPolicy:
      loadBalancer: { simple: ROUND_ROBIN }
      portLevelSettings:
      - port: { number: 443 }
        tls: { mode: SIMPLE, caCertificates: ${ca} }
`;

/** A process's JSON access log lines from `mast local`'s log (`[egress gateway] {...}`, `[sidecar productpage-v1.default] {...}`). */
export const accessLog = (logs: readonly string[], process: string) =>
  logs.filter((l) => l.startsWith(`[${process}] {`)).map((l) => JSON.parse(l.slice(process.length + 3)));

/**
 * The egress-gateway task's HTTPS section: the ServiceEntry `cnn` for TLS on 443 (at `endpoint`, or
 * by DNS), the Gateway passing edition.cnn.com's TLS through on 443, the egress gateway's `cnn`
 * subset, and `tls` routes by SNI: the mesh's to the egress gateway, the egress gateway's to the host.
 */
export const httpsThroughEgressGateway = (endpoint?: { address: string; httpsPort: number }) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: cnn, namespace: default }
spec:
  hosts: [edition.cnn.com]
  ports: [{ number: 443, name: tls, protocol: TLS }]
  resolution: DNS
${endpoint ? `  endpoints: [{ address: ${endpoint.address}, ports: { tls: ${endpoint.httpsPort} } }]\n` : ''}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway, namespace: default }
spec:
  selector: { istio: egressgateway }
  servers:
  - port: { number: 443, name: tls, protocol: TLS }
    hosts: [edition.cnn.com]
    tls: { mode: PASSTHROUGH }
---
${egressSubset(false)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: direct-cnn-through-egress-gateway, namespace: default }
spec:
  hosts: [edition.cnn.com]
  gateways: [mesh, istio-egressgateway]
  tls:
  - match: [{ gateways: [mesh], port: 443, sniHosts: [edition.cnn.com] }]
    route:
    - destination: { host: ${EGRESS_HOST}, subset: cnn, port: { number: 443 } }
  - match: [{ gateways: [istio-egressgateway], port: 443, sniHosts: [edition.cnn.com] }]
    route:
    - destination: { host: edition.cnn.com, port: { number: 443 } }
      weight: 100
`;
