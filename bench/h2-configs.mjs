// What the HTTP/2 and gRPC rows run (h2.mjs): their ports, the nginx configurations (the h2c
// backend, nginx as an h2c proxy, the two-nginx `grpc_pass` chain with mTLS), the certificates of
// that chain (openssl), and the meshes of mast's gateway and of its two sidecars.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gatewayMeshYaml as meshFor } from './gateway-mesh.mjs';

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
};

// As the HTTP/1.1 rows' nginx: one worker, connections kept for the whole run (nginx's default
// closes an HTTP/2 connection after 1,000 requests, which h2load does not reopen).
const head = (dir, name) =>
  `worker_processes 1; daemon off; pid ${dir}/${name}.pid; error_log ${dir}/${name}.err; events { worker_connections 4096; }`;
const http = 'access_log off; keepalive_requests 1000000;';
/** An upstream of kept-alive connections. */
const upstream = (name, port) =>
  `upstream ${name} { server 127.0.0.1:${port}; keepalive 128; keepalive_requests 1000000; keepalive_timeout 300s; }`;

/** Writes the nginx configurations into `dir`: h2-backend.conf, h2-nginx.conf, grpc-a.conf, grpc-b.conf. */
export function writeNginxConfigs(dir, certs) {
  // An `http2` listener without `ssl` is HTTP/2 with prior knowledge only: a proxy that sent it
  // HTTP/1.1 would get no answer, so a 200 through a proxy shows the proxy spoke h2 upstream.
  writeFileSync(
    join(dir, 'h2-backend.conf'),
    `${head(dir, 'h2-backend')} http { ${http} server { listen 127.0.0.1:${H2.backend} http2 reuseport; location / { return 200 "ok from backend\\n"; } } }`,
  );
  // grpc_pass is nginx's HTTP/2 upstream (proxy_pass speaks HTTP/1.x only): any request, gRPC or not.
  writeFileSync(
    join(dir, 'h2-nginx.conf'),
    `${head(dir, 'h2-nginx')} http { ${http} ${upstream('backend', H2.backend)}
server { listen 127.0.0.1:${H2.nginx} http2; location / { grpc_pass grpc://backend; } } }`,
  );
  // The chain as two sidecars: A takes the client's h2c and speaks mTLS (ALPN h2) to B, which checks
  // A's certificate and passes the call to the echo over h2c.
  writeFileSync(
    join(dir, 'grpc-a.conf'),
    `${head(dir, 'grpc-a')} http { ${http} ${upstream('chain_b', H2.chainB)}
server { listen 127.0.0.1:${H2.chainA} http2; location / { grpc_pass grpcs://chain_b;
  grpc_ssl_certificate ${certs.a.crt}; grpc_ssl_certificate_key ${certs.a.key}; grpc_ssl_trusted_certificate ${certs.ca};
  grpc_ssl_verify on; grpc_ssl_name nginx-b; grpc_ssl_session_reuse on; } } }`,
  );
  writeFileSync(
    join(dir, 'grpc-b.conf'),
    `${head(dir, 'grpc-b')} http { ${http} ${upstream('echo', H2.echo)}
server { listen 127.0.0.1:${H2.chainB} ssl http2; ssl_certificate ${certs.b.crt}; ssl_certificate_key ${certs.b.key};
  ssl_client_certificate ${certs.ca}; ssl_verify_client on; location / { grpc_pass grpc://echo; } } }`,
  );
}

/**
 * A CA and a certificate for each nginx of the gRPC chain, made with openssl: ECDSA P-256 as
 * mastd issues (runtime/contract/x509.ts), so both chains do the same handshakes' work.
 */
export function makeChainCertificates(dir) {
  const d = join(dir, 'certs');
  mkdirSync(d);
  const ssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...key, '-keyout', join(d, 'ca.key'), '-out', join(d, 'ca.crt'), '-subj', '/CN=mast-bench-ca', '-days', '2');
  const issue = (name, usage) => {
    writeFileSync(join(d, `${name}.ext`), `subjectAltName=DNS:${name}\nextendedKeyUsage=${usage}\n`);
    ssl('req', ...key, '-keyout', join(d, `${name}.key`), '-out', join(d, `${name}.csr`), '-subj', `/CN=${name}`);
    ssl(
      'x509',
      '-req',
      '-in',
      join(d, `${name}.csr`),
      '-CA',
      join(d, 'ca.crt'),
      '-CAkey',
      join(d, 'ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      join(d, `${name}.ext`),
      '-out',
      join(d, `${name}.crt`),
    );
    return { crt: join(d, `${name}.crt`), key: join(d, `${name}.key`) };
  };
  return { ca: join(d, 'ca.crt'), a: issue('nginx-a', 'clientAuth'), b: issue('nginx-b', 'serverAuth') };
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
