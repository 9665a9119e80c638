// The nginx configuration fragments every row of the bench shares (one worker, no access log,
// connections kept for the whole run, kept-alive upstreams) and the certificates of the mTLS
// chains (openssl): written once here for the HTTP/1.1 rows (run.mjs), the mesh path
// (mesh-path.mjs) and the HTTP/2 rows (h2-configs.mjs).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The main context: one worker in the foreground, its pid and errors in `dir` under `name`. */
export const nginxHead = (dir, name) =>
  `worker_processes 1; daemon off; pid ${dir}/${name}.pid; error_log ${dir}/${name}.err; events { worker_connections 4096; }`;

/** The http context's common lines: nginx's default closes a connection after 1,000 requests, which wrk and h2load do not reopen. */
export const NGINX_HTTP = 'access_log off; keepalive_requests 1000000;';

/** An upstream of kept-alive connections. */
export const nginxUpstream = (name, port) =>
  `upstream ${name} { server 127.0.0.1:${port}; keepalive 128; keepalive_requests 1000000; keepalive_timeout 300s; }`;

/** The bench's backend: `ok from backend` to every request, HTTP/1.1 on `port` (`listenExtra`: e.g. `http2`). */
export function writeBackendConfig(dir, name, port, listenExtra = '') {
  writeFileSync(
    join(dir, `${name}.conf`),
    `${nginxHead(dir, name)} http { ${NGINX_HTTP} server { listen 127.0.0.1:${port}${listenExtra ? ` ${listenExtra}` : ''} reuseport; location / { return 200 "ok from backend\\n"; } } }`,
  );
}

/** nginx as an HTTP/1.1 reverse proxy on `port` to a kept-alive upstream on `upstreamPort`. */
export function writeProxyConfig(dir, name, port, upstreamPort) {
  writeFileSync(
    join(dir, `${name}.conf`),
    `${nginxHead(dir, name)} http { ${NGINX_HTTP} ${nginxUpstream('backend', upstreamPort)}
server { listen 127.0.0.1:${port}; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; } } }`,
  );
}

/**
 * A CA and a certificate for each of `names` (`{ name: 'clientAuth' | 'serverAuth' }`), made with
 * openssl in `dir`/`sub`: ECDSA P-256 as mastd issues (runtime/contract/x509.ts), so nginx's chains
 * and mast's do the same handshakes' work. Returns `{ ca, [name]: { crt, key } }`.
 */
export function makeCertificates(dir, sub, names) {
  const d = join(dir, sub);
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
  const out = { ca: join(d, 'ca.crt') };
  for (const [name, usage] of Object.entries(names)) out[name] = issue(name, usage);
  return out;
}
