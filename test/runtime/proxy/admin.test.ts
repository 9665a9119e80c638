/** The admin and status ports: what probes, scrapes and operators ask them, and what they do with bad requests. */
import * as net from 'node:net';
import { startAdmin, startStatus, type AdminState } from '../../../runtime/proxy/admin';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { cluster, config, forward, stoppedAfterEach } from '../../support/proxy';
import { until } from '../../support/poll';

const { stopAfter } = stoppedAfterEach();

/** A raw exchange: everything the server sent until it closed the connection. */
function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    s.on('data', (d) => (got += d));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

async function admin(withConfig = true) {
  const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' });
  if (withConfig) {
    const r = await proxy.apply(config([forward('backend')], [cluster('backend', [1])], 'v7'));
    if (!r.ok) throw new Error(r.error);
  }
  const state: AdminState = { logLevel: 'info' };
  const server = await startAdmin(proxy, 0, state);
  stopAfter(async () => {
    await new Promise((r) => server.close(r));
    await proxy.drain(50);
  });
  return { proxy, state, port: (server.address() as net.AddressInfo).port };
}

describe('admin port', () => {
  it('answers readiness, the config dump and clusters, then closes the connection', async () => {
    const { port } = await admin();
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    expect([ready.status, await ready.text(), ready.headers.get('connection')]).toEqual([200, 'LIVE\n', 'close']);
    const dump = await (await fetch(`http://127.0.0.1:${port}/config_dump`)).json();
    expect(dump).toMatchObject({
      identity: { mode: 'gateway', workload: 'gw' },
      version: 'v7',
      lastError: null,
      config: { version: 'v7' },
    });
    const clusters = await fetch(`http://127.0.0.1:${port}/clusters`);
    expect(clusters.headers.get('content-type')).toBe('application/json');
    expect(JSON.stringify(await clusters.json())).toContain('backend');
  });

  it('is not ready without a config', async () => {
    const { port } = await admin(false);
    const r = await fetch(`http://127.0.0.1:${port}/healthz/ready`);
    expect([r.status, await r.text()]).toEqual([503, 'NO CONFIG\n']);
  });

  it('serves Prometheus text', async () => {
    const { port } = await admin();
    const r = await fetch(`http://127.0.0.1:${port}/stats/prometheus`);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    expect(await r.text()).toMatch(/# TYPE istio_requests_total counter/);
  });

  it("reports its memory as Envoy's /memory does, in bytes, beside Node's own figures", async () => {
    const { port } = await admin();
    const r = await fetch(`http://127.0.0.1:${port}/memory`);
    expect(r.headers.get('content-type')).toBe('application/json');
    const m = (await r.json()) as Record<string, string>;
    for (const k of ['allocated', 'heap_size', 'total_physical_bytes', 'v8_heap_used', 'external', 'v8_code', 'v8_young_generation'])
      expect(m[k]).toMatch(/^[1-9]\d*$/);
    expect(Number(m.v8_young_generation)).toBeLessThan(Number(m.v8_heap_committed));
    expect(Number(m.allocated)).toBe(Number(m.v8_heap_used) + Number(m.external));
    expect(Number(m.total_physical_bytes)).toBeGreaterThan(Number(m.v8_heap_used));
    if (process.platform === 'linux') expect(Number(m.anonymous)).toBeGreaterThan(0);
  });

  it('changes the log level on POST and refuses an unknown one', async () => {
    const { port, state } = await admin();
    const set = await fetch(`http://127.0.0.1:${port}/logging?level=debug`, { method: 'POST' });
    expect([set.status, await set.text(), state.logLevel]).toEqual([200, 'level: debug\n', 'debug']);
    const bad = await fetch(`http://127.0.0.1:${port}/logging?level=loud`, { method: 'POST' });
    expect([bad.status, await bad.text(), state.logLevel]).toEqual([400, 'unknown level "loud"\n', 'debug']);
    expect(await (await fetch(`http://127.0.0.1:${port}/logging?level=error`)).text()).toBe('level: debug\n');
  });

  it("sets one logger's level as Envoy's ?rbac=debug does; ?level= sets them all again", async () => {
    const { port, proxy } = await admin();
    const set = await fetch(`http://127.0.0.1:${port}/logging?rbac=debug`, { method: 'POST' });
    expect([set.status, await set.text(), proxy.logLevels.enabled('rbac', 'debug')]).toEqual([200, 'level: info\nrbac: debug\n', true]);
    const bad = await fetch(`http://127.0.0.1:${port}/logging?rbac=chatty`, { method: 'POST' });
    expect([bad.status, await bad.text()]).toEqual([400, 'unknown level "chatty"\n']);
    await fetch(`http://127.0.0.1:${port}/logging?level=warn`, { method: 'POST' });
    expect([proxy.logLevels.of('rbac'), proxy.logLevels.enabled('rbac', 'debug')]).toEqual(['warn', false]);
  });

  it('lists its paths on a 404', async () => {
    const { port } = await admin();
    const r = await fetch(`http://127.0.0.1:${port}/nope`);
    expect([r.status, await r.text()]).toEqual([
      404,
      'not found: /ready /stats/prometheus /config_dump /clusters /memory /certs /logging\n',
    ]);
  });

  it('answers a malformed request with 400, an oversized head with 431, and closes', async () => {
    const { port } = await admin();
    expect(await exchange(port, 'GARBAGE\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*connection: close\r\n\r\nmalformed request line\n$/,
    );
    expect(await exchange(port, `GET /ready HTTP/1.1\r\nx-big: ${'a'.repeat(70 * 1024)}`)).toMatch(/^HTTP\/1\.1 431 /);
    expect(await exchange(port, 'GET /ready HTTP/1.1\r\nHost: a\r\nHost b\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('takes a head sent in pieces, and the connections still open end when the port closes', async () => {
    const { port } = await admin();
    const answer = await new Promise<string>((resolve, reject) => {
      let got = '';
      const s = net.connect(port, '127.0.0.1', () => {
        s.write('GET /ready HT');
        setTimeout(() => s.write('TP/1.1\r\nhost: x\r\n\r\n'), 50);
      });
      s.on('data', (d) => (got += d));
      s.on('close', () => resolve(got));
      s.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nLIVE\n$/);

    const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' });
    const server = await startAdmin(proxy, 0, { logLevel: 'info' });
    const silent = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((r) => silent.once('connect', r));
    const closed = new Promise((r) => silent.once('close', r));
    await new Promise((r) => server.close(r));
    await closed;
  });

  it('drops a connection quiet for too long: a head never finished, or a client that never closes after its answer', async () => {
    const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' });
    const server = await startAdmin(proxy, 0, { logLevel: 'info' }, '127.0.0.1', 100);
    stopAfter(() => new Promise((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const half = net.connect(port, '127.0.0.1');
    const closed = new Promise((r) => half.once('close', r));
    half.write('GET /ready HTTP/1.1\r\n');
    await closed;
    // allowHalfOpen: this client reads the answer and its end, and never closes its own side.
    const lingering = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => lingering.write('GET /ready HTTP/1.1\r\n\r\n'));
    let answer = '';
    lingering.on('data', (d) => (answer += d));
    await new Promise((r) => lingering.once('end', r));
    expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*NO CONFIG\n$/);
    const open = () => new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
    await until('the lingering connection dropped', async () => (await open()) === 0, 2000);
    lingering.destroy();
  });
});

describe('status port', () => {
  it('has readiness and stats only', async () => {
    const proxy = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' });
    await proxy.apply(config([forward('backend')], [cluster('backend', [1])]));
    const server = await startStatus(proxy, 0, { host: '127.0.0.1' });
    stopAfter(async () => {
      await new Promise((r) => server.close(r));
      await proxy.drain(50);
    });
    const port = (server.address() as net.AddressInfo).port;
    expect((await fetch(`http://127.0.0.1:${port}/healthz/ready`)).status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${port}/stats/prometheus`)).text()).toMatch(/istio_requests_total/);
    const r = await fetch(`http://127.0.0.1:${port}/config_dump`);
    expect([r.status, await r.text()]).toEqual([404, 'not found: /healthz/ready /stats/prometheus\n']);
  });
});
