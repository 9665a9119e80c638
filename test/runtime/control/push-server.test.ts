import * as http2 from 'node:http2';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Mastd } from '../../../runtime/control/mastd';
import { FileSource } from '../../../runtime/control/file-source';
import { PushClient } from '../../../runtime/proxy/push-client';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { LineReader, PUSH_PATH, type ServerMessage } from '../../../runtime/contract/push-protocol';
import { buildIndex, compile } from '../../../runtime/compile';
import { localMesh } from '../../fixtures/local-mesh';
import { backend, get, until, type Backend } from '../../support/proxy';
import { tempDir } from '../../support/temp-dir';

const TOKEN = 'local-secret';

describe('mastd → mast-proxy push, with ACK/NACK', () => {
  let dir: string;
  let v1: Backend, v2: Backend, details: Backend;
  let mastd: Mastd;
  let ports: { pushPort: number; monitoringPort: number };
  let proxy: MeshProxy;
  let client: PushClient;
  const logs: string[] = [];
  const writeMesh = (extra = '') =>
    writeFileSync(
      join(dir, 'mesh.yaml'),
      localMesh({ reviewsV1: v1.port, reviewsV2: v2.port, details: details.port }, extra)
        .map((o) => stringify(o))
        .join('---\n'),
    );

  beforeAll(async () => {
    [v1, v2, details] = await Promise.all([backend('reviews-v1'), backend('reviews-v2'), backend('details')]);
    dir = tempDir('mast-push-');
    writeMesh();
    mastd = new Mastd({ source: new FileSource([dir], 50), token: TOKEN, log: (l) => logs.push(l), defaultIngressGateway: true });
    ports = await mastd.start(0, 0);
    proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' });
    client = new PushClient(proxy, {
      address: `127.0.0.1:${ports.pushPort}`,
      id: 'gw-1',
      token: TOKEN,
      identity: { mode: 'gateway', namespace: 'mast-system', labels: { istio: 'ingressgateway' }, portMap: { 80: 0 } },
    });
    client.start();
    await until('first config', () => proxy.config !== undefined);
  });

  afterAll(async () => {
    client.stop();
    await proxy.drain(100);
    await mastd.stop();
    await Promise.all([v1, v2, details].map((b) => b.close()));
  });

  const gatewayPort = () => proxy.boundPort('0.0.0.0_80')!;
  const status = () => mastd.push.statuses().find((s) => s.id === 'gw-1');

  test('a connected proxy gets the compiled config, ACKs it, and serves it', async () => {
    await until('ACK', () => status()?.acked === mastd.snapshot?.version);
    expect(status()).toMatchObject({ identity: { mode: 'gateway' }, sent: 'v1', acked: 'v1' });
    expect((await get(gatewayPort(), '/', { 'end-user': 'jason' })).body).toBe('reviews-v2 /');
  });

  test('an edit of the YAML is pushed and ACKed while the proxy serves', async () => {
    writeMesh(`    - name: all-v1
      match: [{ uri: { prefix: /pinned } }]
      route: [{ destination: { host: reviews, subset: v1 } }]
`);
    await until('v2 ACKed', () => status()?.acked === 'v2');
    expect((await get(gatewayPort(), '/pinned', { 'end-user': 'jason' })).body).toBe('reviews-v1 /pinned');
    // It came as a delta (the proxy says it takes them); applied, it is exactly what mastd compiled.
    expect(proxy.config).toEqual(compile(buildIndex(mastd.snapshot!), status()!.identity));
    const { values } = await mastd.push.histograms.convergence.get();
    expect(values.find((v) => v.metricName === 'pilot_proxy_convergence_time_count')?.value).toBeGreaterThan(0);
  });

  test('an invalid edit is rejected; the last good version of that resource keeps serving', async () => {
    writeMesh(`    - name: broken
      match: [{ uri: { prefix: /pinned } }]
      route: [{ destination: { host: reviews, subset: v1 }, weight: 0 }, { destination: { host: reviews, subset: v2 }, weight: 0 }]
`);
    await until('rejection', () => mastd.rejected.length > 0);
    expect(mastd.rejected[0]).toMatchObject({ code: 'MAST0101', kind: 'VirtualService', name: 'edge' });
    expect(logs.join('\n')).toMatch(/rejected VirtualService default\/edge spec.http\[0\].route: MAST0101/);
    await until('ACK of the snapshot that kept the old edge', () => status()?.acked === mastd.snapshot?.version);
    expect((await get(gatewayPort(), '/pinned', { 'end-user': 'jason' })).body).toBe('reviews-v1 /pinned');
  });

  test('a huge resource (over 1.5 MiB) is rejected; the last good version keeps serving', async () => {
    writeMesh(`    - name: huge
      match: [{ uri: { prefix: /${'x'.repeat(1_600_000)} } }]
      route: [{ destination: { host: reviews, subset: v2 } }]
`);
    await until('rejection', () => mastd.rejected.some((f) => f.code === 'MAST0010'));
    expect(mastd.rejected.find((f) => f.code === 'MAST0010')).toMatchObject({ kind: 'VirtualService', name: 'edge', path: 'metadata' });
    await until('ACK of the snapshot that kept the old edge', () => status()?.acked === mastd.snapshot?.version);
    expect((await get(gatewayPort(), '/x', { 'end-user': 'jason' })).status).toBe(200);
    writeMesh();
    await until('recovery', () => mastd.rejected.length === 0);
  });

  test('a wrong token is refused; a peer sending garbage is cut off without disturbing the others', async () => {
    const session = http2.connect(`http://127.0.0.1:${ports.pushPort}`);
    const status401 = await new Promise<number>((resolve) => {
      const s = session.request({ ':method': 'POST', ':path': PUSH_PATH, authorization: 'Bearer nope' });
      s.on('response', (h) => resolve(Number(h[':status'])));
      s.resume();
      s.end();
    });
    expect(status401).toBe(401);
    const garbage = session.request({ ':method': 'POST', ':path': PUSH_PATH, authorization: `Bearer ${TOKEN}` }, { endStream: false });
    garbage.on('error', () => undefined);
    const closed = new Promise((r) => garbage.on('close', r));
    garbage.write('this is not json\n');
    await closed;
    session.destroy();
    expect(logs.join('\n')).toMatch(/sent garbage: not JSON: "this is not json" \(MAST_PUSH_NOT_JSON\)/);
    expect((await get(gatewayPort(), '/')).status).toBe(200);
  });

  test('a peer sending an endless line (no newline) is cut off once it passes 256 KiB: mastd holds no more of it', async () => {
    const session = http2.connect(`http://127.0.0.1:${ports.pushPort}`);
    const endless = session.request({ ':method': 'POST', ':path': PUSH_PATH, authorization: `Bearer ${TOKEN}` }, { endStream: false });
    endless.on('error', () => undefined);
    const closed = new Promise((r) => endless.on('close', r));
    const chunk = 'x'.repeat(64 * 1024);
    let sent = 0;
    // Bounded: 8 MiB at most; the stream must close long before.
    const write = () => {
      while (!endless.destroyed && sent < 8 * 1024 * 1024 && endless.write(chunk)) sent += chunk.length;
      if (!endless.destroyed && sent < 8 * 1024 * 1024) endless.once('drain', write);
    };
    write();
    await closed;
    session.destroy();
    expect(sent).toBeLessThan(8 * 1024 * 1024);
    expect(logs.join('\n')).toMatch(/sent garbage: message longer than 262144 bytes \(MAST_PUSH_TOO_LONG\)/);
    expect((await get(gatewayPort(), '/')).status).toBe(200);
  });

  test('a proxy that takes deltas gets only the changes; one that cannot apply a delta gets the whole config', async () => {
    const session = http2.connect(`http://127.0.0.1:${ports.pushPort}`);
    const s = session.request({ ':method': 'POST', ':path': PUSH_PATH, authorization: `Bearer ${TOKEN}` }, { endStream: false });
    const inbox: ServerMessage[] = [];
    const reader = new LineReader();
    s.on('data', (chunk: Buffer) => reader.push(chunk, (line) => inbox.push(JSON.parse(line) as ServerMessage)));
    s.write(
      `${JSON.stringify({ type: 'hello', id: 'delta-taker', identity: { mode: 'gateway', namespace: 'mast-system', labels: { istio: 'ingressgateway' }, portMap: { 80: 0 } }, features: ['delta'] })}\n`,
    );
    const next = async (type: string) => {
      await until(`a ${type} message`, () => inbox.some((m) => m.type === type));
      return inbox.splice(
        inbox.findIndex((m) => m.type === type),
        1,
      )[0];
    };
    const first = (await next('config')) as Extract<ServerMessage, { type: 'config' }>;
    s.write(`${JSON.stringify({ type: 'ack', version: first.version })}\n`);
    writeMesh(`    - name: delta
      match: [{ uri: { prefix: /delta } }]
      route: [{ destination: { host: reviews, subset: v1 } }]
`);
    const delta = (await next('delta')) as Extract<ServerMessage, { type: 'delta' }>;
    expect(delta.delta.base).toBe(first.version);
    // Only the changed virtual host travels; the clusters did not change.
    expect(delta.delta.clusters).toEqual({ set: [], remove: [] });
    expect(JSON.stringify(delta).length).toBeLessThan(JSON.stringify(first).length);
    s.write(`${JSON.stringify({ type: 'nack', version: delta.version, error: 'delta for v0 but the running config is v9' })}\n`);
    const whole = (await next('config')) as Extract<ServerMessage, { type: 'config' }>;
    expect(whole.version).toBe(delta.version);
    expect(logs.join('\n')).toMatch(/delta-taker could not apply delta/);
    s.close();
    session.destroy();
    writeMesh();
    await until('gateway back on the plain mesh', () => status()?.acked === mastd.snapshot?.version);
  });

  test('a NACK is recorded with its error', async () => {
    const session = http2.connect(`http://127.0.0.1:${ports.pushPort}`);
    const s = session.request({ ':method': 'POST', ':path': PUSH_PATH, authorization: `Bearer ${TOKEN}` }, { endStream: false });
    s.write(
      `${JSON.stringify({ type: 'hello', id: 'picky', identity: { mode: 'sidecar', namespace: 'default', labels: { app: 'x' } } })}\n`,
    );
    // The version NACKed is the one this proxy was sent (a late file event may publish another meanwhile).
    const inbox: ServerMessage[] = [];
    const reader = new LineReader();
    s.on('data', (chunk: Buffer) => reader.push(chunk, (line) => inbox.push(JSON.parse(line) as ServerMessage)));
    const sent = (await until('a config', () => inbox.find((m) => m.type === 'config'))) as Extract<ServerMessage, { type: 'config' }>;
    s.write(`${JSON.stringify({ type: 'nack', version: sent.version, error: 'cannot listen: EADDRINUSE' })}\n`);
    await until('NACK recorded', () => mastd.push.statuses().some((p) => p.id === 'picky' && p.nacked !== undefined));
    expect(mastd.push.statuses().find((p) => p.id === 'picky')!.nacked).toEqual({
      version: sent.version,
      error: 'cannot listen: EADDRINUSE',
    });
    s.close();
    session.destroy();
  });

  test('when mastd goes away the proxy keeps its config; when it returns the proxy reconnects and ACKs', async () => {
    // Caught up first: a late file event from an earlier edit must not land between the read and the stop.
    await until('the proxy on the current version', () => proxy.config?.version === mastd.snapshot?.version);
    const version = proxy.config!.version;
    await mastd.stop();
    await until('disconnect', () => !client.connected);
    expect((await get(gatewayPort(), '/')).status).toBe(200);
    expect(proxy.config!.version).toBe(version);
    mastd = new Mastd({ source: new FileSource([dir], 50), token: TOKEN, defaultIngressGateway: true });
    await mastd.start(ports.pushPort, 0);
    await until('reconnect and ACK', () => mastd.push.statuses().some((p) => p.id === 'gw-1' && p.acked === mastd.snapshot?.version), 8000);
  });
});
