/**
 * Istio's classic-API ingress tasks (istio.io content/en/docs/tasks/traffic-management/ingress/),
 * each a `describe` following the task's steps and asserting its documented outcome, on ONE
 * `mast local` of the bookinfo example with the tasks' httpbin and helloworld beside it
 * (httpbin.ts). ingress-control: Gateway and VirtualService for httpbin.example.com on the HTTP
 * port. secure-ingress: the certificates made with the task's openssl commands, served SIMPLE and
 * MUTUAL on 443, two hosts with their own certificates on that one port (chosen by SNI), and the
 * task's `credentialName` Secrets in the input. The Gateway with port 443 is applied while
 * `mast local` runs, as the task does: the port is served from then on, and listed on the admin
 * page. ingress-sni-passthrough: the same port 443 then PASSTHROUGH to an nginx stand-in
 * (httpbin.ts serving TLS with the task's certificate).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { LocalAdmin } from '../../../runtime/local/admin';
import { freePort } from '../../../runtime/local/local-mesh';
import { until } from '../../support/poll';
import { startExample, type Running } from '../support';

const certs = mkdtempSync(join(tmpdir(), 'mast-secure-ingress-'));
const pem = (file: string) => join(certs, file);

/** The task's openssl commands: two example.com roots, httpbin's certificate from each, helloworld's and a client's from the first. */
function makeCertificates(): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: certs, stdio: 'pipe' });
  for (const dir of ['example_certs1', 'example_certs2']) {
    mkdirSync(join(certs, dir));
    openssl(
      'req',
      '-x509',
      '-sha256',
      '-nodes',
      '-days',
      '365',
      '-newkey',
      'rsa:2048',
      '-subj',
      '/O=example Inc./CN=example.com',
      '-keyout',
      `${dir}/example.com.key`,
      '-out',
      `${dir}/example.com.crt`,
    );
  }
  const leaf = (dir: string, name: string, serial: string) => {
    openssl(
      'req',
      '-out',
      `${dir}/${name}.csr`,
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${dir}/${name}.key`,
      '-subj',
      `/CN=${name}/O=${name.split('.')[0]} organization`,
    );
    openssl(
      'x509',
      '-req',
      '-sha256',
      '-days',
      '365',
      '-CA',
      `${dir}/example.com.crt`,
      '-CAkey',
      `${dir}/example.com.key`,
      '-set_serial',
      serial,
      '-in',
      `${dir}/${name}.csr`,
      '-out',
      `${dir}/${name}.crt`,
    );
  };
  leaf('example_certs1', 'httpbin.example.com', '0');
  leaf('example_certs2', 'httpbin.example.com', '0');
  leaf('example_certs1', 'helloworld.example.com', '1');
  leaf('example_certs1', 'client.example.com', '1');
  leaf('example_certs1', 'nginx.example.com', '2');
}

/** httpbin (port 8000), helloworld (5000) and my-nginx (443, serving TLS itself) as local workloads. */
const workloads = (httpbinPort: number, helloPort: number, nginxPort: number) =>
  [
    ['httpbin', 8000, httpbinPort, 'HTTP', ''],
    ['helloworld', 5000, helloPort, 'HTTP', ''],
    [
      'my-nginx',
      443,
      nginxPort,
      'HTTPS',
      ` TLS_CERT=${pem('example_certs1/nginx.example.com.crt')} TLS_KEY=${pem('example_certs1/nginx.example.com.key')}`,
    ],
  ]
    .map(
      ([name, port, appPort, protocol, tls]) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${port}, name: ${String(protocol).toLowerCase()}, protocol: ${protocol} }]
  workloadSelector: { labels: { app: ${name} } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${name}-v1
  namespace: default
  annotations:
    local.mast.dev/run: ${join(__dirname, 'httpbin.ts')}
    local.mast.dev/env: SERVICE=${name}${tls}
spec:
  address: 127.0.0.1
  ports: { ${String(protocol).toLowerCase()}: ${appPort} }
  labels: { app: ${name}, version: v1 }
`,
    )
    .join('');

/** The task's `mygateway` on 443; `tls` is each server's TLS block (flow YAML), certificate files for the task's Secrets. */
const mygateway = (...servers: Array<{ host: string; tls: string }>) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: mygateway, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
${servers.map((s, i) => `  - port: { number: 443, name: https-${i}, protocol: HTTPS }\n    tls: ${s.tls}\n    hosts: [${s.host}]\n`).join('')}`;
const simple = (dir: string, host: string) =>
  `{ mode: SIMPLE, serverCertificate: ${pem(`${dir}/${host}.crt`)}, privateKey: ${pem(`${dir}/${host}.key`)} }`;
/** The task's httpbin VirtualService on mygateway (named httpbin-tls here: ingress-control's httpbin is in the same mesh). */
const HTTPBIN_TLS_ROUTES = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin-tls, namespace: default }
spec:
  hosts: [httpbin.example.com]
  gateways: [mygateway]
  http:
  - match: [{ uri: { prefix: /status } }, { uri: { prefix: /delay } }]
    route: [{ destination: { port: { number: 8000 }, host: httpbin } }]
`;

let mesh: Running;
let admin: LocalAdmin;
let adminUrl: string;
beforeAll(async () => {
  makeCertificates();
  // No Gateway on 443 yet: the secure-ingress task applies it to the running mesh.
  mesh = await startExample({ files: { 'local/httpbin.yaml': workloads(await freePort(), await freePort(), await freePort()) } });
  admin = new LocalAdmin(mesh.mesh);
  adminUrl = `http://127.0.0.1:${await admin.listen(0)}`;
}, 90_000);
afterAll(async () => {
  await admin?.close();
  await mesh?.stop();
  rmSync(certs, { recursive: true, force: true });
});

/** `kubectl apply` of a whole file's worth of resources (no-op when it already holds them). */
async function apply(file: string, yaml: string): Promise<void> {
  try {
    await mesh.edit(file, () => yaml);
  } catch (err) {
    if (!/changed nothing/.test((err as Error).message)) throw err;
  }
}

type Reply = { status: number; body: string } | { error: string };
/** The subject of the certificate the last `curlTls` was served (`curl -v`'s "server certificate" lines). */
let peerOfLastTls = '';

/** `curl -HHost:<host> --resolve <host>:<port>:127.0.0.1 --cacert <ca> [--cert --key] https://<host>:<port><path>`. */
function curlTls(host: string, path: string, o: { ca: string; cert?: string; key?: string }): Promise<Reply> {
  return new Promise((resolve) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port: mesh.mesh.gatewayPorts[443],
        servername: host,
        path,
        headers: { host },
        ca: readFileSync(pem(o.ca)),
        ...(o.cert ? { cert: readFileSync(pem(o.cert)), key: readFileSync(pem(o.key!)) } : {}),
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        const subject = (res.socket as TLSSocket).getPeerCertificate().subject;
        peerOfLastTls = subject ? `CN=${subject.CN}, O=${subject.O}` : '';
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: `${err.code ?? ''} ${err.message}` }));
  });
}

/** `curl -HHost:<host> http://$INGRESS_HOST:$INGRESS_PORT<path>` on the gateway's HTTP port. */
function curl(host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: mesh.port, path, headers: { host }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
  });
}

const TEAPOT = expect.objectContaining({ status: 418, body: expect.stringContaining('-=[ teapot ]=-') });

describe('ingress/ingress-control', () => {
  const gateway = (host: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: httpbin-gateway, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["${host}"] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin, namespace: default }
spec:
  hosts: ["${host}"]
  gateways: [httpbin-gateway]
  http:
  - match: [{ uri: { prefix: ${host === '*' ? '/headers' : '/status'} } }, { uri: { prefix: /delay } }]
    route: [{ destination: { port: { number: 8000 }, host: httpbin } }]
`;

  test('the httpbin Gateway and VirtualService: /status/200 answers 200 through the gateway', async () => {
    await apply('mesh/httpbin-gateway.yaml', gateway('httpbin.example.com'));
    expect((await curl('httpbin.example.com', '/status/200')).status).toBe(200);
  });

  test('a path no route exposes (/headers) answers 404', async () => {
    expect((await curl('httpbin.example.com', '/headers')).status).toBe(404);
  });

  test('hosts "*" on both (the browser step): /headers answers 200 with the request’s headers', async () => {
    await apply('mesh/httpbin-gateway.yaml', gateway('*'));
    const reply = await curl('203.0.113.7', '/headers');
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ headers: { host: '203.0.113.7' } });
  });
});

describe('ingress/secure-ingress', () => {
  test('a TLS gateway for one host (SIMPLE), applied to the running mesh: port 443 is served, curl --cacert example_certs1 gets the teapot', async () => {
    expect(mesh.mesh.gatewayPorts[443]).toBeUndefined();
    await apply(
      'mesh/mygateway.yaml',
      mygateway({ host: 'httpbin.example.com', tls: simple('example_certs1', 'httpbin.example.com') }) + HTTPBIN_TLS_ROUTES,
    );
    const local = mesh.mesh.gatewayPorts[443];
    expect(local).toEqual(expect.any(Number));
    expect(mesh.logs).toContain(`gateway: port 443 is served on 127.0.0.1:${local}`);
    expect(await curlTls('httpbin.example.com', '/status/418', { ca: 'example_certs1/example.com.crt' })).toEqual(TEAPOT);
    // The admin page lists it beside the HTTP port.
    const page = await (await fetch(`${adminUrl}/`)).text();
    expect(page).toContain(`<tr><td>443</td><td>127.0.0.1:${local}</td></tr>`);
    expect(page).toContain(`<tr><td>80</td><td>127.0.0.1:${mesh.port}</td></tr>`);
  });

  test('the credential replaced by example_certs2: its root verifies the gateway, the first root no more', async () => {
    // The task deletes and recreates the Secret; here the Gateway names the new files.
    await apply(
      'mesh/mygateway.yaml',
      mygateway({ host: 'httpbin.example.com', tls: simple('example_certs2', 'httpbin.example.com') }) + HTTPBIN_TLS_ROUTES,
    );
    expect(await curlTls('httpbin.example.com', '/status/418', { ca: 'example_certs2/example.com.crt' })).toEqual(TEAPOT);
    expect(await curlTls('httpbin.example.com', '/status/418', { ca: 'example_certs1/example.com.crt' })).toEqual({
      error: expect.stringMatching(/certificate|signature/i),
    });
  });

  const twoHosts = () =>
    apply(
      'mesh/mygateway.yaml',
      mygateway(
        { host: 'httpbin.example.com', tls: simple('example_certs1', 'httpbin.example.com') },
        { host: 'helloworld.example.com', tls: simple('example_certs1', 'helloworld.example.com') },
      ) +
        HTTPBIN_TLS_ROUTES +
        `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: helloworld, namespace: default }
spec:
  hosts: [helloworld.example.com]
  gateways: [mygateway]
  http:
  - match: [{ uri: { exact: /hello } }]
    route: [{ destination: { host: helloworld, port: { number: 5000 } } }]
`,
    );

  test('two hosts on 443: httpbin.example.com still gets the teapot', async () => {
    await twoHosts();
    expect(await curlTls('httpbin.example.com', '/status/418', { ca: 'example_certs1/example.com.crt' })).toEqual(TEAPOT);
  });

  test('two hosts on 443: helloworld.example.com is served its own certificate (SNI) and /hello answers 200', async () => {
    await twoHosts();
    expect(await curlTls('helloworld.example.com', '/hello', { ca: 'example_certs1/example.com.crt' })).toMatchObject({ status: 200 });
    expect(peerOfLastTls).toBe('CN=helloworld.example.com, O=helloworld organization');
    expect(await curlTls('httpbin.example.com', '/status/418', { ca: 'example_certs1/example.com.crt' })).toEqual(TEAPOT);
    expect(peerOfLastTls).toBe('CN=httpbin.example.com, O=httpbin organization');
  });

  test('MUTUAL: without a client certificate the handshake is refused; with client.example.com’s, the teapot', async () => {
    await apply(
      'mesh/mygateway.yaml',
      mygateway({
        host: 'httpbin.example.com',
        tls: `{ mode: MUTUAL, serverCertificate: ${pem('example_certs1/httpbin.example.com.crt')}, privateKey: ${pem('example_certs1/httpbin.example.com.key')}, caCertificates: ${pem('example_certs1/example.com.crt')} }`,
      }) + HTTPBIN_TLS_ROUTES,
    );
    const without = await curlTls('httpbin.example.com', '/status/418', { ca: 'example_certs1/example.com.crt' });
    expect(without).toEqual({ error: expect.stringMatching(/certificate required|alert|ECONNRESET|socket hang up/i) });
    const client = {
      ca: 'example_certs1/example.com.crt',
      cert: 'example_certs1/client.example.com.crt',
      key: 'example_certs1/client.example.com.key',
    };
    expect(await curlTls('httpbin.example.com', '/status/418', client)).toEqual(TEAPOT);
  });

  const b64 = (file: string) => readFileSync(pem(file)).toString('base64');
  const tlsSecret = (name: string, namespace: string, dir: string, host: string) => `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: ${namespace} }
type: kubernetes.io/tls
data:
  tls.crt: ${b64(`${dir}/${host}.crt`)}
  tls.key: ${b64(`${dir}/${host}.key`)}
---
`;
  const withCredential = (secrets: string, mode = 'SIMPLE') =>
    `${secrets}${mygateway({ host: 'httpbin.example.com', tls: `{ mode: ${mode}, credentialName: httpbin-credential }` })}${HTTPBIN_TLS_ROUTES}`;

  test('credentialName: a kubernetes.io/tls Secret in the input serves the teapot', async () => {
    await apply(
      'mesh/mygateway.yaml',
      withCredential(tlsSecret('httpbin-credential', 'istio-system', 'example_certs1', 'httpbin.example.com')),
    );
    expect(await curlTls('httpbin.example.com', '/status/418', { ca: 'example_certs1/example.com.crt' })).toEqual(TEAPOT);
  });

  test('the Secret replaced by example_certs2 while running: within seconds the new certificate is served', async () => {
    await apply(
      'mesh/mygateway.yaml',
      withCredential(tlsSecret('httpbin-credential', 'istio-system', 'example_certs2', 'httpbin.example.com')),
    );
    let reply: Reply = { error: 'not asked yet' };
    await until(
      'the gateway serves the example_certs2 certificate',
      async () =>
        (reply = await curlTls('httpbin.example.com', '/status/418', { ca: 'example_certs2/example.com.crt' })) && 'status' in reply,
      15_000,
      () => JSON.stringify(reply),
    );
    expect(reply).toEqual(TEAPOT);
  });

  test('MUTUAL from the generic Secret form (cert, key, cacert): a client without a certificate is refused, client.example.com gets through', async () => {
    const generic = `apiVersion: v1
kind: Secret
metadata: { name: httpbin-credential, namespace: istio-system }
type: Opaque
data:
  cert: ${b64('example_certs1/httpbin.example.com.crt')}
  key: ${b64('example_certs1/httpbin.example.com.key')}
  cacert: ${b64('example_certs1/example.com.crt')}
---
`;
    await apply('mesh/mygateway.yaml', withCredential(generic, 'MUTUAL'));
    const client = {
      ca: 'example_certs1/example.com.crt',
      cert: 'example_certs1/client.example.com.crt',
      key: 'example_certs1/client.example.com.key',
    };
    let reply: Reply = { error: 'not asked yet' };
    await until(
      'the MUTUAL server answers a client certificate',
      async () => (reply = await curlTls('httpbin.example.com', '/status/418', client)) && 'status' in reply,
      15_000,
      () => JSON.stringify(reply),
    );
    expect(reply).toEqual(TEAPOT);
    expect(await curlTls('httpbin.example.com', '/status/418', { ca: 'example_certs1/example.com.crt' })).toEqual({
      error: expect.stringMatching(/certificate required|alert|ECONNRESET|socket hang up/i),
    });
  });

  test('the Secret in another namespace than the gateway’s: a finding naming both, and the server is not served (never with another certificate)', async () => {
    await apply('mesh/mygateway.yaml', withCredential(tlsSecret('httpbin-credential', 'default', 'example_certs1', 'httpbin.example.com')));
    await until(
      'the finding is logged',
      async () =>
        mesh.logs.some((l) => /MAST0215 .*Secret "httpbin-credential" is in namespace default, not in mast-system, istio-system/.test(l)),
      15_000,
    );
    let reply: Reply = { status: 0, body: '' };
    await until(
      'the server is no longer served',
      async () => 'error' in (reply = await curlTls('httpbin.example.com', '/status/418', { ca: 'example_certs1/example.com.crt' })),
      15_000,
      () => JSON.stringify(reply),
    );
  });
});

describe('ingress/ingress-sni-passthrough', () => {
  test('PASSTHROUGH for nginx.example.com: nginx itself terminates TLS (its certificate) and answers its welcome', async () => {
    // The secure-ingress task's gateway and routes cleaned up first, as the task's cleanup does.
    await apply(
      'mesh/mygateway.yaml',
      `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: mygateway, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 443, name: https, protocol: HTTPS }
    tls: { mode: PASSTHROUGH }
    hosts: [nginx.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: nginx, namespace: default }
spec:
  hosts: [nginx.example.com]
  gateways: [mygateway]
  tls:
  - match: [{ port: 443, sniHosts: [nginx.example.com] }]
    route: [{ destination: { host: my-nginx, port: { number: 443 } } }]
`,
    );
    const reply = await curlTls('nginx.example.com', '/', { ca: 'example_certs1/example.com.crt' });
    expect(reply).toEqual({ status: 200, body: expect.stringContaining('<title>Welcome to my-nginx!</title>') });
    expect(peerOfLastTls).toMatch(/CN=nginx\.example\.com/);
  });
});
