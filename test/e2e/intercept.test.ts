/**
 * `mast local --intercept`: every workload in its own network namespace with the capture rules
 * a pod gets, the sidecar as uid 1337, and apps that call services by name with no proxy
 * settings at all. Needs root, `ip netns`, iptables (installed with apt when missing) and setpriv;
 * skipped with the reason printed otherwise.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as http from 'node:http';
import { interceptUnavailable, serviceAddresses } from '../../runtime/local/netns';
import { ensureCommand } from '../support/apt';
import { request, requestsOn, startExample, type Running } from './support';

const reason = process.getuid?.() === 0 ? (ensureCommand('iptables-restore', 'iptables') ?? interceptUnavailable()) : 'needs root';
if (reason) console.log(`mast local --intercept test skipped: ${reason}`);

test('service names resolve to capture-only addresses: FQDN, .svc, name.ns, and the short name in its own namespace', () => {
  const names = serviceAddresses(['reviews.default.svc.cluster.local', 'db.data.svc.cluster.local'], 'default');
  expect(names.get('reviews')).toBe(names.get('reviews.default.svc.cluster.local'));
  expect(names.get('db.data')).toBe(names.get('db.data.svc.cluster.local'));
  expect(names.has('db')).toBe(false);
  expect([...new Set(names.values())]).toEqual(['10.251.0.1', '10.251.0.2']);
});

(reason ? describe.skip : describe)('mast local --intercept', () => {
  let mesh: Running;
  beforeAll(async () => {
    mesh = await startExample({ intercept: true });
  }, 90_000);
  afterAll(() => mesh?.stop());

  test('the request path, with every app call captured by iptables (the apps have no proxy settings)', async () => {
    const page = await request(mesh.port, '/productpage', { 'end-user': 'jason' });
    expect(page.status).toBe(200);
    expect(page.body.calls?.map((c) => [c.service, c.status, c.version])).toEqual([
      ['details', 200, 'v1'],
      ['reviews', 200, 'v2'],
    ]);
    expect(page.body.calls?.[1].calls).toEqual([expect.objectContaining({ service: 'ratings', status: 200 })]);
    const pp = mesh.mesh.workloads.get('default/productpage-v1')!;
    expect(pp.netns?.address).toMatch(/^10\.1\d\d\.\d+\.2$/);
    // productpage's sidecar saw its app's calls (outbound capture) and the gateway's (inbound capture).
    expect(await requestsOn(pp.adminPort, { reporter: 'source', destination_service_name: 'details' }, pp.adminHost)).toBeGreaterThan(0);
    expect(await requestsOn(pp.adminPort, { reporter: 'destination' }, pp.adminHost)).toBeGreaterThan(0);
    const stats = await (await fetch(`http://${pp.adminHost}:${pp.adminPort}/stats/prometheus`)).text();
    expect(stats).toMatch(/mast_inbound_mtls_connections_total [1-9]/);
  });

  test('a call to somewhere outside the mesh is captured and passed through to where it was going', async () => {
    const pp = mesh.mesh.workloads.get('default/productpage-v1')!;
    const outside = http.createServer((_req, res) => res.end('outside'));
    await new Promise<void>((r) => outside.listen(0, pp.netns!.gateway, r));
    const port = (outside.address() as { port: number }).port;
    try {
      const code = `require('http').get('http://${pp.netns!.gateway}:${port}/',r=>{let b='';r.on('data',c=>b+=c);r.on('end',()=>console.log(r.statusCode+' '+b))}).on('error',e=>console.log('error '+e.message))`;
      // Not execFileSync: the outside server lives in this process.
      const out = await new Promise<string>((resolve, reject) =>
        execFile('ip', ['netns', 'exec', pp.netns!.name, process.execPath, '-e', code], { timeout: 10_000 }, (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        ),
      );
      expect(out.trim()).toBe('200 outside');
      const stats = await (await fetch(`http://${pp.adminHost}:${pp.adminPort}/stats/prometheus`)).text();
      expect(stats).toMatch(
        /istio_tcp_connections_opened_total\{reporter="source",[^}]*destination_service_name="PassthroughCluster"[^}]*\} [1-9]/,
      );
    } finally {
      outside.close();
    }
  });

  test('stopping removes every namespace it made', async () => {
    const names = [...mesh.mesh.workloads.values()].map((r) => r.netns!.name);
    expect(names).toHaveLength(6);
    await mesh.stop();
    const left = readdirSync('/var/run/netns').filter((n) => names.includes(n));
    expect(left).toEqual([]);
    mesh = undefined as unknown as Running;
  });
});
