// What the HTTP/2 and gRPC rows run (h2.mjs): their ports, the nginx configurations (the h2c
// backend, nginx as an h2c proxy, the two-nginx `grpc_pass` chain with mTLS), the certificates of
// that chain, and the meshes of mast's gateway and of its two sidecars. The fragments every nginx
// of the bench shares, and the certificates' making, are nginx-configs.mjs's.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gatewayMeshYaml as meshFor } from './gateway-mesh.mjs';
import { makeCertificates, NGINX_HTTP, nginxHead, nginxUpstream, writeBackendConfig } from './nginx-configs.mjs';

/** Fixed ports, 182xx: the HTTP/1.1 rows hold 181xx. */
export const H2 = {
  backend: 18200,
  floor: 18201,
  nginx: 18202,
  gateway: 18203,
  mastdPush: 18204,
  mastdMon: 18205,
  mtlsOut: 18206,
  mtlsIn: 18207,
  mtlsAdmin: 18208,
  echoIn: 18209,
  echo: 18210,
  chainA: 18211,
  chainB: 18212,
  echoAdmin: 18213,
  gatewayAdmin: 18214,
  clientAdmin: 18215,
  jsPipe: 18216,
  floorA: 18217,
  floorB: 18218,
};

/** Writes the nginx configurations into `dir`: h2-backend.conf, h2-nginx.conf, grpc-a.conf, grpc-b.conf. */
export function writeNginxConfigs(dir, certs) {
  // An `http2` listener without `ssl` is HTTP/2 with prior knowledge only: a proxy that sent it
  // HTTP/1.1 would get no answer, so a 200 through a proxy shows the proxy spoke h2 upstream.
  writeBackendConfig(dir, 'h2-backend', H2.backend, 'http2');
  // grpc_pass is nginx's HTTP/2 upstream (proxy_pass speaks HTTP/1.x only): any request, gRPC or not.
  writeFileSync(
    join(dir, 'h2-nginx.conf'),
    `${nginxHead(dir, 'h2-nginx')} http { ${NGINX_HTTP} ${nginxUpstream('backend', H2.backend)}
server { listen 127.0.0.1:${H2.nginx} http2; location / { grpc_pass grpc://backend; } } }`,
  );
  // The chain as two sidecars: A takes the client's h2c and speaks mTLS (ALPN h2) to B, which checks
  // A's certificate and passes the call to the echo over h2c.
  writeFileSync(
    join(dir, 'grpc-a.conf'),
    `${nginxHead(dir, 'grpc-a')} http { ${NGINX_HTTP} ${nginxUpstream('chain_b', H2.chainB)}
server { listen 127.0.0.1:${H2.chainA} http2; location / { grpc_pass grpcs://chain_b;
  grpc_ssl_certificate ${certs.a.crt}; grpc_ssl_certificate_key ${certs.a.key}; grpc_ssl_trusted_certificate ${certs.ca};
  grpc_ssl_verify on; grpc_ssl_name nginx-b; grpc_ssl_session_reuse on; } } }`,
  );
  writeFileSync(
    join(dir, 'grpc-b.conf'),
    `${nginxHead(dir, 'grpc-b')} http { ${NGINX_HTTP} ${nginxUpstream('echo', H2.echo)}
server { listen 127.0.0.1:${H2.chainB} ssl http2; ssl_certificate ${certs.b.crt}; ssl_certificate_key ${certs.b.key};
  ssl_client_certificate ${certs.ca}; ssl_verify_client on; location / { grpc_pass grpc://echo; } } }`,
  );
}

/** A CA and a certificate for each nginx of the gRPC chain (nginx-configs.mjs). */
export function makeChainCertificates(dir) {
  const c = makeCertificates(dir, 'certs', { 'nginx-a': 'clientAuth', 'nginx-b': 'serverAuth' });
  return { ca: c.ca, a: c['nginx-a'], b: c['nginx-b'] };
}

/**
 * The gateway's mesh: the HTTP/1.1 rows' table of 5 rules (the request matches the last), to a
 * backend whose port is named `http2` (HTTP/2 to the endpoints, as Istio selects it by name).
 */
export function gatewayMeshYaml() {
  return meshFor({ port: H2.backend, portName: 'http2', protocol: 'HTTP2', trafficPolicy: '{ loadBalancer: { simple: LEAST_REQUEST } }' });
}

/**
 * The sidecars' mesh (mastd's): `backend` (port named `http2`, sidecar B in front of the h2c
 * nginx) and `echo` (port named `grpc`, its own sidecar in front of the gRPC echo), both
 * labelled for Istio's auto mTLS.
 */
export function sidecarMeshYaml() {
  const service = (name, port, endpointPort) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [${name}.default.svc.cluster.local]
  ports: [{ number: 80, name: ${port.name}, protocol: ${port.protocol} }]
  resolution: STATIC
  workloadSelector: { labels: { app: ${name} } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${name}-1, namespace: default }
spec: { address: 127.0.0.1, ports: { ${port.name}: ${endpointPort} }, labels: { app: ${name}, security.istio.io/tlsMode: istio } }`;
  return `${service('backend', { name: 'http2', protocol: 'HTTP2' }, H2.mtlsIn)}\n---${service('echo', { name: 'grpc', protocol: 'GRPC' }, H2.echoIn)}\n`;
}
