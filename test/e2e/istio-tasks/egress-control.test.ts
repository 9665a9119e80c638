/**
 * Istio's task traffic-management/egress/egress-control ("Accessing External Services") on
 * `mast local`'s bookinfo, and the Sidecar resource that scopes a workload's egress. The task's
 * `sleep` pod is productpage's sidecar here: the test sends what `curl` sends to its outbound
 * listener, as productpage's app does (an HTTP proxy request, the absolute URL in the request
 * line). httpbin.org is a local process on a free loopback port, reached through a ServiceEntry
 * endpoint. The task's expected outcomes: under ALLOW_ANY (the default) an external host is
 * reached; under REGISTRY_ONLY (mesh-wide) an unregistered host is
 * refused (502 from Istio's block_all route); a ServiceEntry makes httpbin.org reachable (200, the
 * Host it was called by); a VirtualService timeout of the external service gives 504; then the
 * same policy per Sidecar, and a Sidecar whose egress imports details only.
 * Under ALLOW_ANY an unregistered host is reached where the request's authority says (the app
 * has no captured original destination here). The HTTPS (TCP) steps need captured connections:
 * egress-control.intercept.test.ts.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { meshConfigDoc } from '../../support/mesh-yaml';
import { request, startExample, type Running } from '../support';

let httpbin: http.Server;
let httpbinPort: number;
/** Requests httpbin.org received. */
let hits = 0;
let mesh: Running;
let outbound: number;

beforeAll(async () => {
  // httpbin.org's /headers and /delay/<s>, enough for the task.
  httpbin = http.createServer((req, res) => {
    hits++;
    const delay = /^\/delay\/(\d+)$/.exec(req.url ?? '');
    const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ headers: req.headers }));
    if (delay) setTimeout(answer, Math.min(Number(delay[1]), 10) * 1000);
    else answer();
  });
  await new Promise<void>((r) => httpbin.listen(0, '127.0.0.1', r));
  httpbinPort = (httpbin.address() as AddressInfo).port;
  mesh = await startExample();
  const pp = mesh.mesh.workloads.get('default/productpage-v1');
  if (!pp) throw new Error('no productpage-v1 workload');
  outbound = pp.outboundPort;
}, 60_000);
afterAll(async () => {
  await mesh?.stop();
  httpbin?.closeAllConnections();
  await new Promise((r) => httpbin?.close(r));
});

/** `curl <url>` from productpage's pod: through its sidecar's outbound listener. */
function curl(url: string): Promise<{ status: number; body: string; ms: number }> {
  const target = new URL(url);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port: outbound, path: target.href, headers: { host: target.host }, timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body, ms: performance.now() - started }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in 10 s`)));
    req.on('error', reject);
  });
}

const SERVICE_ENTRY = () => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin-ext, namespace: default }
spec:
  hosts: [httpbin.org]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: DNS
  location: MESH_EXTERNAL
  # httpbin.org is this test's process: its address and port, where the task resolves the name by DNS.
  endpoints: [{ address: 127.0.0.1, ports: { http: ${httpbinPort} } }]
`;

const REGISTRY_ONLY_MESH = meshConfigDoc('outboundTrafficPolicy:\n  mode: REGISTRY_ONLY');

describe('egress-control: ALLOW_ANY, then REGISTRY_ONLY mesh-wide, then a ServiceEntry', () => {
  test('ALLOW_ANY (the default): a host the mesh does not know is reached where the app sent it', async () => {
    const before = hits;
    const ok = await curl(`http://localhost:${httpbinPort}/headers`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).headers.host).toBe(`localhost:${httpbinPort}`);
    expect((await curl(`http://127.0.0.1:${httpbinPort}/headers`)).status).toBe(200);
    expect(hits).toBe(before + 2);
  });

  test('REGISTRY_ONLY: a host the mesh does not know is refused with 502 (block_all), nothing reaches it', async () => {
    await mesh.edit('mesh/meshconfig.yaml', () => REGISTRY_ONLY_MESH);
    const before = hits;
    const refused = await curl('http://httpbin.org/headers');
    expect([refused.status, refused.body]).toEqual([502, '']);
    expect(await curl(`http://127.0.0.1:${httpbinPort}/headers`)).toMatchObject({ status: 502 });
    // The services the mesh knows are routed as before.
    expect((await request(mesh.port)).status).toBe(200);
    expect(hits).toBe(before);
  });

  test('a ServiceEntry for httpbin.org: 200, the request as the app sent it (Host httpbin.org)', async () => {
    await mesh.edit('mesh/httpbin-ext.yaml', SERVICE_ENTRY);
    const ok = await curl('http://httpbin.org/headers');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).headers.host).toBe('httpbin.org');
  });

  test('a VirtualService timeout for the external service: 504 when it answers too late', async () => {
    // The task's 3 s timeout and /delay/5, scaled down to keep the suite short: 1 s and /delay/3.
    await mesh.edit(
      'mesh/httpbin-ext.yaml',
      (t) => `${t}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin-ext, namespace: default }
spec:
  hosts: [httpbin.org]
  http:
  - timeout: 1s
    route:
    - destination: { host: httpbin.org }
      weight: 100
`,
    );
    const late = await curl('http://httpbin.org/delay/3');
    expect(late.status).toBe(504);
    expect(late.ms).toBeGreaterThanOrEqual(950);
    expect(late.ms).toBeLessThan(2900);
    expect((await curl('http://httpbin.org/headers')).status).toBe(200);
  });
});

describe('the outbound traffic policy and egress imports per Sidecar', () => {
  test('a namespace Sidecar with REGISTRY_ONLY: the same refusals without the mesh-wide setting', async () => {
    await mesh.edit('mesh/meshconfig.yaml', () => '# ALLOW_ANY: the default\n');
    await mesh.edit(
      'mesh/sidecar.yaml',
      () => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  egress: [{ hosts: ["./*"] }]
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }
`,
    );
    expect(await curl('http://unknown.example.com/')).toMatchObject({ status: 502, body: '' });
    // httpbin.org's ServiceEntry is in default: imported by "./*".
    expect((await curl('http://httpbin.org/headers')).status).toBe(200);
    expect((await request(mesh.port)).status).toBe(200);
  });

  test("productpage's own Sidecar imports details only: reviews is refused (502), details answers; its config has no reviews", async () => {
    await mesh.edit(
      'mesh/sidecar.yaml',
      (t) => `${t}---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: productpage, namespace: default }
spec:
  workloadSelector: { labels: { app: productpage } }
  egress: [{ hosts: ["./details.default.svc.cluster.local"] }]
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }
`,
    );
    const page = await request(mesh.port);
    expect(page.status).toBe(200);
    expect(page.body.calls?.map((c) => [c.service ?? 'refused', c.status])).toEqual([
      ['details', 200],
      ['refused', 502],
    ]);
    expect((await curl('http://httpbin.org/headers')).status).toBe(502);
    const pp = mesh.mesh.workloads.get('default/productpage-v1')!;
    const dump = await (await fetch(`http://${pp.adminHost}:${pp.adminPort}/config_dump`)).text();
    expect(dump).toContain('details.default.svc.cluster.local');
    expect(dump).not.toContain('reviews.default.svc.cluster.local');
  });
});
