/**
 * Attacks on peer verification (issue 19, finding 1): a sidecar's inbound mTLS and a Gateway's
 * `tls.mode: MUTUAL` take only clients whose chain verifies against the mesh root (sidecar) or the
 * Gateway's `caCertificates`; a certificate from another CA, a self-signed one, an expired one or
 * none is closed before any byte reaches the app, and AuthorizationPolicy sees only verified
 * identities. Each case: real proxies on loopback, a backend that records every request line.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadYaml } from '../../api';
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';
import { simulate } from '../../runtime/proxy/simulate';
import { MeshProxy } from '../../runtime/proxy/mesh-proxy';
import type { AuthzConfig } from '../../runtime/contract/authz';
import type { ListenerConfig, ProxyConfig } from '../../runtime/contract/proxy-config';
import * as tls from 'node:tls';
import { DEFAULT_LIMITS } from '../../runtime/proxy/http/head';
import { peerIdentity } from '../../runtime/contract/spiffe';
import { tempDir } from '../support/temp-dir';
import { gatewayServersDoc, serviceEntryDoc } from '../support/mesh-yaml';
import { loopbackCluster, oneRoute } from './configs';
import { get } from '../support/proxy';
import { lenientBackend, type LenientBackend } from './support';
import { foreignCa, meshCa, selfSigned, tlsRequest, workload, type KeyPair } from './pki';

const FRONT = 'spiffe://cluster.local/ns/shop/sa/front';

const refused = (reply: string) => !reply.startsWith('HTTP/1.1 200');

/** A sidecar's inbound to `app`, under `mtls`, with these policies. */
function inboundConfig(appPort: number, mtls: ListenerConfig['mtls'], authz?: AuthzConfig): ProxyConfig {
  const listener = {
    name: 'virtualInbound',
    trafficDirection: 'INBOUND' as const,
    port: 0,
    matchPort: appPort,
    mtls,
    ...(authz ? { authz } : {}),
  };
  return oneRoute(listener, loopbackCluster('inbound', '127.0.0.1', appPort));
}

let dir: string;
let app: LenientBackend;
let ca: Awaited<ReturnType<typeof meshCa>>;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  dir = tempDir('mast-mtls-attack-');
  ca = await meshCa();
});
beforeEach(async () => {
  app = await lenientBackend();
});
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await app.close();
});

async function sidecar(config: ProxyConfig): Promise<number> {
  const proxy = new MeshProxy({ mode: 'sidecar', workload: 'cart', namespace: 'shop' });
  proxy.setCertificate(await workload(ca, 'shop', 'cart'));
  expect(await proxy.apply(config)).toMatchObject({ ok: true });
  stops.push(() => proxy.drain(50));
  return proxy.boundPort('virtualInbound')!;
}

describe('sidecar inbound mTLS', () => {
  const onlyFront: AuthzConfig = {
    deny: [],
    allow: [{ name: 'shop/front-only[0]', from: [{ principals: ['cluster.local/ns/shop/sa/front'] }] }],
  };

  test('a peer with a mesh certificate gets through, and AuthorizationPolicy sees its verified identity', async () => {
    const port = await sidecar(inboundConfig(app.port, 'STRICT', onlyFront));
    expect(await tlsRequest(port, await workload(ca, 'shop', 'front'), ca.rootPem)).toMatch(/^HTTP\/1\.1 200/);
    // A mesh identity the policy does not name is denied by the policy (403), not by TLS.
    expect(await tlsRequest(port, await workload(ca, 'shop', 'other'), ca.rootPem)).toMatch(/^HTTP\/1\.1 403/);
    expect(app.lines()).toEqual(['GET /orders HTTP/1.1']);
  });

  test.each(['STRICT', 'PERMISSIVE'] as const)(
    '%s: a certificate from a foreign CA, a self-signed one, an expired one or none reach nothing',
    async (mode) => {
      const port = await sidecar(inboundConfig(app.port, mode, onlyFront));
      const attacker = foreignCa(dir).issue(`foreign-${mode}`, FRONT);
      const forged = selfSigned(dir, `self-${mode}`, FRONT);
      const expired = await workload(ca, 'shop', 'front', -30_000);
      // An attacker's own "mesh CA": the same subject as the mesh root (it is no secret), another key.
      const lookalike = await workload(await meshCa(), 'shop', 'front');
      // The attacker trusts its own CA and sends it along as the chain: still not the mesh root.
      expect(refused(await tlsRequest(port, { key: attacker.key, cert: attacker.cert + foreignCa(dir).cert }, ca.rootPem))).toBe(true);
      expect(refused(await tlsRequest(port, attacker, ca.rootPem))).toBe(true);
      expect(refused(await tlsRequest(port, forged, ca.rootPem))).toBe(true);
      expect(refused(await tlsRequest(port, expired, ca.rootPem))).toBe(true);
      expect(refused(await tlsRequest(port, lookalike, ca.rootPem))).toBe(true);
      expect(refused(await tlsRequest(port, {}, ca.rootPem))).toBe(true);
      expect(app.seen).toEqual([]);
      // And the proxy is still there for its mesh peers.
      expect(await tlsRequest(port, await workload(ca, 'shop', 'front'), ca.rootPem)).toMatch(/^HTTP\/1\.1 200/);
    },
  );

  test('without any policy, a forged identity is still refused (the chain, not the policy, decides)', async () => {
    const port = await sidecar(inboundConfig(app.port, 'STRICT'));
    expect(refused(await tlsRequest(port, selfSigned(dir, 'self-nopolicy', FRONT), ca.rootPem))).toBe(true);
    expect(await tlsRequest(port, await workload(ca, 'shop', 'anyone'), ca.rootPem)).toMatch(/^HTTP\/1\.1 200/);
    expect(app.lines()).toEqual(['GET /orders HTTP/1.1']);
  });

  test("the mesh's meshMTLS.minProtocolVersion TLSV1_3: a TLS 1.2 client is refused, TLS 1.3 passes (Istio's workload-min-tls-version task, with its openssl s_client -alpn istio: an ALPN list without h2 or http/1.1 still completes the handshake, as Envoy's)", async () => {
    const port = await sidecar({ ...inboundConfig(app.port, 'STRICT'), meshTlsMinVersion: 'TLSv1.3' });
    const client = await workload(ca, 'shop', 'front');
    const certFile = join(dir, 'front-tls13.pem');
    const keyFile = join(dir, 'front-tls13.key');
    writeFileSync(certFile, client.cert);
    writeFileSync(keyFile, client.key);
    // The proxy runs in this process: openssl is run asynchronously, so the event loop serves its handshake.
    const sClient = (version: string) =>
      new Promise<{ stdout: string; status: number | null }>((resolve) => {
        const args = ['s_client', '-alpn', 'istio', version, '-connect', `127.0.0.1:${port}`, '-cert', certFile, '-key', keyFile];
        const child = execFile('openssl', args, { timeout: 10_000 }, (_err, stdout) => resolve({ stdout, status: child.exitCode }));
        child.stdin?.end();
      });
    const v13 = await sClient('-tls1_3');
    expect(v13.stdout).toMatch(/Protocol\s*:\s*TLSv1\.3|New, TLSv1\.3/);
    const v12 = await sClient('-tls1_2');
    // The handshake fails: no cipher agreed (openssl prints the version it offered in its session block either way).
    expect(v12.stdout).toMatch(/New, \(NONE\), Cipher is \(NONE\)/);
    expect(v12.status).not.toBe(0);
    // Node's client held to TLS 1.2 is refused too; one allowed 1.3 gets through.
    expect(refused(await tlsRequest(port, client, ca.rootPem, '/orders', '', 'TLSv1.2'))).toBe(true);
    expect(await tlsRequest(port, client, ca.rootPem)).toMatch(/^HTTP\/1\.1 200/);
  });

  test('after a root rotation (a bundle of old and new roots) peers of either root get through, others not', async () => {
    const next = await meshCa();
    const proxy = new MeshProxy({ mode: 'sidecar', workload: 'cart', namespace: 'shop' });
    const own = await workload(next, 'shop', 'cart');
    proxy.setCertificate({ ...own, root: `${ca.rootPem}\n${next.rootPem}\n` });
    expect(await proxy.apply(inboundConfig(app.port, 'STRICT'))).toMatchObject({ ok: true });
    stops.push(() => proxy.drain(50));
    const port = proxy.boundPort('virtualInbound')!;
    expect(await tlsRequest(port, await workload(ca, 'shop', 'old'), next.rootPem)).toMatch(/^HTTP\/1\.1 200/);
    expect(await tlsRequest(port, await workload(next, 'shop', 'new'), next.rootPem)).toMatch(/^HTTP\/1\.1 200/);
    expect(refused(await tlsRequest(port, await workload(await meshCa(), 'shop', 'stranger'), next.rootPem))).toBe(true);
    expect(app.seen).toHaveLength(2);
  });
});

describe('gateway tls.mode', () => {
  async function gateway(mode: 'SIMPLE' | 'MUTUAL'): Promise<{ port: number; server: KeyPair }> {
    const server = await workload(ca, 'mast-system', 'gw');
    writeFileSync(join(dir, 'gw.pem'), server.cert);
    writeFileSync(join(dir, 'gw-key.pem'), server.key);
    writeFileSync(join(dir, 'clients-ca.pem'), ca.rootPem);
    const clientCas = mode === 'MUTUAL' ? { caFile: join(dir, 'clients-ca.pem') } : {};
    const tls = { certificateFile: join(dir, 'gw.pem'), keyFile: join(dir, 'gw-key.pem'), mode, ...clientCas };
    const config = oneRoute({ name: 'l', port: 0, matchPort: 443, tls }, loopbackCluster('app', 'app.default.svc.cluster.local', app.port));
    const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' });
    expect(await proxy.apply(config)).toMatchObject({ ok: true });
    stops.push(() => proxy.drain(50));
    return { port: proxy.boundPort('l')!, server };
  }

  test('MUTUAL: a client certificate from caCertificates gets through; a foreign, self-signed, expired one or none do not', async () => {
    const { port } = await gateway('MUTUAL');
    expect(await tlsRequest(port, await workload(ca, 'partners', 'acme'), ca.rootPem)).toMatch(/^HTTP\/1\.1 200/);
    expect(refused(await tlsRequest(port, foreignCa(dir).issue('gw-foreign', FRONT), ca.rootPem))).toBe(true);
    expect(refused(await tlsRequest(port, selfSigned(dir, 'gw-self', FRONT), ca.rootPem))).toBe(true);
    expect(refused(await tlsRequest(port, await workload(ca, 'partners', 'acme', -30_000), ca.rootPem))).toBe(true);
    expect(refused(await tlsRequest(port, await workload(await meshCa(), 'partners', 'acme'), ca.rootPem))).toBe(true);
    expect(refused(await tlsRequest(port, {}, ca.rootPem))).toBe(true);
    expect(app.lines()).toEqual(['GET /orders HTTP/1.1']);
  });

  test('SIMPLE: no client certificate asked for', async () => {
    const { port } = await gateway('SIMPLE');
    expect(await tlsRequest(port, {}, ca.rootPem)).toMatch(/^HTTP\/1\.1 200/);
    expect(app.lines()).toEqual(['GET /orders HTTP/1.1']);
  });
});

describe('sidecar outbound mTLS: the server must be the destination', () => {
  const CART = 'outbound|80||cart.shop.svc.cluster.local';

  /** A sidecar whose app calls cart: ISTIO_MUTUAL to `serverPort`, expecting these identities. */
  async function client(serverPort: number, identities?: string[]): Promise<number> {
    const cluster = loopbackCluster(CART, 'cart.shop.svc.cluster.local', serverPort, {
      port: 80,
      tls: 'ISTIO_MUTUAL',
      ...(identities ? { identities } : {}),
    });
    const config = oneRoute({ name: 'l', port: 0, matchPort: 80 }, cluster);
    const proxy = new MeshProxy({ mode: 'sidecar', workload: 'front', namespace: 'shop' });
    proxy.setCertificate(await workload(ca, 'shop', 'front'));
    expect(await proxy.apply(config)).toMatchObject({ ok: true });
    stops.push(() => proxy.drain(50));
    return proxy.boundPort('l')!;
  }

  /** The server side: a real sidecar in front of the app, with this certificate (and the mesh root). */
  async function server(certificate: KeyPair): Promise<number> {
    const proxy = new MeshProxy({ mode: 'sidecar', workload: 'cart', namespace: 'shop' });
    proxy.setCertificate({
      key: certificate.key,
      certificate: certificate.cert,
      root: ca.rootPem,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(await proxy.apply(inboundConfig(app.port, 'STRICT'))).toMatchObject({ ok: true });
    stops.push(() => proxy.drain(50));
    return proxy.boundPort('virtualInbound')!;
  }

  const call = async (port: number) => (await get(port, '/orders')).status;

  test('the destination’s own identity: the request goes through', async () => {
    expect(await call(await client(await server(await workload(ca, 'shop', 'cart')), ['ns/shop/sa/cart']))).toBe(200);
    expect(app.lines()).toEqual(['GET /orders HTTP/1.1']);
  });

  test('a mesh certificate of another service account, a foreign CA’s or a self-signed one claiming cart: 503, nothing sent', async () => {
    const cartId = 'spiffe://cluster.local/ns/shop/sa/cart';
    expect(await call(await client(await server(await workload(ca, 'shop', 'evil')), ['ns/shop/sa/cart']))).toBe(503);
    expect(await call(await client(await server(foreignCa(dir).issue('srv-foreign', cartId)), ['ns/shop/sa/cart']))).toBe(503);
    expect(await call(await client(await server(selfSigned(dir, 'srv-self', cartId)), ['ns/shop/sa/cart']))).toBe(503);
    // Without identities (no endpoint names a service account, as Istio) the chain alone decides.
    expect(await call(await client(await server(foreignCa(dir).issue('srv-foreign2', cartId))))).toBe(503);
    expect(app.seen).toEqual([]);
  });
});

describe('the identities compiled for a cluster', () => {
  const identities = (extra: string, more: object[] = []) => {
    const objects = [...loadYaml(serviceEntryDoc({ name: 'cart', namespace: 'shop', specLines: extra })).objects, ...(more as never[])];
    const config = compile(buildIndex(makeSnapshot(objects, 'v1')), { mode: 'sidecar', namespace: 'shop', labels: { app: 'front' } });
    return config.clusters.find((c) => c.name === 'outbound|80||cart.shop.svc.cluster.local')?.identities;
  };

  test.each([
    [
      'endpoints with service accounts',
      '  endpoints: [{ address: 10.0.0.1, serviceAccount: cart }, { address: 10.0.0.2, serviceAccount: v2 }]',
      ['ns/shop/sa/cart', 'ns/shop/sa/v2'],
    ],
    [
      'SPIFFE subjectAltNames (the trust domain dropped)',
      '  endpoints: [{ address: 10.0.0.1 }]\n  subjectAltNames: [spiffe://td/ns/shop/sa/cart, a.example]',
      ['ns/shop/sa/cart'],
    ],
    ['none named: unchecked, as Istio', `  endpoints: [{ address: 10.0.0.1 }]`, undefined],
  ])('%s', (_name, extra, expected) => {
    expect(identities(extra)).toEqual(expected);
  });

  test('WorkloadEntries and Pods behind EndpointSlices', () => {
    const spec = { address: '10.0.0.3', labels: { app: 'cart' }, serviceAccount: 'cart-vm' };
    const we = { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: 'vm', namespace: 'shop' }, spec };
    expect(identities('  workloadSelector: { labels: { app: cart } }', [we])).toEqual(['ns/shop/sa/cart-vm']);
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'cart', namespace: 'shop' },
      spec: { ports: [{ name: 'http', port: 80 }] },
    };
    const podNamed = (name: string, spec: object) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'shop', labels: { app: 'cart' } },
      spec,
    });
    const pod = podNamed('cart-1', { serviceAccountName: 'cart-sa' });
    const podDefault = podNamed('cart-2', {});
    const slice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'cart-abc', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'cart' } },
      ports: [{ name: 'http', port: 8080 }],
      endpoints: [
        { addresses: ['10.0.0.4'], targetRef: { kind: 'Pod', name: 'cart-1' } },
        { addresses: ['10.0.0.5'], targetRef: { kind: 'Pod', name: 'cart-2' } },
      ],
    };
    const objects = [service, pod, podDefault, slice] as never[];
    const config = compile(buildIndex(makeSnapshot(objects, 'v1')), { mode: 'sidecar', namespace: 'shop', labels: { app: 'front' } });
    expect(config.clusters.find((c) => c.host === 'cart.shop.svc.cluster.local')?.identities).toEqual([
      'ns/shop/sa/cart-sa',
      'ns/shop/sa/default',
    ]);
  });
});

test('a port with a SIMPLE and a MUTUAL server: each its own TLS settings by SNI, and the MUTUAL host is never routed over the SIMPLE server’s connection', () => {
  const mesh = loadYaml(`
${gatewayServersDoc([
  `{ port: { number: 443, name: https-a, protocol: HTTPS }, hosts: [a.example.com], tls: { mode: SIMPLE, credentialName: a-cert } }`,
  `{ port: { number: 443, name: https-b, protocol: HTTPS }, hosts: [b.example.com], tls: { mode: MUTUAL, credentialName: b-cert } }`,
])}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: web, namespace: default }
spec: { hosts: [web.default.svc.cluster.local], ports: [{ number: 80, name: http, protocol: HTTP }], resolution: STATIC, endpoints: [{ address: 10.0.0.1 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: both, namespace: default }
spec: { hosts: [a.example.com, b.example.com], gateways: [edge], http: [{ route: [{ destination: { host: web } }] }] }
`).objects;
  const config = compile(buildIndex(makeSnapshot(mesh, 'v1')), {
    mode: 'gateway',
    namespace: 'mast-system',
    labels: { istio: 'ingressgateway' },
  });
  const listener = config.listeners.find((l) => l.matchPort === 443);
  expect(listener?.tls).toBeUndefined();
  expect(listener?.tlsServers?.map((s) => [s.serverNames, s.tls])).toEqual([
    [['a.example.com'], { credentialName: 'a-cert' }],
    [['b.example.com'], { credentialName: 'b-cert', mode: 'MUTUAL' }],
  ]);
  expect(simulate(config, { port: 443, sni: 'b.example.com', host: 'b.example.com' })).toMatchObject({
    outcome: 'routed',
    tls: { mode: 'MUTUAL' },
  });
  expect(simulate(config, { port: 443, sni: 'a.example.com', host: 'b.example.com' })).toMatchObject({ outcome: 'no-route' });
  expect(simulate(config, { port: 443, host: 'b.example.com' })).toEqual({ outcome: 'no-server', listener: '0.0.0.0_443' });
});

test('a Gateway server mast does not terminate (AUTO_PASSTHROUGH, HTTPS without tls, ISTIO_MUTUAL on a TLS server) is not listened on, never served in plain text; ISTIO_MUTUAL on HTTPS is, with mesh mTLS', () => {
  const server = (port: number, tls: string) => `{ port: { number: ${port}, name: s${port}, protocol: HTTPS }, hosts: ['*']${tls} }`;
  const mesh = loadYaml(
    gatewayServersDoc([
      server(8443, ', tls: { mode: ISTIO_MUTUAL }'),
      server(9443, ', tls: { mode: OPTIONAL_MUTUAL, credentialName: c }'),
      server(10443, ''),
      server(443, ', tls: { mode: SIMPLE, credentialName: c }'),
      "{ port: { number: 15443, name: tls, protocol: TLS }, hosts: ['*.local'], tls: { mode: AUTO_PASSTHROUGH } }",
      "{ port: { number: 16443, name: tls-mesh, protocol: TLS }, hosts: ['*'], tls: { mode: ISTIO_MUTUAL } }",
    ]),
  ).objects;
  const config = compile(buildIndex(makeSnapshot(mesh, 'v1')), {
    mode: 'gateway',
    namespace: 'mast-system',
    labels: { istio: 'ingressgateway' },
  });
  expect(config.listeners.map((l) => [l.matchPort, l.tlsServers?.map((s) => s.tls.mode ?? 'SIMPLE')])).toEqual([
    [443, ['SIMPLE']],
    // The gateway's workload certificate, clients the mesh root signed only (accept.ts), never plain text.
    [8443, ['ISTIO_MUTUAL']],
    [9443, ['OPTIONAL_MUTUAL']],
  ]);
});

test('the identity is read from a URI SAN only: "URI:spiffe://…" inside a DNS name is no identity', () => {
  expect(peerIdentity('DNS:xURI:spiffe://cluster.local/ns/admin/sa/root')).toBeUndefined();
  const front = { principal: 'cluster.local/ns/shop/sa/front', namespace: 'shop' };
  expect(peerIdentity('DNS:a.example, URI:spiffe://cluster.local/ns/shop/sa/front')).toEqual(front);
  expect(peerIdentity('URI:"spiffe://cluster.local/ns/shop/sa/a,b"')).toBeUndefined();
  // A quoted DNS name holding ", URI:spiffe://…" splits into a piece that looks like a URI entry.
  expect(peerIdentity('DNS:"a, URI:spiffe://cluster.local/ns/admin/sa/root"')).toBeUndefined();
});

test('a verified peer that says nothing after its handshake is closed after the header timeout, as a plain-text one', async () => {
  const proxy = new MeshProxy({ mode: 'sidecar', workload: 'cart', namespace: 'shop' }, undefined, {
    ...DEFAULT_LIMITS,
    headerTimeoutMs: 200,
  });
  proxy.setCertificate(await workload(ca, 'shop', 'cart'));
  expect(await proxy.apply(inboundConfig(app.port, 'STRICT'))).toMatchObject({ ok: true });
  const peer = await workload(ca, 'shop', 'front');
  try {
    const closedAfter = await new Promise<number>((resolve) => {
      const t0 = Date.now();
      const port = proxy.boundPort('virtualInbound')!;
      const s = tls.connect({
        host: '127.0.0.1',
        port,
        ca: ca.rootPem,
        key: peer.key,
        cert: peer.cert,
        checkServerIdentity: () => undefined,
      });
      s.on('error', () => undefined);
      s.on('close', () => resolve(Date.now() - t0));
      setTimeout(() => s.destroy(), 3000);
    });
    expect(closedAfter).toBeLessThan(1500);
  } finally {
    await proxy.drain(50);
  }
});
