/**
 * x-forwarded-client-cert (issue 19, finding 7): a client cannot hand the app a certificate it does
 * not hold. The gateway drops a client-sent header (Istio's SANITIZE_SET, configurable as
 * `gatewayTopology.forwardClientCertDetails`) and describes only a verified client certificate;
 * sidecars add the verified mTLS peer (APPEND_FORWARD) and drop the header on plain text.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadYaml } from '../../api';
import { buildIndex, compile, makeSnapshot } from '../../runtime/compile';
import { MeshProxy } from '../../runtime/proxy/mesh-proxy';
import { xfccElement } from '../../runtime/proxy/xfcc';
import type { ProxyConfig } from '../../runtime/contract/proxy-config';
import { tempDir } from '../support/temp-dir';
import { get } from '../support/proxy';
import { lenientBackend, type LenientBackend } from './support';
import { loopbackCluster, oneRoute } from './configs';
import { meshCa, tlsRequest, workload } from './pki';

const FORGED = 'By=spiffe://cluster.local/ns/shop/sa/cart;Hash=00;Subject="";URI=spiffe://cluster.local/ns/admin/sa/root';
const forged = `x-forwarded-client-cert: ${FORGED}\r\n`;
const hashOf = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

let app: LenientBackend;
let ca: Awaited<ReturnType<typeof meshCa>>;
const stops: Array<() => Promise<void>> = [];
beforeAll(async () => {
  ca = await meshCa();
});
beforeEach(async () => {
  app = await lenientBackend();
});
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await app.close();
});

async function started(proxy: MeshProxy, config: ProxyConfig, listener: string): Promise<number> {
  expect(await proxy.apply(config)).toMatchObject({ ok: true });
  stops.push(() => proxy.drain(50));
  return proxy.boundPort(listener)!;
}

describe('gateway', () => {
  /** The gateway's listeners as mastd compiles them (so the default is Istio's), with these TLS files. */
  async function gateway(mode: 'plain' | 'MUTUAL', topology?: 'ALWAYS_FORWARD_ONLY'): Promise<number> {
    const dir = tempDir('mast-xfcc-');
    const server = await workload(ca, 'mast-system', 'gw');
    writeFileSync(join(dir, 'gw.pem'), server.cert);
    writeFileSync(join(dir, 'gw-key.pem'), server.key);
    writeFileSync(join(dir, 'ca.pem'), ca.rootPem);
    const files = `serverCertificate: ${join(dir, 'gw.pem')}, privateKey: ${join(dir, 'gw-key.pem')}, caCertificates: ${join(dir, 'ca.pem')}`;
    const tls = mode === 'MUTUAL' ? `, tls: { mode: MUTUAL, ${files} }` : '';
    const protocol = mode === 'plain' ? 'HTTP' : 'HTTPS';
    const mesh = loadYaml(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 443, name: web, protocol: ${protocol} }, hosts: ['*']${tls} }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge, namespace: default }
spec: { hosts: ['*'], gateways: [edge], http: [{ route: [{ destination: { host: app.default.svc.cluster.local } }] }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: app, namespace: default }
spec:
  hosts: [app.default.svc.cluster.local]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { http: ${app.port} } }]
`).objects;
    const gatewayTopology = topology ? { gatewayTopology: { forwardClientCertDetails: topology } } : {};
    const identity = {
      mode: 'gateway' as const,
      namespace: 'mast-system',
      labels: { istio: 'ingressgateway' },
      portMap: { 443: 0 },
      ...gatewayTopology,
    };
    const config = compile(buildIndex(makeSnapshot(mesh, 'v1')), identity);
    return started(new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' }), config, '0.0.0.0_443');
  }

  test('plain HTTP: a client-sent header never reaches the app (default SANITIZE_SET)', async () => {
    const port = await gateway('plain');
    expect((await get(port, '/orders', { 'x-forwarded-client-cert': FORGED })).status).toBe(200);
    expect(app.seen[0].headers['x-forwarded-client-cert']).toBeUndefined();
  });

  test('MUTUAL: the header describes the verified client certificate, whatever the client sent', async () => {
    const port = await gateway('MUTUAL');
    const client = await workload(ca, 'partners', 'acme');
    expect(await tlsRequest(port, client, ca.rootPem, '/orders', forged)).toMatch(/^HTTP\/1\.1 200/);
    // Envoy's URL encoding of the PEM (newline, space, +, /, =) is encodeURIComponent's for PEM text.
    const cert = encodeURIComponent(new X509Certificate(client.cert).toString());
    const seen = app.seen[0].headers['x-forwarded-client-cert'];
    const uri = 'spiffe://cluster.local/ns/partners/sa/acme';
    expect(seen).toBe(`By=spiffe://cluster.local/ns/mast-system/sa/gw;Hash=${hashOf(client.cert)};Cert="${cert}";Subject="";URI=${uri}`);
  });

  test('gatewayTopology.forwardClientCertDetails ALWAYS_FORWARD_ONLY (a trusted proxy in front): passed on as sent', async () => {
    const port = await gateway('plain', 'ALWAYS_FORWARD_ONLY');
    expect((await get(port, '/orders', { 'x-forwarded-client-cert': FORGED })).status).toBe(200);
    expect(app.seen[0].headers['x-forwarded-client-cert']).toBe(FORGED);
  });
});

describe('sidecar', () => {
  async function inbound(): Promise<number> {
    const proxy = new MeshProxy({ mode: 'sidecar', workload: 'cart', namespace: 'shop' });
    proxy.setCertificate(await workload(ca, 'shop', 'cart'));
    const identity = {
      mode: 'sidecar' as const,
      namespace: 'shop',
      labels: { app: 'cart' },
      inbound: { port: 0, appPort: app.port },
      outboundPort: 0,
    };
    const config = compile(buildIndex(makeSnapshot([], 'v1')), identity);
    return started(proxy, config, 'virtualInbound');
  }

  test('inbound mTLS: By (this sidecar), Hash, Subject, URI of the verified peer', async () => {
    const port = await inbound();
    const peer = await workload(ca, 'shop', 'front');
    expect(await tlsRequest(port, peer, ca.rootPem)).toMatch(/^HTTP\/1\.1 200/);
    const element = `By=spiffe://cluster.local/ns/shop/sa/cart;Hash=${hashOf(peer.cert)};Subject="";URI=spiffe://cluster.local/ns/shop/sa/front`;
    expect(app.seen[0].headers['x-forwarded-client-cert']).toBe(element);
    // A mesh peer's own header is kept and this hop appended (APPEND_FORWARD), as Istio's sidecars do.
    expect(await tlsRequest(port, peer, ca.rootPem, '/orders', forged)).toMatch(/^HTTP\/1\.1 200/);
    expect(app.seen[1].headers['x-forwarded-client-cert']).toBe(`${FORGED},${element}`);
  });

  test('inbound plain text (PERMISSIVE): a client-sent header is dropped, none is set', async () => {
    const port = await inbound();
    expect((await get(port, '/orders', { 'x-forwarded-client-cert': FORGED })).status).toBe(200);
    expect(app.seen[0].headers['x-forwarded-client-cert']).toBeUndefined();
  });

  test('outbound: the app cannot send one on (SANITIZE, the default)', async () => {
    const front = new MeshProxy({ mode: 'sidecar', workload: 'front', namespace: 'shop' });
    const port = await started(front, oneRoute({ name: 'l', port: 0, matchPort: 80 }, loopbackCluster('app', '127.0.0.1', app.port)), 'l');
    expect((await get(port, '/orders', { 'x-forwarded-client-cert': FORGED })).status).toBe(200);
    expect(app.seen[0].headers['x-forwarded-client-cert']).toBeUndefined();
  });
});

test('the element quotes what it must: no CR/LF or quote from a certificate reaches the header', () => {
  const subjectAltName = 'URI:"spiffe://evil\\r\\nx: y", URI:spiffe://cluster.local/ns/a/sa/b, DNS:a.example';
  const peer = { subject: 'O=a"b\nCN=x\ry', subjectAltName, fingerprint256: 'AB:CD', toString: () => '' } as unknown as X509Certificate;
  expect(xfccElement(undefined, peer, false)).toBe(
    'Hash=abcd;Subject="CN=x%0Dy,O=a\\"b";URI=spiffe://cluster.local/ns/a/sa/b;DNS=a.example',
  );
});
