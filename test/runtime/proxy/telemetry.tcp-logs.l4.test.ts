/**
 * What Envoy's access log says of a TCP connection that L4 features touch, through real proxies: a
 * connection an AuthorizationPolicy denies (Envoy's network RBAC filter: closed, no upstream, flags
 * `-`, `%CONNECTION_TERMINATION_DETAILS%` `rbac_access_denied_matched_policy[ns[..]-policy[..]-rule[..]]`,
 * `[none]` when no ALLOW rule matched), and a connection behind a PROXY-protocol load balancer
 * (Envoy's proxy_protocol listener filter: `%DOWNSTREAM_REMOTE_ADDRESS%` is the header's source,
 * `%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%` the balancer).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { loadYaml } from '../../../api';
import { buildIndex, compile, makeSnapshot, type ProxyIdentity } from '../../../runtime/compile';
import type { AccessLogsConfig, ProxyConfig } from '../../../runtime/contract/proxy-config';
import { DEFAULT_LIMITS } from '../../../runtime/proxy/http/head';
import { proxyV2Header } from '../../../runtime/proxy/http/proxy-protocol';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { tcpRecorder, tcpTalk } from '../../security/tcp-recorder';
import { cluster, stoppedAfterEach, until } from '../../support/proxy';
import { tempDir } from '../../support/temp-dir';

const { stopAfter } = stoppedAfterEach();

const FORMAT =
  '%RESPONSE_FLAGS% %CONNECTION_TERMINATION_DETAILS% %UPSTREAM_HOST% %BYTES_RECEIVED% %DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS%\n';
const linesOf = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);

async function app() {
  const r = await tcpRecorder();
  stopAfter(() => r.close());
  return r;
}

async function run(proxy: MeshProxy, config: ProxyConfig): Promise<void> {
  stopAfter(() => proxy.drain(50));
  const applied = await proxy.apply(config);
  if (!applied.ok) throw new Error(applied.error);
}

/** A sidecar in front of a TCP app, compiled from these AuthorizationPolicies, logging its inbound side to `file`. */
async function sidecar(appPort: number, policies: string, file: string): Promise<number> {
  const identity: ProxyIdentity = { mode: 'sidecar', namespace: 'default', labels: { app: 'tcp-echo' }, inbound: { port: 0, appPort } };
  const compiled = compile(buildIndex(makeSnapshot(loadYaml(policies).objects, 'v1')), identity);
  const proxy = new MeshProxy({ mode: 'sidecar', workload: 'tcp-echo', namespace: 'default' }, undefined, DEFAULT_LIMITS);
  const accessLogs: AccessLogsConfig = { server: [{ provider: 'envoy', path: file, format: { text: FORMAT } }], client: [] };
  await run(proxy, { ...compiled, listeners: compiled.listeners.filter((l) => l.name === 'virtualInbound'), accessLogs });
  return proxy.boundPort('virtualInbound')!;
}

const policy = (name: string, spec: string) => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: default }
spec: ${spec}
`;

test('a connection a DENY policy closes is logged at once: no upstream, flags -, the matched policy as termination details', async () => {
  const echo = await app();
  const file = join(tempDir('mast-l4-log-'), 'server.log');
  const port = await sidecar(
    echo.port,
    policy('deny-port', `{ action: DENY, rules: [{ to: [{ operation: { ports: ["${echo.port}"] } }] }] }`),
    file,
  );
  const talk = await tcpTalk(port, 'hello');
  expect(talk).toEqual({ reply: '', closed: true });
  await until('the denied connection logged', () => linesOf(file).length >= 1);
  expect(linesOf(file)).toEqual([
    expect.stringMatching(
      /^- rbac_access_denied_matched_policy\[ns\[default\]-policy\[deny-port\]-rule\[0\]\] - 0 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+$/,
    ),
  ]);
  expect(echo.connections).toBe(0);
});

test('a connection no ALLOW rule matches: `rbac_access_denied_matched_policy[none]`, as Envoy says it', async () => {
  const echo = await app();
  const file = join(tempDir('mast-l4-log-'), 'server.log');
  const port = await sidecar(
    echo.port,
    policy('allow-other', '{ action: ALLOW, rules: [{ to: [{ operation: { ports: ["1"] } }] }] }'),
    file,
  );
  expect(await tcpTalk(port, 'hello')).toEqual({ reply: '', closed: true });
  await until('the denied connection logged', () => linesOf(file).length >= 1);
  expect(linesOf(file)[0]).toMatch(/^- rbac_access_denied_matched_policy\[none\] - 0 /);
});

test("behind a PROXY-protocol balancer, a TCP line's remote address is the header's source and the direct one the balancer's", async () => {
  const echo = await app();
  const file = join(tempDir('mast-l4-log-'), 'gateway.log');
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'istio-system' }, undefined, DEFAULT_LIMITS);
  await run(proxy, {
    schema: 1,
    version: 'v1',
    listeners: [
      { name: 'tcp', port: 0, matchPort: 31400, protocol: 'tcp', proxyProtocol: true, tcpDestinations: [{ cluster: 'echo', weight: 100 }] },
    ],
    clusters: [cluster('echo', [echo.port])],
    accessLogs: { server: [], client: [{ provider: 'envoy', path: file, format: { text: FORMAT } }] },
  });
  const port = proxy.boundPort('tcp')!;
  const header = proxyV2Header({ address: '203.0.113.7', port: 51234 }, { address: '10.0.0.5', port: 31400 });
  const reply = await new Promise<string>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(Buffer.concat([header, Buffer.from('ping')])));
    s.once('data', (d) => (s.end(), resolve(String(d))));
    s.on('error', reject);
  });
  expect(reply).toBe('ok:ping');
  await until('the connection logged at close', () => linesOf(file).length >= 1);
  expect(linesOf(file)[0]).toMatch(/^- - 127\.0\.0\.1:\d+ 4 203\.0\.113\.7:51234 127\.0\.0\.1:\d+$/);
});
