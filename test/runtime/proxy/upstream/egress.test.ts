/**
 * Egress to a service outside the mesh: a ServiceEntry resolved by DNS (the proxy connects to
 * its host name), and TLS originated by the proxy from a DestinationRule (`tls.mode: SIMPLE` or
 * `MUTUAL`), so an app can call http://api.example.org and the request leaves as HTTPS.
 */
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadYaml, validate } from '../../../../api';
import { CertificateAuthority } from '../../../../runtime/control/ca';
import { buildIndex, compile, makeSnapshot } from '../../../../runtime/compile';
import type { ClusterConfig, OriginateTls } from '../../../../runtime/contract/proxy-config';
import { certificateRequest, generateKeys, privateKeyPem } from '../../../../runtime/contract/x509';
import { DEFAULT_LIMITS } from '../../../../runtime/proxy/http/head';
import { MeshProxy } from '../../../../runtime/proxy/mesh-proxy';
import { freePort } from '../../../../runtime/local/local-mesh';
import { cluster, config, forward, get, stoppedAfterEach, until } from '../../../support/proxy';
import { tempDir } from '../../../support/temp-dir';

const { proxyFor, stopAfter } = stoppedAfterEach();

const EGRESS = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.org]
  ports: [{ number: 80, name: http, protocol: HTTP }, { number: 443, name: https, protocol: HTTPS }]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api-over-tls, namespace: default }
spec:
  hosts: [api.example.org]
  http: [{ match: [{ port: 80 }], route: [{ destination: { host: api.example.org, port: { number: 443 } } }] }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api-tls, namespace: default }
spec:
  host: api.example.org
  trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls: { mode: SIMPLE } }] }
`;

describe('compiled for a sidecar', () => {
  const objects = loadYaml(EGRESS).objects;
  const sidecar = compile(buildIndex(makeSnapshot(objects, 'v1')), { mode: 'sidecar', namespace: 'default', labels: { app: 'web' } });
  const clusterOf = (name: string) => sidecar.clusters.find((c) => c.name === name);

  test('the mesh is valid', () => {
    expect(validate(objects).filter((f) => f.severity === 'Error')).toEqual([]);
  });

  test('a DNS ServiceEntry without endpoints: its host is the endpoint', () => {
    expect(clusterOf('outbound|443||api.example.org')?.endpoints).toEqual([{ address: 'api.example.org', port: 443, labels: {} }]);
  });

  test('a call to port 80 goes to the 443 cluster, which originates TLS with the host as SNI', () => {
    const http = sidecar.listeners.find((l) => l.name === 'outbound_80')!;
    const route = http.virtualHosts!.flatMap((vh) => vh.routes).find((r) => r.action.kind === 'forward')!;
    expect(route.action).toMatchObject({ destinations: [{ cluster: 'outbound|443||api.example.org' }] });
    expect(clusterOf('outbound|443||api.example.org')?.originate).toEqual({ mode: 'SIMPLE', sni: 'api.example.org' });
    // Without the DestinationRule: plain text, as the app sent it.
    const plain = compile(
      buildIndex(
        makeSnapshot(
          objects.filter((o) => o.kind !== 'DestinationRule'),
          'v1',
        ),
      ),
      { mode: 'sidecar', namespace: 'default', labels: { app: 'web' } },
    );
    expect(plain.clusters.find((c) => c.name === 'outbound|443||api.example.org')?.originate).toBeUndefined();
  });

  test('STATIC without endpoints has none (only DNS resolution stands for its host)', () => {
    const statics = loadYaml(EGRESS.replace('resolution: DNS', 'resolution: STATIC')).objects;
    const config443 = compile(buildIndex(makeSnapshot(statics, 'v1')), {
      mode: 'sidecar',
      namespace: 'default',
      labels: { app: 'web' },
    }).clusters.find((c) => c.name === 'outbound|443||api.example.org');
    expect(config443?.endpoints).toEqual([]);
  });
});

describe('at runtime, against an HTTPS server on localhost (resolved by name)', () => {
  const dir = tempDir('mast-egress-');
  let port: number;
  let seen: Array<{ host?: string; url?: string; client?: string }>;
  const files = {
    ca: join(dir, 'ca.pem'),
    otherCa: join(dir, 'other-ca.pem'),
    cert: join(dir, 'client.pem'),
    key: join(dir, 'client-key.pem'),
  };

  beforeAll(async () => {
    const ca = await CertificateAuthority.generate('cluster.local');
    const other = await CertificateAuthority.generate('cluster.local');
    const served = await ca.serving(['api.test'], []);
    const clientKeys = await generateKeys();
    const client = await ca.sign(await certificateRequest(clientKeys), { namespace: 'default', serviceAccount: 'web' });
    writeFileSync(files.ca, ca.rootPem);
    writeFileSync(files.otherCa, other.rootPem);
    writeFileSync(files.cert, client.certificate);
    writeFileSync(files.key, await privateKeyPem(clientKeys));
    seen = [];
    // Asks for a client certificate and records it; answers without one too (the MUTUAL case checks what it saw).
    const server = https.createServer(
      { cert: served.certificate, key: served.key, ca: ca.rootPem, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
        seen.push({ host: req.headers.host, url: req.url, client: peer?.subjectaltname });
        res.end(`tls ${req.url}`);
      },
    );
    await new Promise<void>((r) => server.listen(0, r)); // every address: localhost may be ::1 or 127.0.0.1
    port = (server.address() as AddressInfo).port;
    stopAfterAll = () => new Promise((r) => (server.closeAllConnections(), server.close(() => r())));
  });
  let stopAfterAll: () => Promise<void>;
  afterAll(() => stopAfterAll());

  const through = async (originate: OriginateTls, extra: Partial<ClusterConfig> = {}) => {
    const api = cluster('api', [], { endpoints: [{ address: 'localhost', port }], originate, ...extra });
    const { port: listen } = await proxyFor(config([forward('api')], [api]));
    return get(listen, '/v1/items', { host: 'alpha.example.com' });
  };

  test('SIMPLE: the request leaves as HTTPS, the certificate verified against the rule’s CA for the SNI', async () => {
    expect(await through({ mode: 'SIMPLE', sni: 'api.test', caCertificates: files.ca })).toMatchObject({
      status: 200,
      body: 'tls /v1/items',
    });
    expect(seen.at(-1)).toMatchObject({ host: 'alpha.example.com', url: '/v1/items' });
    expect(seen.at(-1)?.client).toBeUndefined();
  });

  test('a certificate from another CA, or naming another host, is refused (503); insecureSkipVerify takes it', async () => {
    expect((await through({ mode: 'SIMPLE', sni: 'api.test', caCertificates: files.otherCa })).status).toBe(503);
    expect((await through({ mode: 'SIMPLE', sni: 'other.test', caCertificates: files.ca })).status).toBe(503);
    expect((await through({ mode: 'SIMPLE', sni: 'api.test', caCertificates: files.ca, subjectAltNames: ['other.test'] })).status).toBe(
      503,
    );
    expect((await through({ mode: 'SIMPLE', sni: 'other.test', caCertificates: files.ca, subjectAltNames: ['api.test'] })).status).toBe(
      200,
    );
    expect((await through({ mode: 'SIMPLE', sni: 'api.test', caCertificates: files.otherCa, insecureSkipVerify: true })).status).toBe(200);
  });

  test("a refused certificate, or a refused connection, is the access log's %UPSTREAM_TRANSPORT_FAILURE_REASON% (Node's code)", async () => {
    const log = join(tempDir('mast-egress-log-'), 'access.log');
    const logged = async (api: ClusterConfig) => {
      const { port: listen } = await proxyFor({
        ...config([forward('api')], [api]),
        accessLogs: {
          server: [],
          client: [{ provider: 'f', path: log, format: { text: '%RESPONSE_FLAGS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%"\n' } }],
        },
      });
      expect((await get(listen, '/v1/items', { host: 'alpha.example.com' })).status).toBe(503);
    };
    const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
    // The CA does not sign the server's certificate: the handshake fails, 503 UF, and why.
    await logged(
      cluster('api', [], {
        endpoints: [{ address: 'localhost', port }],
        originate: { mode: 'SIMPLE', sni: 'api.test', caCertificates: files.otherCa },
      }),
    );
    await until('the refused certificate logged', () => lines().length >= 1);
    expect(lines()[0]).toMatch(/^UF "(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)"$/);
    // Nothing listens: refused (retried, as Istio's default retry policy does, then given up).
    const closed = cluster('api', [await freePort()]);
    await logged(closed);
    await until('the refused connection logged', () => lines().length >= 2);
    expect(lines()[1]).toMatch(/^UF(,URX)? "ECONNREFUSED"$/);
  });

  test('MUTUAL: the proxy presents the rule’s client certificate', async () => {
    expect(
      (await through({ mode: 'MUTUAL', sni: 'api.test', caCertificates: files.ca, clientCertificate: files.cert, privateKey: files.key }))
        .status,
    ).toBe(200);
    expect(seen.at(-1)?.client).toBe('URI:spiffe://cluster.local/ns/default/sa/web');
  });

  test('MUTUAL with a credentialName: the client certificate and CA of that Secret as mounted; until it is there, 503', async () => {
    const credentials = join(dir, 'credentials');
    const proxy = new MeshProxy({ mode: 'gateway', workload: 'egress', namespace: 'mast-system' }, undefined, DEFAULT_LIMITS);
    proxy.credentialsDir = credentials;
    stopAfter(() => proxy.drain(100));
    const api = cluster('api', [], {
      endpoints: [{ address: 'localhost', port }],
      originate: { mode: 'MUTUAL', sni: 'api.test', credentialName: 'client-credential' },
    });
    const applied = await proxy.apply(config([forward('api')], [api]));
    expect(applied.ok).toBe(true);
    const listen = proxy.boundPort('l')!;
    const before = seen.length;
    expect((await get(listen, '/v1/items', { host: 'alpha.example.com' })).status).toBe(503);
    expect(seen.length).toBe(before);
    // kubelet mounts the Secret (kubernetes.io/tls form with ca.crt): the next connection uses it.
    mkdirSync(join(credentials, 'client-credential'), { recursive: true });
    for (const [key, file] of [
      ['tls.crt', files.cert],
      ['tls.key', files.key],
      ['ca.crt', files.ca],
    ])
      writeFileSync(join(credentials, 'client-credential', key), readFileSync(file));
    expect(await get(listen, '/v1/items', { host: 'alpha.example.com' })).toMatchObject({ status: 200, body: 'tls /v1/items' });
    expect(seen.at(-1)?.client).toBe('URI:spiffe://cluster.local/ns/default/sa/web');
  });

  test('a certificate file that is not there fails the request (503), not the proxy', async () => {
    expect((await through({ mode: 'SIMPLE', sni: 'api.test', caCertificates: join(dir, 'missing.pem') })).status).toBe(503);
  });

  test('a host name that does not resolve: 503', async () => {
    const api = cluster('api', [], {
      endpoints: [{ address: 'no-such-host.invalid', port }],
      originate: { mode: 'SIMPLE', sni: 'api.test', caCertificates: files.ca },
    });
    const { port: listen } = await proxyFor(config([forward('api')], [api]));
    expect((await get(listen, '/', { host: 'alpha.example.com' })).status).toBe(503);
  });
});
