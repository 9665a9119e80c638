/**
 * TCP connections in the access log, through a real sidecar: one line per connection when it
 * closes (never while it is open), with its bytes and duration, through the logs of its side
 * (client for outbound, server for inbound), as Envoy's tcp_proxy logs; a connection the proxy
 * refuses logs with its flag (UH for the BlackHoleCluster, NR for a gateway TLS name no server
 * has, UF for an upstream that refuses); the --access-log flag's JSON log has them too.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import * as tls from 'node:tls';
import type { AccessLogsConfig, ListenerConfig, ProxyConfig } from '../../../runtime/contract/proxy-config';
import { DEFAULT_LIMITS } from '../../../runtime/proxy/http/head';
import { MeshProxy } from '../../../runtime/proxy/mesh-proxy';
import { cluster, until } from '../../support/proxy';
import { tempDir } from '../../support/temp-dir';

async function echo(): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((s) => s.on('data', (d) => s.write(`echo:${d}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** A client connection that sends a message and resolves with the reply. */
function client(port: number): Promise<{ say: (text: string) => Promise<string>; close: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () =>
      resolve({
        say: (text) =>
          new Promise((r) => {
            s.once('data', (d) => r(String(d)));
            s.write(text);
          }),
        close: () => new Promise((r) => s.once('close', () => r()).end()),
      }),
    );
    s.on('error', reject);
  });
}

const FORMAT =
  '%UPSTREAM_CLUSTER% %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %REQ(:METHOD)% %REQUESTED_SERVER_NAME%\n';

function sidecar(listeners: ListenerConfig[], clusters: ProxyConfig['clusters'], accessLogs?: AccessLogsConfig): ProxyConfig {
  return { schema: 1, version: `v${Math.random()}`, listeners, clusters, ...(accessLogs ? { accessLogs } : {}) };
}

const proxies: MeshProxy[] = [];
afterAll(() => Promise.all(proxies.map((p) => p.drain(50))));
function newSidecar(flag?: PassThrough): MeshProxy {
  const p = new MeshProxy({ mode: 'sidecar', workload: 'client', namespace: 'shop' }, flag, DEFAULT_LIMITS);
  proxies.push(p);
  return p;
}

/** A TLS client asking for `unknown.example`: resolves when the proxy has closed (or reset) it. */
async function reset(port: number): Promise<void> {
  const s = tls.connect({ port, host: '127.0.0.1', servername: 'unknown.example', rejectUnauthorized: false });
  await new Promise((r) => s.on('error', r).on('close', r));
}

const linesOf = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);

test('an outbound TCP connection writes one client line at close with its bytes and duration; an inbound one a server line', async () => {
  const db = await echo();
  const dir = tempDir('mast-tcp-log-');
  const out = join(dir, 'client.log');
  const inb = join(dir, 'server.log');
  const logs: AccessLogsConfig = {
    client: [{ provider: 'client', path: out, format: { text: FORMAT } }],
    server: [{ provider: 'server', path: inb, format: { text: `in ${FORMAT}` } }],
  };
  const p = newSidecar();
  const server = newSidecar();
  const outbound = sidecar(
    [{ name: 'tcp', port: 0, matchPort: 5432, protocol: 'tcp', tcpDestinations: [{ cluster: 'db', weight: 100 }] }],
    [cluster('db', [db.port])],
    logs,
  );
  expect(await p.apply(outbound)).toMatchObject({ ok: true });
  const applied = await server.apply(
    sidecar(
      [
        {
          name: 'virtualInbound',
          trafficDirection: 'INBOUND',
          port: 0,
          matchPort: 5432,
          protocol: 'http',
          virtualHosts: [
            {
              name: 'in',
              domains: ['*'],
              routes: [{ name: 'default', matches: [], action: { kind: 'forward', destinations: [{ cluster: 'inbound', weight: 100 }] } }],
            },
          ],
        },
      ],
      [{ ...cluster('inbound', [db.port]), host: '127.0.0.1' }],
      logs,
    ),
  );
  expect(applied).toMatchObject({ ok: true });
  try {
    const opened = Date.now();
    const c = await client(p.boundPort('tcp')!);
    expect(await c.say('hello')).toBe('echo:hello');
    expect(await c.say('again!')).toBe('echo:again!');
    await c.close();
    await until('the client line', () => linesOf(out).length > 0);
    // Written by then: the connection's whole life is within this.
    const elapsed = Date.now() - opened;
    // One line, written at close: it counts both messages each way (a line written while open could not).
    expect(linesOf(out)).toHaveLength(1);
    const [line] = linesOf(out);
    const [name, code, flags, received, sent, duration, method, sni] = line.split(' ');
    expect({ name, code, flags, received, sent, method, sni }).toEqual({
      name: 'db',
      code: '0',
      flags: '-',
      received: '11',
      sent: '21',
      method: '-',
      sni: '-',
    });
    expect(Number(duration)).toBeGreaterThanOrEqual(0);
    expect(Number(duration)).toBeLessThanOrEqual(elapsed);

    // Not HTTP on the inbound port: proxied as TCP to the app, logged by the server side's logs.
    const i = await client(server.boundPort('virtualInbound')!);
    expect(await i.say('\x00bin')).toBe('echo:\x00bin');
    await i.close();
    await until('the server line', () => linesOf(inb).length > 0);
    expect(linesOf(inb)).toEqual([expect.stringMatching(/^in inbound 0 - 4 9 \d+ - -$/)]);
    expect(linesOf(out)).toHaveLength(1);
  } finally {
    db.close();
  }
});

test('a TLS connection to a name no route has is reset to the BlackHoleCluster and logged UH with its server name, in the pushed log and the flag log', async () => {
  const db = await echo();
  const dir = tempDir('mast-tcp-log-');
  const out = join(dir, 'client.log');
  const tlsPort: ListenerConfig = {
    name: 'tls',
    port: 0,
    matchPort: 443,
    protocol: 'tcp',
    trafficDirection: 'OUTBOUND',
    sniRoutes: [{ sniHosts: ['known.example'], destinations: [{ cluster: 'db', weight: 100 }] }],
  };
  let flagText = '';
  const flag = new PassThrough();
  flag.on('data', (d) => (flagText += d));
  const p = newSidecar(flag);
  try {
    const logs = { client: [{ provider: 'client', path: out, format: { text: FORMAT } }], server: [] };
    expect(await p.apply(sidecar([tlsPort], [cluster('db', [db.port])], logs))).toMatchObject({ ok: true });
    await reset(p.boundPort('tls')!);
    await until('the black hole line', () => linesOf(out).length > 0);
    expect(linesOf(out)).toEqual(['BlackHoleCluster 0 UH 0 0 0 - unknown.example']);

    // Without access logs in the config, the flag's JSON log has the connection too.
    expect(await p.apply(sidecar([tlsPort], [cluster('db', [db.port])]))).toMatchObject({ ok: true });
    await reset(p.boundPort('tls')!);
    await until("the flag's line", () => flagText.includes('BlackHoleCluster'));
    expect(JSON.parse(flagText.trim())).toMatchObject({
      method: null,
      protocol: null,
      response_code: 0,
      response_flags: 'UH',
      upstream_cluster: 'BlackHoleCluster',
      upstream_host: null,
      requested_server_name: 'unknown.example',
      bytes_received: 0,
      bytes_sent: 0,
    });
    expect(linesOf(out)).toHaveLength(1);
  } finally {
    db.close();
  }
});

test("a gateway's TLS port with no server for the name: closed and logged NR (Envoy's listener log of no filter chain)", async () => {
  const db = await echo();
  const out = join(tempDir('mast-tcp-log-'), 'gateway.log');
  const p = new MeshProxy({ mode: 'gateway', workload: 'gw', namespace: 'mast-system' }, undefined, DEFAULT_LIMITS);
  proxies.push(p);
  try {
    const passthrough: ListenerConfig = {
      name: 'tls',
      port: 0,
      matchPort: 443,
      protocol: 'tcp',
      sniRoutes: [{ sniHosts: ['known.example'], destinations: [{ cluster: 'db', weight: 100 }] }],
    };
    const logs = { client: [{ provider: 'gw', path: out, format: { text: FORMAT } }], server: [] };
    expect(await p.apply(sidecar([passthrough], [cluster('db', [db.port])], logs))).toMatchObject({ ok: true });
    await reset(p.boundPort('tls')!);
    await until('the NR line', () => linesOf(out).length > 0);
    expect(linesOf(out)).toEqual(['- 0 NR 0 0 0 - unknown.example']);
  } finally {
    db.close();
  }
});

test('an upstream that refuses the connection: the client is closed and the connection logged UF, with the endpoint it tried and why', async () => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as net.AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const out = join(tempDir('mast-tcp-log-'), 'client.log');
  const p = newSidecar();
  const logs = {
    client: [{ provider: 'client', path: out, format: { text: `%UPSTREAM_HOST% %UPSTREAM_TRANSPORT_FAILURE_REASON% ${FORMAT}` } }],
    server: [],
  };
  const listener: ListenerConfig = {
    name: 'tcp',
    port: 0,
    matchPort: 5432,
    protocol: 'tcp',
    tcpDestinations: [{ cluster: 'db', weight: 100 }],
  };
  expect(await p.apply(sidecar([listener], [cluster('db', [deadPort])], logs))).toMatchObject({ ok: true });
  const s = net.connect(p.boundPort('tcp')!, '127.0.0.1');
  await new Promise((r) => s.on('error', r).on('close', r));
  await until('the UF line', () => linesOf(out).length > 0);
  expect(linesOf(out)).toEqual([expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1:${deadPort} ECONNREFUSED db 0 UF 0 0 \\d+ - -$`))]);
});
