/**
 * Istio's task traffic-management/egress/egress-control, the steps that need captured traffic
 * (`mast local --intercept`): the app in productpage's network namespace calls a server outside
 * the mesh by address, with no proxy settings, as the task's `sleep` pod curls external hosts.
 * Under ALLOW_ANY (the default) the call passes through (the task: 200); under REGISTRY_ONLY a
 * connection to a port no service has is reset (the task's curl exit code 35 on HTTPS: the TLS
 * handshake meets a reset) and an HTTP request on a port the mesh serves is answered 502.
 * Needs root, `ip netns` and iptables; skipped with the reason printed otherwise.
 */
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { captureUnavailable } from './captured-sleep';
import { meshConfigDoc } from '../../support/mesh-yaml';
import { startExample, type Running } from '../support';

const reason = captureUnavailable('egress-control');

(reason ? describe.skip : describe)('egress-control, captured', () => {
  let mesh: Running;
  let outside: http.Server;
  let knownPort: http.Server;
  let address: string;
  let netns: string;
  let hits = 0;
  beforeAll(async () => {
    mesh = await startExample({ intercept: true });
    const pp = mesh.mesh.workloads.get('default/productpage-v1')!;
    address = pp.netns!.gateway;
    netns = pp.netns!.name;
    const serve = () =>
      http.createServer((_req, res) => {
        hits++;
        res.end('outside');
      });
    // One server on a port no service has, one on the port bookinfo's services share (9080), at an address outside the mesh.
    outside = serve();
    knownPort = serve();
    await new Promise<void>((r) => outside.listen(0, address, r));
    await new Promise<void>((r) => knownPort.listen(9080, address, r));
  }, 90_000);
  afterAll(async () => {
    outside?.close();
    knownPort?.close();
    await mesh?.stop();
  });

  /** What the app gets for GET http://<address>:<port>/ from productpage's namespace: `<status> <body>` or `error <code>`. */
  function curl(port: number): Promise<string> {
    const code = `require('http').get('http://${address}:${port}/',r=>{let b='';r.on('data',c=>b+=c);r.on('end',()=>console.log(r.statusCode+' '+b))}).on('error',e=>console.log('error '+(e.code||e.message)))`;
    return new Promise((resolve, reject) =>
      execFile('ip', ['netns', 'exec', netns, process.execPath, '-e', code], { timeout: 10_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout.trim()),
      ),
    );
  }

  test('ALLOW_ANY (the default): a host outside the mesh is reached, on any port', async () => {
    expect(await curl((outside.address() as AddressInfo).port)).toBe('200 outside');
    expect(await curl(9080)).toBe('200 outside');
  });

  test('REGISTRY_ONLY: the connection is reset (an unknown port), the request refused with 502 (a port the mesh serves)', async () => {
    await mesh.edit('mesh/meshconfig.yaml', () => meshConfigDoc('outboundTrafficPolicy:\n  mode: REGISTRY_ONLY'));
    const before = hits;
    expect(await curl((outside.address() as AddressInfo).port)).toBe('error ECONNRESET');
    // Istio's block_all answer has no body.
    expect(await curl(9080)).toBe('502');
    expect(hits).toBe(before);
    const pp = mesh.mesh.workloads.get('default/productpage-v1')!;
    const stats = await (await fetch(`http://${pp.adminHost}:${pp.adminPort}/stats/prometheus`)).text();
    // Istio names the refused connection's destination BlackHoleCluster, as service and as service name.
    expect(stats).toMatch(
      /istio_tcp_connections_opened_total\{reporter="source",[^}]*destination_service="BlackHoleCluster",[^}]*destination_service_name="BlackHoleCluster",[^}]*\} [1-9]/,
    );
  });
});
