/**
 * Istio's authz-ingress task (istio.io content/en/docs/tasks/security/authorization/authz-ingress/)
 * behind its "TCP/UDP Proxy Load Balancer": the load balancer puts the client's address in a PROXY
 * protocol header, and the gateway is told so by the mesh config's
 * `defaultConfig.gatewayTopology.proxyProtocol: {}` (the task enables it with an EnvoyFilter, which
 * mast does not read; Istio's ProxyConfig field does the same). The task's table: with the PROXY
 * protocol the client is matched by `remoteIpBlocks`; `ipBlocks` stays the direct peer, the load
 * balancer. Its own `mast local` (a gateway expecting the header refuses every connection without
 * one), httpbin in foo behind httpbin-gateway; the test is the load balancer, writing the header of
 * each client address it stands for on loopback.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type LocalMesh } from '../../../runtime/local/local-mesh';
import { proxyV2Header } from '../../../runtime/proxy/http/proxy-protocol';
import { until } from '../../support/poll';
import { gatewayDoc, gatewayRouteDoc, meshConfigDoc } from '../../support/mesh-yaml';
import { startLocal, stopLocal } from '../support';
import { httpbinWorkload } from './httpbin-mesh';

let dir = '';
let local: LocalMesh | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mast-authz-pp-'));
  writeFileSync(
    join(dir, 'mesh.yaml'),
    `${meshConfigDoc('defaultConfig:\n  gatewayTopology:\n    proxyProtocol: {}')}
---
${httpbinWorkload('foo', await freePort())}---
${gatewayDoc(['"*"'], 'httpbin-gateway', 'foo')}
---
${gatewayRouteDoc('httpbin', ['"*"'], 'httpbin.foo.svc.cluster.local', 'httpbin-gateway', { namespace: 'foo', port: 8000 })}
`,
  );
  local = await startLocal(dir);
}, 90_000);
afterAll(() => stopLocal(local, dir));

/**
 * `curl $INGRESS_HOST/headers` from `client` through the load balancer: one connection with the
 * PROXY header naming `client` (none when undefined), the status, or 0 when the gateway closed it unanswered.
 */
function curl(client: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const port = local!.gatewayPort;
    const socket = net.connect(port, '127.0.0.1', () => {
      const header = client ? proxyV2Header({ address: client, port: 40_000 }, { address: '127.0.0.1', port }) : Buffer.alloc(0);
      socket.write(Buffer.concat([header, Buffer.from('GET /headers HTTP/1.1\r\nhost: httpbin.example.com\r\nconnection: close\r\n\r\n')]));
    });
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d) => (got += d));
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0)));
    socket.on('error', () => undefined);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
    setTimeout(() => reject(new Error('no close in 15 s')), 15_000).unref();
  });
}

const CLIENT = '198.51.100.7';
const ANOTHER_CLIENT = '203.0.113.9';

/** The task's ingress-policy (action, field, blocks), applied; resolves once `client` gets `expected`. */
async function apply(action: string, field: 'ipBlocks' | 'remoteIpBlocks', blocks: string[], client: string, expected: number) {
  writeFileSync(
    join(dir, 'policy.yaml'),
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ingress-policy, namespace: istio-system }
spec:
  selector: { matchLabels: { app: istio-ingressgateway } }
  action: ${action}
  rules: [{ from: [{ source: { ${field}: [${blocks.map((b) => `"${b}"`).join(', ')}] } }] }]
`,
  );
  await until(`${client} answered ${expected} under ${action} ${field}`, async () => (await curl(client)) === expected, 15_000);
}

describe('authorization/authz-ingress behind a TCP proxy load balancer (PROXY protocol)', () => {
  test('before you begin: /headers answers 200 through the load balancer; a connection without its header is refused', async () => {
    expect(await curl(CLIENT)).toBe(200);
    expect(await curl(undefined)).toBe(0);
  });

  test('remoteIpBlocks ALLOW 1.2.3.4 and 5.6.7.0/24: denied (403); a client in 5.6.7.0/24 is allowed', async () => {
    await apply('ALLOW', 'remoteIpBlocks', ['1.2.3.4', '5.6.7.0/24'], CLIENT, 403);
    expect(await curl('5.6.7.8')).toBe(200);
  });

  test('the client IP added: allowed (200); another client behind the load balancer 403', async () => {
    await apply('ALLOW', 'remoteIpBlocks', ['1.2.3.4', '5.6.7.0/24', CLIENT], CLIENT, 200);
    expect(await curl(ANOTHER_CLIENT)).toBe(403);
  });

  test('DENY the client IP: denied (403); a different client allowed (200)', async () => {
    await apply('DENY', 'remoteIpBlocks', [CLIENT], CLIENT, 403);
    expect(await curl(ANOTHER_CLIENT)).toBe(200);
  });

  test('ipBlocks is the direct peer, the load balancer: ALLOW of the client address denies it (403), of the balancer allows it', async () => {
    await apply('ALLOW', 'ipBlocks', [CLIENT], CLIENT, 403);
    await apply('ALLOW', 'ipBlocks', ['127.0.0.1'], CLIENT, 200);
  });
});
