/**
 * Finding 9 of issue 19: no input from any peer terminates a process. A real mast-proxy process
 * (the bundle, so an exit cannot hide behind the test runner) is fed garbage from every side it
 * reads: clients on each kind of listener, upstreams and mirror targets answering with broken
 * status lines, chunked framing and endless heads, the admin and status ports, an app answering
 * its probes with nonsense, and a control plane sending junk. After each round it must still be
 * running and serve a good request. mastd gets the same from bad push-stream peers.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../runtime/local/local-mesh';
import { PUSH_PATH } from '../../runtime/contract/push-protocol';
import { peerInputChannel } from '../../runtime/proxy/contain';
import { UpstreamConn } from '../../runtime/proxy/upstream/conn';
import type { ProxyConfig, RouteConfig } from '../../runtime/contract/proxy-config';
import { backend, cluster, forward, get, raw, until, type Backend } from '../support/proxy';
import { tempDir } from '../support/temp-dir';
import { bundleMastd, bundleProxy, spawnProxy, type SpawnedProxy } from './spawned-proxy';
import { seededRandom as random } from '../support/seeded-random';

/** `text` with a few bytes changed, inserted (CR, LF, NUL, digits, anything) or cut off. */
function mutate(text: string, rnd: () => number): string {
  const pick = ['\r', '\n', '\0', ':', ' ', '0', 'f', '-', '\x7f', '\xff', String.fromCharCode(Math.floor(rnd() * 256))];
  let s = text;
  for (let n = 1 + Math.floor(rnd() * 4); n > 0; n--) {
    const at = Math.floor(rnd() * (s.length + 1));
    const c = pick[Math.floor(rnd() * pick.length)];
    const op = rnd();
    s = op < 0.4 ? s.slice(0, at) + c + s.slice(at + 1) : op < 0.8 ? s.slice(0, at) + c + s.slice(at) : s.slice(0, at);
  }
  return s;
}

const GOOD_RESPONSE = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n';

/** What a broken upstream answers, by the last path segment of the request it got. */
const BAD_RESPONSES: Record<string, string> = {
  'bad-status': 'HTTP/1.1 abc OK\r\n\r\n',
  'no-status-line': 'hello there\r\n\r\n',
  binary: '\x00\xff\x13\x10\r\n\r\n',
  'bad-chunk-size': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
  'huge-chunk-size': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffffffff\r\nabc',
  'bare-lf-trailer': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX: y\n\n',
  'chunk-without-crlf': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n',
  'two-lengths': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
  'negative-length': 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
  'length-and-chunked': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  'many-1xx': `${'HTTP/1.1 100 Continue\r\n\r\n'.repeat(500)}HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n`,
  'closed-mid-body': 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc',
  'bytes-after-response': 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nagarbage after the response\r\n\r\n',
  'header-without-colon': 'HTTP/1.1 200 OK\r\nnocolon\r\nContent-Length: 0\r\n\r\n',
};

/** An upstream (and mirror target, and app) that answers whatever its request's path names. */
async function brokenUpstream(): Promise<{ port: number; answered: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let answered = 0;
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (!buf.includes('\r\n\r\n')) return;
      const target = /^\S+ (\S+)/.exec(buf)?.[1] ?? '';
      buf = '';
      const name = target.slice(target.lastIndexOf('/') + 1);
      const seed = /^random-(\d+)$/.exec(name);
      answered++;
      if (name === 'endless-head') return void s.write(`HTTP/1.1 200 OK\r\nX-A: ${'a'.repeat(200_000)}`);
      s.end(seed ? mutate(GOOD_RESPONSE, random(Number(seed[1]))) : (BAD_RESPONSES[name] ?? GOOD_RESPONSE), 'latin1');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    answered: () => answered,
    close: () => new Promise((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
  };
}

const route = (name: string, prefix: string, action: RouteConfig['action']): RouteConfig => ({
  name,
  matches: [{ uri: { prefix } }],
  action,
});

/** Client-side garbage: broken framing, oversize heads, bytes that are not HTTP at all. */
const BAD_REQUESTS = [
  '\x00\x01\x02\x03\xff\xfe\r\n\r\n',
  'GET\r\n\r\n',
  'GET / HTTP/9.9\r\nHost: a\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n',
  'POST /good HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffffff\r\n',
  'POST /good HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;\x00=\x01\r\na\r\n0\r\nX: y\n\n',
  'POST /good HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
  'POST /good HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n',
  `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: a\r\n\r\n`,
  `GET / HTTP/1.1\r\n${'X: y\r\n'.repeat(5000)}\r\n`,
  'GET /%zz%00%ff HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET http://[::1 HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET / HTTP/1.1\r\nnocolon\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
  'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00',
  'GET /good HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x85garbage',
  'GET /good HTTP/1.1\r\nHost: a\r\n\r\n\x00\x01garbage pipelined after a good request\r\n\r\n',
  'GET /good HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n',
];

const VALID_REQUEST =
  'POST /good HTTP/1.1\r\nHost: alpha.example.com\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n3;e=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n';

describe('mast-proxy fed garbage from every side', () => {
  let good: Backend;
  let broken: Awaited<ReturnType<typeof brokenUpstream>>;
  let proxy: SpawnedProxy;
  let admin: number;
  let status: number;

  beforeAll(async () => {
    [good, broken, admin, status] = await Promise.all([backend('good'), brokenUpstream(), freePort(), freePort()]);
    // Listeners on one port are one listener: each gets its own.
    const [httpPort, ppPort, sniPort, tcpPort, tcpPpPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const cfg: ProxyConfig = {
      schema: 1,
      version: 'crash',
      listeners: [
        {
          name: 'http',
          port: httpPort,
          matchPort: 80,
          protocol: 'http',
          virtualHosts: [
            {
              name: 'all',
              domains: ['*'],
              routes: [
                route('evil', '/evil/', { kind: 'forward', destinations: [{ cluster: 'broken', weight: 100 }] }),
                route('mirrored', '/mirrored/', {
                  kind: 'forward',
                  destinations: [{ cluster: 'good', weight: 100 }],
                  mirrors: [{ cluster: 'broken', fraction: 1 }],
                }),
                forward('good'),
              ],
            },
          ],
        },
        {
          name: 'pp',
          port: ppPort,
          matchPort: 81,
          protocol: 'http',
          proxyProtocol: true,
          virtualHosts: [{ name: 'all', domains: ['*'], routes: [forward('good')] }],
        },
        {
          name: 'sni',
          port: sniPort,
          matchPort: 443,
          protocol: 'tcp',
          sniRoutes: [{ sniHosts: ['good.example.com'], destinations: [{ cluster: 'broken', weight: 100 }] }],
        },
        { name: 'tcp', port: tcpPort, matchPort: 9000, protocol: 'tcp', tcpDestinations: [{ cluster: 'broken', weight: 100 }] },
        {
          name: 'tcp-pp',
          port: tcpPpPort,
          matchPort: 9001,
          protocol: 'tcp',
          proxyProtocol: true,
          tcpDestinations: [{ cluster: 'broken', weight: 100 }],
        },
      ],
      clusters: [cluster('good', [good.port]), cluster('broken', [broken.port])],
    };
    const probers = {
      '/app-health/web/readyz': { httpGet: { port: broken.port, path: '/probe/bad-status' } },
      '/app-health/web/livez': { httpGet: { port: broken.port, path: '/probe/binary' } },
      '/app-health/web/startupz': { grpc: { port: broken.port } },
    };
    proxy = await spawnProxy(await bundleProxy(), cfg, ['--admin-port', String(admin), '--status-port', String(status)], {
      MAST_APP_PROBERS: JSON.stringify(probers),
    });
  }, 30_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([good?.close(), broken?.close()]);
  });

  /** The process is up and a good request goes through. */
  async function stillServing(): Promise<void> {
    if (proxy.exited() !== undefined) throw new Error(`mast-proxy exited (${proxy.exited()}): ${proxy.stderr().slice(-1500)}`);
    expect(await get(proxy.port('http'), '/good/after')).toMatchObject({ status: 200, body: 'good /good/after' });
  }

  test('broken upstream answers: bad status lines, chunked framing, lengths, 1xx floods, early closes', async () => {
    for (const name of Object.keys(BAD_RESPONSES)) {
      await raw(proxy.port('http'), `GET /evil/${name} HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n`, 2000);
      await stillServing();
    }
  }, 60_000);

  test('an upstream whose head never ends gets a 502, not unbounded memory', async () => {
    const reply = await raw(
      proxy.port('http'),
      'GET /evil/endless-head HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n',
      3000,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 502 /);
    await stillServing();
  });

  test('a mirror target answering the shadow request with any of those', async () => {
    for (const name of [...Object.keys(BAD_RESPONSES), 'endless-head']) {
      const before = broken.answered();
      expect(await get(proxy.port('http'), `/mirrored/${name}`)).toMatchObject({ status: 200 });
      // The shadow's answer may leave after the client's: the proxy must have it before the check.
      await until(`the shadow answered with ${name}`, () => broken.answered() > before, 2000);
      await stillServing();
    }
  }, 60_000);

  test('300 mutated upstream responses (fixed seed), to the request and to its mirror', async () => {
    for (let i = 0; i < 150; i += 15) {
      const request = (prefix: string, n: number) =>
        `GET /${prefix}/random-${n} HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n`;
      const batch = Array.from({ length: 15 }, (_, k) => i + k).flatMap((n) => [request('evil', n), request('mirrored', n)]);
      await Promise.all(batch.map((bytes) => raw(proxy.port('http'), bytes, 1000)));
      await stillServing();
    }
    await stillServing();
  }, 120_000);

  test('client garbage on the HTTP listener, then 400 mutations of a valid request (fixed seed)', async () => {
    await Promise.all(BAD_REQUESTS.map((bytes) => raw(proxy.port('http'), bytes, 1000)));
    await stillServing();
    const rnd = random(19);
    for (let i = 0; i < 400; i += 20) {
      await Promise.all(Array.from({ length: 20 }, () => raw(proxy.port('http'), mutate(VALID_REQUEST, rnd), 200)));
      expect(proxy.exited()).toBeUndefined();
    }
    await stillServing();
  }, 120_000);

  test('garbage on the PROXY protocol (HTTP and TCP), TLS passthrough (SNI) and TCP listeners', async () => {
    const rnd = random(9);
    const sig = '\r\n\r\n\0\r\nQUIT\n';
    const inputs: Record<string, string[]> = {
      pp: [
        'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\n\r\n',
        `${sig}\x21\x11\xff\xff`,
        `${sig}\x21\x11\x00\x0c\x01\x02`,
        `${sig}\x2f\x99\x00\x00GET /good HTTP/1.1\r\n\r\n`,
        '\x00'.repeat(64),
      ],
      sni: [
        '\x16\x03\x01\xff\xff\x01',
        '\x16\x03\x01\x00\x05\x01\xff\xff\xff\xff',
        `\x16\x03\x01\x00\x30\x01${'\xff'.repeat(47)}`,
        'GET / HTTP/1.1\r\n\r\n',
      ],
      tcp: ['\x00\xff garbage both ways', 'GET /evil/binary HTTP/1.1\r\n\r\n'],
    };
    inputs['tcp-pp'] = [...inputs.pp, `${sig}\x21\x11\x00\x0c\x7f\x00\x00\x01\x7f\x00\x00\x01\x00\x01\x00\x02\x00\xffgarbage`];
    for (const [listener, list] of Object.entries(inputs)) {
      const all = [...list, ...Array.from({ length: 30 }, () => mutate(list[Math.floor(rnd() * list.length)], rnd))];
      await Promise.all(all.map((bytes) => raw(proxy.port(listener), bytes, 500)));
    }
    await stillServing();
  }, 60_000);

  test('garbage on the admin and status ports, and an app answering its probes with nonsense', async () => {
    await Promise.all(
      [admin, status].flatMap((port) => [...BAD_REQUESTS, 'GET /stats/prometheus HTTP/1.1\r\n\r\n'].map((bytes) => raw(port, bytes, 500))),
    );
    for (const probe of ['readyz', 'livez', 'startupz'])
      expect(await get(status, `/app-health/web/${probe}`)).toMatchObject({ status: 503 });
    await stillServing();
    // The rounds above, as the proxy counted them (what a contained throw and a bad mirror answer leave).
    const metrics = (await get(admin, '/stats/prometheus')).body;
    expect(metrics).toMatch(/^mast_mirror_bad_responses_total [1-9]/m);
  }, 60_000);
});

describe('the line behind the parsers (contain.ts)', () => {
  test("a throw from an upstream connection's handler ends that connection, is published, and goes no further", async () => {
    const seen: unknown[] = [];
    const listen = (m: unknown) => seen.push(m);
    peerInputChannel.subscribe(listen);
    const server = net.createServer((s) => s.end('HTTP/1.1 200 OK\r\n\r\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
      const conn = new UpstreamConn(socket, 1000);
      const errors: string[] = [];
      conn.take({
        onData: () => {
          throw new Error('a parser bug');
        },
        onEnd: () => undefined,
        onError: (e) => errors.push(e.message),
      });
      await until('the connection closed', () => conn.destroyed);
      expect(errors).toEqual(['upstream connection closed']);
      expect(seen).toEqual([
        expect.objectContaining({
          code: 'MAST_PROXY_PEER_INPUT',
          side: 'upstream',
          error: expect.objectContaining({ message: 'a parser bug' }),
        }),
      ]);
    } finally {
      peerInputChannel.unsubscribe(listen);
      server.close();
    }
  });
});

describe('a control plane sending junk to mast-proxy', () => {
  test('the push client drops the stream and keeps running (and reconnecting)', async () => {
    const lines = [
      'not json\n',
      'null\n',
      '[]\n',
      '{"type":"config","config":null}\n',
      '{"type":"config","version":"x","config":{"listeners":"no"}}\n',
      '{"type":"delta","version":"y","delta":{"base":"none"}}\n',
      '{"type":"certificate","certificate":7}\n',
      'x'.repeat(100_000),
    ];
    let streams = 0;
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.on('error', () => undefined);
      stream.end(lines[streams++ % lines.length]);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const admin = await freePort();
    const dir = tempDir('mast-crash-push-');
    writeFileSync(join(dir, 'token'), 't', { mode: 0o600 });
    const plane = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const args = ['--control-plane', plane, '--token-file', join(dir, 'token'), '--port-map', '80=0', '--admin-port', String(admin)];
    const child = spawn(process.execPath, [await bundleProxy(), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let exited: number | null | undefined;
    child.on('exit', (code) => (exited = code));
    try {
      await until('every junk message sent at least once', () => streams >= lines.length * 2, 30_000);
      expect(exited).toBeUndefined();
      expect((await get(admin, '/ready')).status).toBeGreaterThan(0);
    } finally {
      child.kill('SIGKILL');
      server.close();
    }
  }, 60_000);
});

describe('mastd fed garbage by push-stream peers', () => {
  test('raw bytes, HTTP/1, broken HTTP/2 frames and junk messages on the push port; mastd stays up and ready', async () => {
    const dir = tempDir('mast-crash-mastd-');
    mkdirSync(join(dir, 'mesh'));
    writeFileSync(
      join(dir, 'mesh', 'mesh.yaml'),
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: web, namespace: default }\nspec: { hosts: [web.example.com], http: [{ route: [{ destination: { host: web } }] }] }\n',
    );
    writeFileSync(join(dir, 'token'), 't', { mode: 0o600 });
    const [push, monitoring] = [await freePort(), await freePort()];
    const args = [
      '--watch',
      join(dir, 'mesh'),
      '--push-port',
      String(push),
      '--monitoring-port',
      String(monitoring),
      '--token-file',
      join(dir, 'token'),
    ];
    const mastd = spawn(process.execPath, [await bundleMastd(), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let exited: number | null | undefined;
    let err = '';
    mastd.stderr!.on('data', (d) => (err += d));
    mastd.on('exit', (code) => (exited = code));
    try {
      await until('mastd started', () => /mastd started/.test(err), 20_000);
      const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
      const rnd = random(12);
      const frames = [
        '\x00\xff\x13 not http at all',
        'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
        `${preface}\xff\xff\xff\x04\x00\x00\x00\x00\x00`,
        `${preface}\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff\xff`,
        `${preface}\x00\x00\x04\x01\x05\x00\x00\x00\x01\xff\xff\xff\xff`,
        `${preface}\x00\x00\x00\x00\x01\x00\x00\x00\x07`,
      ];
      await Promise.all(
        [...frames, ...Array.from({ length: 30 }, () => mutate(frames[2 + Math.floor(rnd() * 4)], rnd))].map((bytes) =>
          raw(push, bytes, 500),
        ),
      );
      // Well-formed HTTP/2, then junk where the push protocol's messages go, with and without the token.
      const junk = [
        'not json\n',
        'null\n',
        '{"type":"hello"}\n',
        '{"type":"hello","id":"x","identity":{"mode":7}}\n',
        '{"type":"csr","csr":"junk"}\n',
        `${'{'.repeat(10_000)}\n`,
        'x'.repeat(200_000),
      ];
      const peers = junk.flatMap((body) => ['Bearer t', 'Bearer wrong', undefined].map((authorization) => ({ body, authorization })));
      await Promise.all(
        peers.map(async ({ body, authorization }) => {
          const session = http2.connect(`http://127.0.0.1:${push}`);
          session.on('error', () => undefined);
          const stream = session.request({ ':method': 'POST', ':path': PUSH_PATH, ...(authorization ? { authorization } : {}) });
          stream.on('error', () => undefined);
          stream.end(body);
          await new Promise<void>((r) => (stream.on('close', () => r()), setTimeout(r, 1000)));
          session.destroy();
        }),
      );
      expect(exited).toBeUndefined();
      expect((await get(monitoring, '/ready')).status).toBe(200);
    } finally {
      mastd.kill('SIGKILL');
    }
  }, 60_000);
});
