/**
 * Several TLS servers on one gateway port, each its own certificate and client verification,
 * picked by the ClientHello's server name as Envoy's filter chains are; a PASSTHROUGH route beside
 * them. With an attacker's eye: no SNI, an unknown SNI, the SNI of one host with the Host (or
 * HTTP/2 :authority) of another, a client certificate from a foreign CA on MUTUAL and on
 * OPTIONAL_MUTUAL. And a credentialName Secret in its generic form (cert, key, `<name>-cacert`),
 * re-read when it changes.
 */
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { loadYaml } from '../../../api';
import { CertificateAuthority } from '../../../runtime/control/ca';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { certificateRequest, generateKeys, privateKeyPem } from '../../../runtime/contract/x509';
import { backend, type Backend } from '../../support/proxy';
import { tempDir } from '../../support/temp-dir';
import { gatewayServersDoc } from '../../support/mesh-yaml';
import { gatewayConfig, innerServer, innerService, secureRoute, webService } from './gateway-fixtures';

const dir = tempDir('mast-gw-sni-');
const credentials = join(dir, 'credentials');
type Pair = { cert: string; key: string; root: string };
let mesh: CertificateAuthority;
let foreign: CertificateAuthority;
const issue = async (ca: CertificateAuthority, name: string): Promise<Pair> => {
  const keys = await generateKeys();
  const c = await ca.sign(await certificateRequest(keys), { namespace: 'default', serviceAccount: name });
  return { cert: c.certificate, key: await privateKeyPem(keys), root: c.root };
};
const files = (name: string, p: Pair) => {
  writeFileSync(join(dir, `${name}.crt`), p.cert);
  writeFileSync(join(dir, `${name}.key`), p.key);
  return `serverCertificate: ${join(dir, `${name}.crt`)}, privateKey: ${join(dir, `${name}.key`)}`;
};
/** The `opt-credential` Secret as kubelet mounts a generic one: cert, key, and its CA in `opt-credential-cacert/cacert`. */
const mountGeneric = (p: Pair, ca: string) => {
  mkdirSync(join(credentials, 'opt-credential'), { recursive: true });
  mkdirSync(join(credentials, 'opt-credential-cacert'), { recursive: true });
  writeFileSync(join(credentials, 'opt-credential', 'cert'), p.cert);
  writeFileSync(join(credentials, 'opt-credential', 'key'), p.key);
  writeFileSync(join(credentials, 'opt-credential-cacert', 'cacert'), ca);
};

let proxy: MeshProxy;
let web: Backend;
let inner: https.Server;
let port: number;
let client: Pair;
let stranger: Pair;

beforeAll(async () => {
  mesh = await CertificateAuthority.generate('cluster.local');
  foreign = await CertificateAuthority.generate('cluster.local');
  client = await issue(mesh, 'client');
  stranger = await issue(foreign, 'client');
  writeFileSync(join(dir, 'ca.crt'), mesh.rootPem);
  mountGeneric(await issue(mesh, 'opt'), mesh.rootPem);
  web = await backend('web');
  const passthrough = await innerServer(await issue(mesh, 'inner'));
  inner = passthrough.server;
  const objects = loadYaml(`
${gatewayServersDoc([
  `{ port: { number: 443, name: https-httpbin, protocol: HTTPS }, hosts: [httpbin.example.com], tls: { mode: SIMPLE, ${files('httpbin', await issue(mesh, 'httpbin'))} } }`,
  `{ port: { number: 443, name: https-hello, protocol: HTTPS }, hosts: [hello.example.com], tls: { mode: MUTUAL, ${files('hello', await issue(mesh, 'hello'))}, caCertificates: ${join(dir, 'ca.crt')} } }`,
  '{ port: { number: 443, name: https-opt, protocol: HTTPS }, hosts: [opt.example.com], tls: { mode: OPTIONAL_MUTUAL, credentialName: opt-credential } }',
  '{ port: { number: 443, name: tls-secure, protocol: HTTPS }, hosts: [secure.example.com], tls: { mode: PASSTHROUGH } }',
])}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec: { hosts: [httpbin.example.com, hello.example.com, opt.example.com], gateways: [edge], http: [{ route: [{ destination: { host: web } }] }] }
---
${secureRoute(443)}
---
${webService(web.port)}
---
${innerService(passthrough.port)}
`).objects;
  const config = gatewayConfig(objects, { 443: 0 });
  proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' });
  proxy.credentialsDir = credentials;
  expect(await proxy.apply(config)).toMatchObject({ ok: true });
  expect(proxy.skipped).toEqual([]);
  port = proxy.boundPort('0.0.0.0_443')!;
});

afterAll(async () => {
  await proxy?.drain(50);
  await web?.close();
  inner?.close();
});

/** The identity of the certificate the gateway answers a ClientHello for `servername` with (none: what refused the handshake). */
function servedFor(servername: string | undefined): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect(
      { host: '127.0.0.1', port, ...(servername ? { servername } : {}), ca: mesh.rootPem, checkServerIdentity: () => undefined },
      () => {
        resolve(s.getPeerCertificate().subjectaltname ?? '');
        s.destroy();
      },
    );
    s.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
  });
}

/** An HTTPS request with this SNI and Host: `<status> <body>`, or `error <code>`. */
function request(servername: string, host: string, o: { cert?: Pair; ca?: string } = {}): Promise<string> {
  return new Promise((resolve) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        servername,
        path: '/who',
        headers: { host },
        ca: o.ca ?? mesh.rootPem,
        checkServerIdentity: () => undefined,
        agent: false,
        ...(o.cert ? { cert: o.cert.cert, key: o.cert.key } : {}),
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
  });
}

const sa = (name: string) => `URI:spiffe://cluster.local/ns/default/sa/${name}`;

test('each host is answered with its own certificate, chosen by SNI', async () => {
  expect(await servedFor('httpbin.example.com')).toBe(sa('httpbin'));
  expect(await servedFor('HTTPBIN.example.com')).toBe(sa('httpbin'));
  expect(await servedFor('opt.example.com')).toBe(sa('opt'));
  expect(await request('httpbin.example.com', 'httpbin.example.com')).toBe('200 web /who');
});

test('no SNI, or a name no server has: the connection is closed, no certificate is given', async () => {
  expect(await servedFor(undefined)).toMatch(/^error /);
  expect(await servedFor('evil.example.org')).toMatch(/^error /);
  expect(await servedFor('example.com')).toMatch(/^error /);
});

test('the SNI of one host with the Host of another: 404, the other host is not reached over this connection', async () => {
  const before = web.seen.length;
  expect(await request('httpbin.example.com', 'hello.example.com')).toMatch(/^404 /);
  expect(await request('opt.example.com', 'hello.example.com')).toMatch(/^404 /);
  expect(web.seen.length).toBe(before);
});

test('HTTP/2: the SNI of one host with the :authority of another is a 404 too', async () => {
  const session = http2.connect(`https://127.0.0.1:${port}`, {
    servername: 'httpbin.example.com',
    ca: mesh.rootPem,
    checkServerIdentity: () => undefined,
  });
  try {
    const status = (authority: string) =>
      new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': '/who', ':authority': authority });
        stream.on('response', (h) => resolve(Number(h[':status'])));
        stream.on('error', reject);
        stream.resume();
        stream.end();
      });
    expect(await status('httpbin.example.com')).toBe(200);
    expect(await status('hello.example.com')).toBe(404);
  } finally {
    session.close();
  }
});

test('MUTUAL: no client certificate, or one from a foreign CA, is refused; the mesh CA’s gets through', async () => {
  expect(await request('hello.example.com', 'hello.example.com')).toMatch(/^error /);
  expect(await request('hello.example.com', 'hello.example.com', { cert: stranger })).toMatch(/^error /);
  expect(await request('hello.example.com', 'hello.example.com', { cert: client })).toBe('200 web /who');
  expect(web.seen.at(-1)?.headers['x-forwarded-client-cert']).toContain('Cert=');
});

/** The session ticket of a full handshake for `servername` (with `who`'s client certificate, if given). */
function sessionOf(servername: string, who?: Pair): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const s = tlsConnect({
      host: '127.0.0.1',
      port,
      servername,
      ca: mesh.rootPem,
      checkServerIdentity: () => undefined,
      ...(who ? { cert: who.cert, key: who.key } : {}),
    });
    s.once('session', (ticket: Buffer) => (resolve(ticket), s.destroy()));
    s.on('error', reject);
  });
}

/** GET /who for `servername` over a connection offering `session`: `reused` or `new`, then the status line (or the error, or `closed`). */
function resumeWith(session: Buffer, servername: string, who?: Pair): Promise<string> {
  return new Promise<string>((resolve) => {
    let resumed = false;
    const o = { host: '127.0.0.1', port, servername, session, ca: mesh.rootPem, checkServerIdentity: () => undefined };
    const s = tlsConnect({ ...o, ...(who ? { cert: who.cert, key: who.key } : {}) }, () => {
      resumed = s.isSessionReused();
      s.write(`GET /who HTTP/1.1\r\nhost: ${servername}\r\nconnection: close\r\n\r\n`);
    });
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('error', (err: NodeJS.ErrnoException) => (out ||= `error ${err.code ?? err.message}`));
    s.on('close', () => resolve(`${resumed ? 'reused' : 'new'} ${out.split('\r\n')[0] || 'closed'}`));
  });
}

test('a TLS session of the SIMPLE server offered with the MUTUAL server’s name is not resumed there: no client certificate, no way in', async () => {
  const session = await sessionOf('httpbin.example.com');
  expect(await resumeWith(session, 'httpbin.example.com')).toBe('reused HTTP/1.1 200 OK');
  expect(await resumeWith(session, 'hello.example.com')).toMatch(/^new (error|closed)/);
});

test('MUTUAL: a client resuming its session (as browsers and curl do) gets through again, its certificate still verified', async () => {
  const session = await sessionOf('hello.example.com', client);
  expect(await resumeWith(session, 'hello.example.com', client)).toBe('reused HTTP/1.1 200 OK');
  expect(web.seen.at(-1)?.headers['x-forwarded-client-cert']).toContain('Cert=');
});

test('MUTUAL on one host does not make its neighbour ask: httpbin (SIMPLE) takes a client without a certificate', async () => {
  expect(await request('httpbin.example.com', 'httpbin.example.com')).toBe('200 web /who');
});

test('OPTIONAL_MUTUAL (its CA from <name>-cacert): no certificate passes, a foreign one is refused, a good one is forwarded', async () => {
  expect(await request('opt.example.com', 'opt.example.com')).toBe('200 web /who');
  expect(web.seen.at(-1)?.headers['x-forwarded-client-cert']).toBeUndefined();
  expect(await request('opt.example.com', 'opt.example.com', { cert: stranger })).toMatch(/^error /);
  expect(await request('opt.example.com', 'opt.example.com', { cert: client })).toBe('200 web /who');
  expect(web.seen.at(-1)?.headers['x-forwarded-client-cert']).toContain('Cert=');
});

test('PASSTHROUGH beside the terminated servers: the bytes go on untouched (the inner server’s certificate)', async () => {
  const seen = await new Promise<string>((resolve) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        servername: 'secure.example.com',
        path: '/',
        ca: mesh.rootPem,
        checkServerIdentity: () => undefined,
        agent: false,
      },
      (res) => {
        const peer = (res.socket as TLSSocket).getPeerCertificate();
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(`${body} (${peer.subjectaltname})`));
      },
    );
    req.on('error', (err) => resolve(`error ${err.message}`));
  });
  expect(seen).toBe(`inner, end to end (${sa('inner')})`);
});

test('the credential Secret changed on disk: new connections get the new certificate, the other servers keep theirs', async () => {
  mountGeneric(await issue(mesh, 'opt-renewed'), mesh.rootPem);
  expect(await proxy.reloadCredentials()).toBe(true);
  expect(await servedFor('opt.example.com')).toBe(sa('opt-renewed'));
  expect(await servedFor('httpbin.example.com')).toBe(sa('httpbin'));
});

test('the credential Secret deleted: its server is left out (no certificate at all for its name), the others serve on; back when it is back', async () => {
  rmSync(join(credentials, 'opt-credential'), { recursive: true });
  expect(await proxy.reloadCredentials()).toBe(true);
  expect(proxy.skipped).toEqual([
    expect.stringMatching(
      /^0\.0\.0\.0_443 server https\.443\.https-opt\.edge\.default: TLS credentialName "opt-credential": no Secret .*; not served$/,
    ),
  ]);
  expect(await servedFor('opt.example.com')).toMatch(/^error /);
  expect(await request('opt.example.com', 'opt.example.com')).toMatch(/^error /);
  expect(await servedFor('httpbin.example.com')).toBe(sa('httpbin'));
  mountGeneric(await issue(mesh, 'opt-back'), mesh.rootPem);
  expect(await proxy.reloadCredentials()).toBe(true);
  expect(proxy.skipped).toEqual([]);
  expect(await servedFor('opt.example.com')).toBe(sa('opt-back'));
});
