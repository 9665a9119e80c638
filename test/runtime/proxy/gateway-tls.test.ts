/** HTTPS at the gateway: Gateway `tls.mode: SIMPLE` with certificate files, `httpsRedirect`, and a credentialName that is not served in plaintext. */
import * as https from 'node:https';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { loadYaml } from '../../../api';
import { CertificateAuthority } from '../../../runtime/control/ca';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { freePort } from '../../../runtime/local/local-mesh';
import { certificateRequest, generateKeys, privateKeyPem } from '../../../runtime/contract/x509';
import { backend, get } from '../../support/proxy';
import { gatewayServersDoc } from '../../support/mesh-yaml';
import { tempDir } from '../../support/temp-dir';
import { gatewayConfig, innerServer, innerService, secureRoute, webService } from './gateway-fixtures';

/** The alpha.example.com routes bound to the `edge` Gateway: everything to the `web` service. */
const edgeRoutes = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge, namespace: default }
spec: { hosts: [alpha.example.com], gateways: [edge], http: [{ route: [{ destination: { host: web } }] }] }`;

test('HTTPS terminated with the Gateway certificate files; HTTP redirected; a credentialName server waits for its Secret (never plaintext), then serves it and its renewals', async () => {
  const dir = tempDir('mast-gw-tls-');
  const ca = await CertificateAuthority.generate('cluster.local');
  const keys = await generateKeys();
  const issued = await ca.sign(await certificateRequest(keys), { namespace: 'mast-system', serviceAccount: 'gw' });
  writeFileSync(join(dir, 'cert.pem'), issued.certificate);
  writeFileSync(join(dir, 'key.pem'), await privateKeyPem(keys));
  const web = await backend('web');
  const mesh = loadYaml(`
${gatewayServersDoc([
  `{ port: { number: 80, name: http, protocol: HTTP }, hosts: [alpha.example.com], tls: { httpsRedirect: true } }`,
  `{ port: { number: 443, name: https, protocol: HTTPS }, hosts: [alpha.example.com], tls: { mode: SIMPLE, serverCertificate: ${join(dir, 'cert.pem')}, privateKey: ${join(dir, 'key.pem')} } }`,
  `{ port: { number: 8443, name: https-2, protocol: HTTPS }, hosts: [alpha.example.com], tls: { mode: SIMPLE, credentialName: alpha-cert } }`,
])}
---
${edgeRoutes}
---
${webService(web.port)}
`).objects;
  const config = gatewayConfig(mesh, { 80: await freePort(), 443: await freePort(), 8443: await freePort() });
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' });
  proxy.credentialsDir = join(dir, 'credentials');
  const applied = await proxy.apply(config);
  expect(applied).toMatchObject({ ok: true });
  try {
    expect(proxy.skipped).toEqual([
      expect.stringMatching(
        /^0\.0\.0\.0_8443 server https\.8443\.https-2\.edge\.default: TLS credentialName "alpha-cert": no Secret with cert\/key or tls\.crt\/tls\.key in .*credentials\/alpha-cert .*; not served$/,
      ),
    ]);
    expect(proxy.boundPort('0.0.0.0_8443')).toBeUndefined();
    const plain = await get(proxy.boundPort('0.0.0.0_80')!, '/page?x=1');
    expect(plain).toMatchObject({ status: 301, headers: { location: 'https://alpha.example.com/page?x=1' } });
    const secure = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.get(
        {
          host: '127.0.0.1',
          port: proxy.boundPort('0.0.0.0_443'),
          path: '/hello',
          servername: 'alpha.example.com',
          headers: { host: 'alpha.example.com' },
          ca: issued.root,
          checkServerIdentity: () => undefined,
          agent: false,
        },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
    });
    expect(secure).toEqual({ status: 200, body: 'web /hello' });
    // The credentialName Secret, mounted as kubelet does (tls.crt, tls.key): the listener comes up.
    const certOf = async (name: string) => {
      const k = await generateKeys();
      const c = await ca.sign(await certificateRequest(k), { namespace: 'mast-system', serviceAccount: name });
      return { cert: c.certificate, key: await privateKeyPem(k) };
    };
    const mount = (pair: { cert: string; key: string }) => {
      mkdirSync(join(dir, 'credentials', 'alpha-cert'), { recursive: true });
      writeFileSync(join(dir, 'credentials', 'alpha-cert', 'tls.crt'), pair.cert);
      writeFileSync(join(dir, 'credentials', 'alpha-cert', 'tls.key'), pair.key);
    };
    const servedBy = () =>
      new Promise<string>((resolve, reject) => {
        const s = tlsConnect(
          {
            host: '127.0.0.1',
            port: proxy.boundPort('0.0.0.0_8443')!,
            servername: 'alpha.example.com',
            ca: issued.root,
            checkServerIdentity: () => undefined,
          },
          () => {
            resolve(s.getPeerCertificate().subjectaltname ?? '');
            s.destroy();
          },
        );
        s.on('error', reject);
      });
    mount(await certOf('first'));
    expect(await proxy.reloadCredentials()).toBe(true);
    expect(proxy.skipped).toEqual([]);
    expect(await servedBy()).toBe('URI:spiffe://cluster.local/ns/mast-system/sa/first');
    // Renewed on disk (cert-manager, kubelet): new connections get the new certificate.
    mount(await certOf('renewed'));
    expect(await proxy.reloadCredentials()).toBe(true);
    expect(await servedBy()).toBe('URI:spiffe://cluster.local/ns/mast-system/sa/renewed');
    expect(await proxy.reloadCredentials()).toBe(false);
    expect(web.seen.at(-1)?.headers['x-forwarded-proto']).toBe('https');
    // A certificate file that cannot be read is a NACK that names the listener: the last good config stays.
    const broken = {
      ...config,
      version: 'v2',
      listeners: config.listeners.map((l) =>
        l.tlsServers
          ? { ...l, tlsServers: l.tlsServers.map((s) => ({ ...s, tls: { ...s.tls, certificateFile: join(dir, 'missing.pem') } })) }
          : l,
      ),
    };
    expect(await proxy.apply(broken)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^listener 0\.0\.0\.0_443 server https\.443\.https\.edge\.default: cannot load its certificate: ENOENT/),
    });
    expect(proxy.config?.version).toBe('v1');
  } finally {
    await proxy.drain(50);
    await web.close();
  }
});

test('MUTUAL: only clients with a certificate from caCertificates get through; PASSTHROUGH: routed by server name, TLS untouched', async () => {
  const dir = tempDir('mast-gw-mtls-');
  const ca = await CertificateAuthority.generate('cluster.local');
  const issue = async (name: string) => {
    const keys = await generateKeys();
    const cert = await ca.sign(await certificateRequest(keys), { namespace: 'default', serviceAccount: name });
    writeFileSync(join(dir, `${name}.pem`), cert.certificate);
    writeFileSync(join(dir, `${name}-key.pem`), await privateKeyPem(keys));
    return { cert: cert.certificate, key: await privateKeyPem(keys), root: cert.root };
  };
  const server = await issue('gw');
  const client = await issue('client');
  writeFileSync(join(dir, 'ca.pem'), server.root);
  const web = await backend('web');
  // Behind the passthrough port: a TLS server of its own, which the gateway never decrypts.
  const { server: inner, port: innerPort } = await innerServer(await issue('inner2'));
  const mesh = loadYaml(`
${gatewayServersDoc([
  `{ port: { number: 443, name: https, protocol: HTTPS }, hosts: [alpha.example.com], tls: { mode: MUTUAL, serverCertificate: ${join(dir, 'gw.pem')}, privateKey: ${join(dir, 'gw-key.pem')}, caCertificates: ${join(dir, 'ca.pem')} } }`,
  `{ port: { number: 9443, name: tls, protocol: TLS }, hosts: [secure.example.com], tls: { mode: PASSTHROUGH } }`,
])}
---
${edgeRoutes}
---
${secureRoute(9443)}
---
${webService(web.port)}
---
${innerService(innerPort)}
`).objects;
  const config = gatewayConfig(mesh, { 443: await freePort(), 9443: await freePort() });
  expect(config.listeners.find((l) => l.matchPort === 9443)).toMatchObject({
    protocol: 'tcp',
    sniRoutes: [
      { sniHosts: ['secure.example.com'], destinations: [{ cluster: 'outbound|443||inner.default.svc.cluster.local', weight: 100 }] },
    ],
  });
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' });
  expect(await proxy.apply(config)).toMatchObject({ ok: true });
  const call = (port: number, options: https.RequestOptions) =>
    new Promise<string>((resolve) => {
      const req = https.get(
        {
          host: '127.0.0.1',
          port,
          path: '/',
          headers: { host: 'alpha.example.com' },
          servername: 'alpha.example.com',
          checkServerIdentity: () => undefined,
          agent: false,
          ...options,
        },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        },
      );
      req.on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
  try {
    const mutualPort = proxy.boundPort('0.0.0.0_443')!;
    expect(await call(mutualPort, { ca: server.root })).toMatch(/^error /);
    expect(await call(mutualPort, { ca: server.root, cert: client.cert, key: client.key })).toBe('200 web /');
    const sniPort = proxy.boundPort('0.0.0.0_9443')!;
    // The certificate the client sees is the inner server's own: the gateway did not terminate TLS.
    const seen = await new Promise<string>((resolve) => {
      const req = https.get(
        {
          host: '127.0.0.1',
          port: sniPort,
          servername: 'secure.example.com',
          path: '/',
          ca: server.root,
          checkServerIdentity: () => undefined,
          agent: false,
        },
        (res) => {
          const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve(`${body} (${peer.subjectaltname})`));
        },
      );
      req.on('error', (err) => resolve(`error ${err.message}`));
    });
    expect(seen).toBe('inner, end to end (URI:spiffe://cluster.local/ns/default/sa/inner2)');
    expect(await call(sniPort, { servername: 'other.example.com', ca: server.root })).toMatch(/^error /);
  } finally {
    await proxy.drain(50);
    await web.close();
    inner.close();
  }
});
