/** The app's kubelet probes, sent by the sidecar from its status port (what injection rewrote them to). */
import * as https from 'node:https';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import * as net from 'node:net';
import { startStatus } from '../../../runtime/proxy/admin';
import { parseAppProbers, probeApp, type AppProber } from '../../../runtime/proxy/app-probe';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { CertificateAuthority } from '../../../runtime/control/ca';
import { certificateRequest, generateKeys, privateKeyPem } from '../../../runtime/contract/x509';
import { freePort } from '../../../runtime/local/local-mesh';
import { get, stoppedAfterEach } from '../../support/proxy';

const { stopAfter, withBackend } = stoppedAfterEach();

const http = (port: number, more: Partial<NonNullable<AppProber['httpGet']>> = {}, timeoutSeconds = 1): AppProber => ({
  httpGet: { path: '/health', port, scheme: 'HTTP', httpHeaders: [], ...more },
  timeoutSeconds,
});

/** A server that accepts connections and then says nothing (or, with `reply`, writes that and waits). */
async function silent(reply?: string): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => (sockets.add(s), reply && s.write(reply)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
  return (server.address() as net.AddressInfo).port;
}

describe('MAST_APP_PROBERS', () => {
  test('absent or empty: no probes', () => {
    expect(parseAppProbers(undefined).size).toBe(0);
    expect(parseAppProbers('').size).toBe(0);
  });

  test('reads httpGet and tcpSocket probes with Kubernetes defaults (path /, HTTP, 1 s)', () => {
    const probers = parseAppProbers(
      JSON.stringify({
        '/app-health/web/readyz': { httpGet: { port: 8080 } },
        '/app-health/web/livez': { tcpSocket: { port: 9000 }, timeoutSeconds: 3 },
      }),
    );
    expect(probers.get('/app-health/web/readyz')).toEqual({
      httpGet: { path: '/', port: 8080, scheme: 'HTTP', httpHeaders: [] },
      timeoutSeconds: 1,
    });
    expect(probers.get('/app-health/web/livez')).toEqual({ tcpSocket: { port: 9000 }, timeoutSeconds: 3 });
  });

  test.each([
    ['{', /^MAST_APP_PROBERS is not JSON/],
    ['[]', /^MAST_APP_PROBERS must be a JSON object/],
    [
      '{"/healthz/web":{"tcpSocket":{"port":1}}}',
      /^MAST_APP_PROBERS "\/healthz\/web": "\/healthz\/web" is not a path \/app-health\/<container>\/<livez\|readyz\|startupz>$/,
    ],
    [
      '{"/app-health/web/readyz":{"httpGet":{"port":"http"}}}',
      /"\/app-health\/web\/readyz"\.httpGet\.port: "http" is not a port number 1-65535 \(named ports are resolved at injection\)$/,
    ],
    ['{"/app-health/web/readyz":{"tcpSocket":{"port":70000}}}', /\.tcpSocket\.port: 70000 is not a port number/],
    ['{"/app-health/web/readyz":{"httpGet":{"port":1,"path":"/a b"}}}', /\.httpGet\.path: "\/a b" is not a path starting with \//],
    ['{"/app-health/web/readyz":{"httpGet":{"port":1,"scheme":"FTP"}}}', /\.httpGet\.scheme: "FTP" is not HTTP or HTTPS$/],
    [
      '{"/app-health/web/readyz":{"httpGet":{"port":1,"httpHeaders":[{"name":"X","value":"a\\r\\nEvil: 1"}]}}}',
      /\.httpGet\.httpHeaders\[0\]\.value: "a\\r\\nEvil: 1" is not a header value without line breaks$/,
    ],
    [
      '{"/app-health/web/readyz":{"httpGet":{"port":1,"httpHeaders":[{"name":"X Y","value":"1"}]}}}',
      /\.httpGet\.httpHeaders\[0\]\.name: "X Y" is not a header name$/,
    ],
    [
      '{"/app-health/web/readyz":{"httpGet":{"port":1},"tcpSocket":{"port":1}}}',
      /"\/app-health\/web\/readyz": .* is not an object with one of httpGet, tcpSocket or grpc$/,
    ],
    ['{"/app-health/web/readyz":{"grpc":{"port":1,"service":7}}}', /\.grpc\.service: 7 is not a service name$/],
    ['{"/app-health/web/readyz":{"tcpSocket":{"port":1},"timeoutSeconds":0}}', /\.timeoutSeconds: 0 is not a number of seconds above 0/],
  ])('%s is refused, naming the path, the field and the value', (text, message) => {
    expect(() => parseAppProbers(text)).toThrow(message);
  });
});

describe('an httpGet probe', () => {
  test("gets the app's status, sending the probe's headers with the kubelet's defaults", async () => {
    const app = await withBackend('app', (req, res) => res.writeHead(req.url === '/health' ? 204 : 404).end());
    expect(await probeApp(http(app.port, { httpHeaders: [{ name: 'X-Probe', value: 'yes' }] }))).toEqual({
      status: 204,
      body: 'the app answered 204\n',
    });
    expect(app.seen[0].headers).toMatchObject({ host: `127.0.0.1:${app.port}`, 'user-agent': 'kube-probe/mast', 'x-probe': 'yes' });
    expect((await probeApp(http(app.port, { path: '/other' }))).status).toBe(404);
    // A header the probe names replaces the default.
    await probeApp(http(app.port, { httpHeaders: [{ name: 'Host', value: 'web.local' }] }));
    expect(app.seen[2].headers.host).toBe('web.local');
  });

  test('an app error passes through as a failure; a redirect counts as success, as the kubelet counts it', async () => {
    const app = await withBackend('app', (req, res) => res.writeHead(req.url === '/health' ? 500 : 302, { location: '/x' }).end());
    expect((await probeApp(http(app.port))).status).toBe(500);
    expect(await probeApp(http(app.port, { path: '/moved' }))).toEqual({ status: 200, body: 'the app answered 302\n' });
  });

  test('no app, no answer in time, or an answer that is not HTTP: 503 with the reason', async () => {
    const closed = await freePort();
    expect(await probeApp(http(closed))).toEqual({
      status: 503,
      body: `probe of http://127.0.0.1:${closed}/health failed: ECONNREFUSED\n`,
    });
    const mute = await silent();
    expect(await probeApp(http(mute, {}, 0.2))).toEqual({
      status: 503,
      body: `probe of http://127.0.0.1:${mute}/health failed: no answer within 0.2 s\n`,
    });
    const ssh = await silent('SSH-2.0-OpenSSH_9.6\r\n');
    expect((await probeApp(http(ssh))).body).toMatch(/failed: the app did not answer HTTP/);
  });

  test('HTTPS: the certificate is not verified, as the kubelet does not', async () => {
    const ca = await CertificateAuthority.generate('cluster.local');
    const keys = await generateKeys();
    const issued = await ca.sign(await certificateRequest(keys), { namespace: 'default', serviceAccount: 'web' });
    const server = https.createServer({ cert: issued.certificate, key: await privateKeyPem(keys) }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    stopAfter(() => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))));
    const port = (server.address() as net.AddressInfo).port;
    expect(await probeApp(http(port, { scheme: 'HTTPS' }))).toEqual({ status: 200, body: 'the app answered 200\n' });
    expect((await probeApp(http(port))).status).toBe(503); // plain HTTP to a TLS port
  });
});

describe('a tcpSocket probe', () => {
  test('succeeds when the port accepts a connection, fails when it refuses', async () => {
    const open = await silent();
    expect(await probeApp({ tcpSocket: { port: open }, timeoutSeconds: 1 })).toEqual({
      status: 200,
      body: `connected to 127.0.0.1:${open}\n`,
    });
    const closed = await freePort();
    expect((await probeApp({ tcpSocket: { port: closed }, timeoutSeconds: 1 })).status).toBe(503);
  });
});

describe('a grpc probe (grpc.health.v1, against grpc-js and its health service)', () => {
  async function grpcApp(statuses: Record<string, 'SERVING' | 'NOT_SERVING'>): Promise<number> {
    const server = new grpc.Server();
    new HealthImplementation(statuses).addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    stopAfter(() => new Promise((r) => server.tryShutdown(() => r())));
    return port;
  }
  const probe = (port: number, service = '') => probeApp({ grpc: { port, service }, timeoutSeconds: 2 });

  test('SERVING passes; NOT_SERVING, an unknown service, or no server fail with the reason', async () => {
    const port = await grpcApp({ '': 'SERVING', ratings: 'SERVING', reviews: 'NOT_SERVING' });
    expect(await probe(port)).toEqual({ status: 200, body: 'the app is SERVING\n' });
    expect(await probe(port, 'ratings')).toEqual({ status: 200, body: 'the app is SERVING\n' });
    expect(await probe(port, 'reviews')).toEqual({
      status: 503,
      body: `probe of grpc 127.0.0.1:${port} service "reviews" failed: the app is NOT_SERVING\n`,
    });
    // grpc-status 5, NOT_FOUND: the health service does not know it.
    expect(await probe(port, 'details')).toEqual({
      status: 503,
      body: `probe of grpc 127.0.0.1:${port} service "details" failed: the app answered grpc-status 5\n`,
    });
    const closed = await freePort();
    expect(await probe(closed)).toEqual({ status: 503, body: `probe of grpc 127.0.0.1:${closed} failed: ECONNREFUSED\n` });
  });

  test('a gRPC server without the health service fails (UNIMPLEMENTED)', async () => {
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    stopAfter(() => new Promise((r) => server.tryShutdown(() => r())));
    expect((await probe(port)).body).toMatch(/failed: the app answered grpc-status 12\n$/);
  });
});

describe('the status port', () => {
  async function status(probers: string, quietMs?: number) {
    const proxy = new MeshProxy({ mode: 'sidecar', workload: 'web', namespace: 'default' });
    const server = await startStatus(proxy, 0, { host: '127.0.0.1', probers: parseAppProbers(probers), ...(quietMs ? { quietMs } : {}) });
    stopAfter(() => new Promise((r) => server.close(() => r())));
    return (server.address() as net.AddressInfo).port;
  }

  test("answers /app-health/<container>/<kind> with the app's probe result, and lists the probe paths on a 404", async () => {
    const app = await withBackend('app', (_req, res) => res.end('fine'));
    const closed = await freePort();
    const port = await status(
      JSON.stringify({
        '/app-health/web/readyz': { httpGet: { path: '/health', port: app.port } },
        '/app-health/web/livez': { tcpSocket: { port: closed } },
      }),
    );
    expect(await get(port, '/app-health/web/readyz')).toMatchObject({ status: 200, body: 'the app answered 200\n' });
    expect(app.seen.map((s) => s.url)).toEqual(['/health']);
    expect(await get(port, '/app-health/web/livez')).toMatchObject({
      status: 503,
      body: `probe of tcp 127.0.0.1:${closed} failed: ECONNREFUSED\n`,
    });
    expect(await get(port, '/app-health/web/startupz')).toMatchObject({
      status: 404,
      body: 'not found: /healthz/ready /stats/prometheus /app-health/web/readyz /app-health/web/livez\n',
    });
  });

  test("a probe may take longer than the port's quiet-connection limit: its own timeout bounds it", async () => {
    const app = await withBackend('app', (_req, res) => setTimeout(() => res.end('late'), 400));
    const port = await status(JSON.stringify({ '/app-health/web/readyz': { httpGet: { port: app.port }, timeoutSeconds: 2 } }), 100);
    expect(await get(port, '/app-health/web/readyz')).toMatchObject({ status: 200 });
  });
});
