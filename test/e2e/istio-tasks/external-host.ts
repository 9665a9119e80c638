/**
 * Hosts outside the mesh for Istio's egress tasks (edition.cnn.com, *.wikipedia.org): a server of
 * the test on its own loopback address (127.0.0.x, one per name), reached through a ServiceEntry
 * endpoint, as the task reaches the real host by DNS. Like edition.cnn.com, plain HTTP answers 301
 * to the https URL and HTTPS answers 200 with the page; each request is recorded with whether it
 * came over TLS and the server name it asked for. Its certificate for the names is signed by a CA
 * made for it (openssl, `ca`: a file a DestinationRule's `caCertificates` then names).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

export interface Hit {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly tls: boolean;
  readonly serverName?: string;
}

export interface ExternalHost {
  readonly address: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  /** The CA file its certificate chains to. */
  readonly ca: string;
  readonly hits: Hit[];
  close(): Promise<void>;
}

/** A CA (ca.crt) and a certificate (server.crt, server.key) for `names` signed by it, in `dir`. */
function certificates(dir: string, names: readonly string[]): { ca: string; cert: string; key: string } {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-sha256',
    '-nodes',
    '-days',
    '2',
    '-newkey',
    'rsa:2048',
    '-subj',
    '/O=egress test/CN=egress-test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  openssl('req', '-out', 'server.csr', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-subj', `/CN=${names[0]}`);
  writeFileSync(join(dir, 'san.cnf'), `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
  openssl(
    'x509',
    '-req',
    '-sha256',
    '-days',
    '2',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-set_serial',
    '1',
    '-in',
    'server.csr',
    '-out',
    'server.crt',
    '-extfile',
    'san.cnf',
  );
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

/** The host `names` on `address` (a 127.0.0.x of its own): HTTP and HTTPS, each on a free port unless `httpsPort` says. */
export async function startExternalHost(address: string, names: readonly string[], httpsPort = 0): Promise<ExternalHost> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-external-'));
  const tls = certificates(dir, names);
  const hits: Hit[] = [];
  const page =
    (secure: boolean): http.RequestListener =>
    (req, res) => {
      const host = req.headers.host ?? '';
      const serverName = secure ? (req.socket as TLSSocket).servername || undefined : undefined;
      hits.push({ method: req.method ?? '', path: req.url ?? '', host, tls: secure, ...(serverName ? { serverName } : {}) });
      if (!secure) return void res.writeHead(301, { location: `https://${host.replace(/:\d+$/, '')}${req.url}` }).end();
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>${serverName ?? host}</title>\n`);
    };
  const plain = http.createServer(page(false));
  const secure = https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, page(true));
  const listen = (s: http.Server, port: number) =>
    new Promise<number>((r) => s.listen(port, address, () => r((s.address() as AddressInfo).port)));
  const httpPort = await listen(plain, 0);
  return {
    address,
    httpPort,
    httpsPort: await listen(secure, httpsPort),
    ca: tls.ca,
    hits,
    async close() {
      for (const s of [plain, secure]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What the mutual TLS server saw: a request and the client certificate it came with. */
export interface MutualHit {
  readonly path: string;
  readonly serverName?: string;
  /** The client certificate's subject CN and serial (hex). */
  readonly client: { readonly cn: string; readonly serial: string };
}

export interface MutualTlsServer {
  readonly address: string;
  readonly port: number;
  /** The task's files: `example.com.crt` (the CA), `client.example.com.crt`/`.key`, the server's. */
  readonly file: (name: string) => string;
  readonly hits: MutualHit[];
  /** TLS handshakes it refused (no client certificate, or one its CA did not sign). */
  readonly refused: () => number;
  /** Another client certificate signed by the CA, as the task's openssl commands make one (`serial`): its `.crt` and `.key` files. */
  newClient(serial: string): { cert: string; key: string };
  /** Closes the open connections, as nginx closes idle keep-alive connections: clients connect anew. */
  closeConnections(): void;
  close(): Promise<void>;
}

/**
 * The egress TLS origination tasks' my-nginx.mesh-external.svc.cluster.local: nginx with
 * `ssl_verify_client on` and `ssl_client_certificate` the task's CA, as a test server on `address`
 * that answers "Welcome to nginx!" only over TLS with a client certificate the CA signed. The
 * certificates are the task's openssl commands: the example.com root, the server's (CN
 * my-nginx.mesh-external.svc.cluster.local) and client.example.com's, both signed by it.
 */
export async function startMutualTlsServer(address: string): Promise<MutualTlsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-mesh-external-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const CA = ['-CA', 'example.com.crt', '-CAkey', 'example.com.key'];
  openssl(
    'req',
    '-x509',
    '-sha256',
    '-nodes',
    '-days',
    '2',
    '-newkey',
    'rsa:2048',
    '-subj',
    '/O=example Inc./CN=example.com',
    '-keyout',
    'example.com.key',
    '-out',
    'example.com.crt',
  );
  const leaf = (name: string, organization: string, serial: string, out = name) => {
    openssl(
      'req',
      '-out',
      `${out}.csr`,
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${out}.key`,
      '-subj',
      `/CN=${name}/O=${organization}`,
    );
    openssl('x509', '-req', '-sha256', '-days', '2', ...CA, '-set_serial', serial, '-in', `${out}.csr`, '-out', `${out}.crt`);
    return { cert: file(`${out}.crt`), key: file(`${out}.key`) };
  };
  const server = 'my-nginx.mesh-external.svc.cluster.local';
  leaf(server, 'some organization', '0');
  leaf('client.example.com', 'client organization', '1');
  const hits: MutualHit[] = [];
  let refused = 0;
  const nginx = https.createServer(
    {
      cert: readFileSync(file(`${server}.crt`)),
      key: readFileSync(file(`${server}.key`)),
      ca: readFileSync(file('example.com.crt')),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      hits.push({
        path: req.url ?? '',
        ...(socket.servername ? { serverName: socket.servername } : {}),
        client: { cn: String(peer.subject?.CN ?? ''), serial: peer.serialNumber ?? '' },
      });
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n');
    },
  );
  nginx.on('tlsClientError', () => refused++);
  const port = await new Promise<number>((r) => nginx.listen(0, address, () => r((nginx.address() as AddressInfo).port)));
  return {
    address,
    port,
    file,
    hits,
    refused: () => refused,
    newClient: (serial) => leaf('client.example.com', 'client organization', serial, `client-${serial}`),
    closeConnections: () => nginx.closeAllConnections(),
    async close() {
      nginx.closeAllConnections();
      await new Promise((r) => nginx.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
