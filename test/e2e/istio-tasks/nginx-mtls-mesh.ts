/**
 * The mutual TLS origination sections of Istio's egress tasks, as YAML (pure: the compile
 * simulations use it as the e2e tests do). Their server is nginx in `mesh-external`, outside the
 * mesh, requiring a client certificate of the task's CA; here a ServiceEntry stands for its Service
 * (`my-nginx.mesh-external.svc.cluster.local`, port 443 at the test's server, and port 80 that sleep
 * calls), as edition.cnn.com's does in cnn-mesh.ts.
 */
import { readFileSync } from 'node:fs';
import { EGRESS_HOST } from './cnn-mesh';

export const NGINX_HOST = 'my-nginx.mesh-external.svc.cluster.local';

/** The Service my-nginx of mesh-external, as a ServiceEntry: 443 (TLS) at `endpoint`, and 80 (HTTP; to 443 with `targetPort`, as the sidecar section's). */
export const nginxServiceEntry = (endpoint: { address: string; port: number }, targetPort = false) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: my-nginx, namespace: mesh-external }
spec:
  hosts: [${NGINX_HOST}]
  location: MESH_EXTERNAL
  ports:
  - { number: 80, name: http, protocol: HTTP${targetPort ? ', targetPort: 443' : ''} }
  - { number: 443, name: https, protocol: HTTPS }
  resolution: STATIC
  endpoints: [{ address: ${endpoint.address}, ports: { https: ${endpoint.port}${targetPort ? `, http: ${endpoint.port}` : ''} } }]
`;

/** `kubectl create secret generic client-credential --from-file=tls.key=... --from-file=tls.crt=... --from-file=ca.crt=...` in `namespace`. */
export const clientCredential = (namespace: string, files: { key: string; cert: string; ca: string }) => {
  const b64 = (f: string) => readFileSync(f).toString('base64');
  return `apiVersion: v1
kind: Secret
metadata: { name: client-credential, namespace: ${namespace} }
type: Opaque
data:
  tls.key: ${b64(files.key)}
  tls.crt: ${b64(files.cert)}
  ca.crt: ${b64(files.ca)}
`;
};

/**
 * The egress gateway section: the Gateway's ISTIO_MUTUAL server for my-nginx on 443, the egress
 * gateway's `nginx` subset (ISTIO_MUTUAL, SNI my-nginx), and the VirtualService sending the
 * mesh's port 80 to it and the egress gateway's 443 on to my-nginx:443.
 */
export const nginxThroughEgressGateway = () => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway, namespace: default }
spec:
  selector: { istio: egressgateway }
  servers:
  - port: { number: 443, name: https, protocol: HTTPS }
    hosts: [${NGINX_HOST}]
    tls: { mode: ISTIO_MUTUAL }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: egressgateway-for-nginx, namespace: default }
spec:
  host: ${EGRESS_HOST}
  subsets:
  - name: nginx
    trafficPolicy:
      loadBalancer: { simple: ROUND_ROBIN }
      portLevelSettings:
      - port: { number: 443 }
        tls: { mode: ISTIO_MUTUAL, sni: ${NGINX_HOST} }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: direct-nginx-through-egress-gateway, namespace: default }
spec:
  hosts: [${NGINX_HOST}]
  gateways: [istio-egressgateway, mesh]
  http:
  - match: [{ gateways: [mesh], port: 80 }]
    route:
    - destination: { host: ${EGRESS_HOST}, subset: nginx, port: { number: 443 } }
      weight: 100
  - match: [{ gateways: [istio-egressgateway], port: 443 }]
    route:
    - destination: { host: ${NGINX_HOST}, port: { number: 443 } }
      weight: 100
`;

/**
 * The DestinationRule `originate-mtls-for-nginx`: MUTUAL with the client-credential Secret, SNI
 * my-nginx. The egress gateway's is in istio-system (the task applies it there); the sidecar
 * section's selects sleep (`workloadSelector`, here productpage, this mesh's sleep) and originates
 * on port 80, which the ServiceEntry sends to 443.
 */
export const originateMtls = (at: {
  namespace: string;
  port: number;
  selector?: Record<string, string>;
}) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: originate-mtls-for-nginx, namespace: ${at.namespace} }
spec:
${at.selector ? `  workloadSelector: { matchLabels: ${JSON.stringify(at.selector)} }\n` : ''}  host: ${NGINX_HOST}
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    portLevelSettings:
    - port: { number: ${at.port} }
      tls: { mode: MUTUAL, credentialName: client-credential, sni: ${NGINX_HOST} }
`;
