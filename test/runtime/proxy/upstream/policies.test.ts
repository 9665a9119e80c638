/** DestinationRule and retry policies through a real proxy on loopback: what each backend sees. */
import * as http from 'node:http';
import * as net from 'node:net';
import type { LbPolicy } from '../../../../runtime/contract/proxy-config';
import { cluster, config, forward, get, raw, stoppedAfterEach, until } from '../../../support/proxy';
import { seededRandom } from '../../../support/seeded-random';

const { withBackend, proxyFor, stopAfter } = stoppedAfterEach();
const NO_RETRY = { retries: { attempts: 0, retryOn: [] } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The whole reply to `request`; resolves only when the proxy closes the connection (else the test times out). */
const untilClosed = (port: number, request: string) =>
  new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let out = '';
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('close', () => resolve(out));
  });

/** Three endpoints (backends a, b, c) behind one cluster balanced by `lb`, and the proxy's port. */
async function behindThree(lb: LbPolicy) {
  const bs = [await withBackend('a'), await withBackend('b'), await withBackend('c')];
  const { port } = await proxyFor(
    config(
      [forward('c')],
      [
        cluster(
          'c',
          bs.map((b) => b.port),
          { lb },
        ),
      ],
    ),
  );
  return { bs, port };
}

describe('load balancing', () => {
  test('ROUND_ROBIN takes the endpoints in turn', async () => {
    const { bs, port } = await behindThree({ kind: 'round_robin' });
    for (let i = 0; i < 30; i++) await get(port);
    expect(bs.map((b) => b.seen.length)).toEqual([10, 10, 10]);
  });

  test('RANDOM spreads 400 requests over two endpoints within ±15%', async () => {
    const a = await withBackend('a');
    const b = await withBackend('b');
    const { port } = await proxyFor(config([forward('c')], [cluster('c', [a.port, b.port], { lb: { kind: 'random' } })]));
    for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 20 }, () => get(port)));
    expect(a.seen.length + b.seen.length).toBe(400);
    expect(a.seen.length / 400).toBeGreaterThan(0.35);
    expect(a.seen.length / 400).toBeLessThan(0.65);
  });

  test('LEAST_REQUEST sends new requests away from an endpoint still busy with earlier ones', async () => {
    // A seeded Math.random: the two random choices are the same on every run.
    const random = jest.spyOn(Math, 'random').mockImplementation(seededRandom(42));
    try {
      const held: Array<() => void> = [];
      const slow = await withBackend('slow', (_req, res) => held.push(() => res.end('slow')));
      const fast = await withBackend('fast');
      const { port } = await proxyFor(
        config([forward('c', NO_RETRY)], [cluster('c', [slow.port, fast.port], { lb: { kind: 'least_request' } })]),
      );
      const replies = [];
      for (let i = 0; i < 40; i++) {
        replies.push(get(port));
        await sleep(10);
      }
      held.forEach((release) => release());
      await Promise.all(replies);
      // Round robin would give the busy one 20. Two random choices (with replacement, as Envoy)
      // pick it only when both land on it (a quarter of the time) once it holds more requests.
      expect(slow.seen.length).toBeLessThanOrEqual(15);
      expect(slow.seen.length + fast.seen.length).toBe(40);
    } finally {
      random.mockRestore();
    }
  });
});

describe('consistent hash', () => {
  /** The endpoints 12 users land on, each checked to stay on one over 4 requests. */
  async function spread(lb: LbPolicy, request: (user: string) => [string, Record<string, string>]) {
    const { port } = await behindThree(lb);
    const endpointOf = new Map<string, string>();
    for (let u = 0; u < 12; u++) {
      const user = `user-${u}`;
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) seen.add((await get(port, ...request(user))).body.split(' ')[0]);
      expect(seen.size).toBe(1); // one user, one endpoint
      endpointOf.set(user, [...seen][0]);
    }
    return new Set(endpointOf.values());
  }

  test('on a header: each user stays on one endpoint, users spread', async () => {
    expect((await spread({ kind: 'hash', header: 'x-user' }, (u) => ['/', { 'x-user': u }])).size).toBeGreaterThan(1);
  });

  test('on a cookie', async () => {
    expect((await spread({ kind: 'hash', cookie: 'session' }, (u) => ['/', { cookie: `theme=dark; session=${u}` }])).size).toBeGreaterThan(
      1,
    );
  });

  test("on a cookie with a ttl: a client without it gets one made (beside the app's own cookies), and sending it back keeps it on one endpoint", async () => {
    const bs = [0, 1, 2].map(async (i) => withBackend(`e${i}`, (_req, res) => res.setHeader('set-cookie', 'app=1').end(`e${i}`)));
    const ports = (await Promise.all(bs)).map((b) => b.port);
    const { port } = await proxyFor(
      config([forward('c')], [cluster('c', ports, { lb: { kind: 'hash', cookie: 'route', cookieTtlMs: 3_600_000, cookiePath: '/shop' } })]),
    );
    const first = await get(port);
    const cookies = first.headers['set-cookie'] as unknown as string[];
    expect(cookies).toContain('app=1');
    const made = cookies.find((c) => c.startsWith('route='))!;
    expect(made).toMatch(/^route="[0-9a-f]{8}"; Max-Age=3600; Path=\/shop; HttpOnly$/);
    const value = made.slice('route='.length, made.indexOf(';'));
    const endpoints = new Set<string>([first.body]);
    for (let i = 0; i < 8; i++) {
      const again = await get(port, '/', { cookie: `route=${value}` });
      endpoints.add(again.body);
      expect(again.headers['set-cookie']).toEqual(['app=1']); // sent back: none made again
    }
    expect(endpoints.size).toBe(1);
  });

  test('on a cookie with a ttl of 0: the cookie made is a session cookie (no Max-Age)', async () => {
    const a = await withBackend('a');
    const { port } = await proxyFor(
      config([forward('c')], [cluster('c', [a.port], { lb: { kind: 'hash', cookie: 'route', cookieTtlMs: 0 } })]),
    );
    expect((await get(port)).headers['set-cookie']).toEqual([expect.stringMatching(/^route="[0-9a-f]{8}"; HttpOnly$/)]);
  });

  test('on a query parameter', async () => {
    expect((await spread({ kind: 'hash', queryParameter: 'user' }, (u) => [`/items?page=2&user=${u}`, {}])).size).toBeGreaterThan(1);
  });

  test('on the source IP: one client, one endpoint', async () => {
    const { bs, port } = await behindThree({ kind: 'hash', sourceIp: true });
    for (let i = 0; i < 9; i++) await get(port);
    expect(bs.map((b) => b.seen.length).sort()).toEqual([0, 0, 9]);
  });
});

describe('retry policies', () => {
  /** A backend that answers `status` once, then 200, behind a route that retries on `on`. */
  async function failingOnce(on: string, status: number) {
    const a = await withBackend('a', (_req, res, n) => {
      res.statusCode = n === 1 ? status : 200;
      res.end(n === 1 ? 'fail' : 'ok');
    });
    const { port } = await proxyFor(config([forward('a', { retries: { attempts: 2, retryOn: [on] } })], [cluster('a', [a.port])]));
    return { a, port };
  }

  test.each([
    ['gateway-error', 502],
    ['gateway-error', 504],
    ['5xx', 500],
    ['retriable-4xx', 409],
    ['503', 503],
  ])('retryOn %s retries a %i once; the client gets the success', async (on, status) => {
    const { a, port } = await failingOnce(on, status);
    const r = await get(port);
    expect([r.status, r.body, a.seen.length]).toEqual([200, 'ok', 2]);
  });

  test.each([
    ['5xx', 404],
    ['gateway-error', 500],
    ['retriable-4xx', 404],
  ])('retryOn %s does not retry a %i', async (on, status) => {
    const { a, port } = await failingOnce(on, status);
    expect((await get(port)).status).toBe(status);
    expect(a.seen).toHaveLength(1);
  });

  test('retryOn reset: a connection reset before the response is retried; without it, 503 UC', async () => {
    const resetFirst = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => (n === 1 ? req.socket.destroy() : res.end('ok'));
    const a = await withBackend('a', resetFirst);
    const { port } = await proxyFor(config([forward('a', { retries: { attempts: 1, retryOn: ['reset'] } })], [cluster('a', [a.port])]));
    expect((await get(port)).body).toBe('ok');
    const b = await withBackend('b', resetFirst);
    const { port: port2, proxy } = await proxyFor(config([forward('b', NO_RETRY)], [cluster('b', [b.port])]));
    expect((await get(port2)).status).toBe(503);
    expect(proxy.metrics.render()).toMatch(/response_code="503",response_flags="UC"/);
  });

  test('perTryTimeout: a hung attempt is abandoned and retried; the client gets the second answer', async () => {
    const a = await withBackend('a', (_req, res, n) => (n === 1 ? setTimeout(() => res.end('late'), 1500) : res.end('ok')));
    const { port } = await proxyFor(
      config(
        [forward('a', { timeoutMs: 5000, retries: { attempts: 2, perTryTimeoutMs: 150, retryOn: ['5xx'] } })],
        [cluster('a', [a.port])],
      ),
    );
    // 'late' would be the first attempt's answer: 'ok' is the retry's.
    expect((await get(port)).body).toBe('ok');
    expect(a.seen).toHaveLength(2);
  });

  test('a request whose body was streamed (beyond what is kept for a retry) is not retried', async () => {
    const a = await withBackend('a', (_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const { port } = await proxyFor(config([forward('a', { retries: { attempts: 2, retryOn: ['503'] } })], [cluster('a', [a.port])]));
    const big = 'x'.repeat(3 * 1024 * 1024);
    const r = await get(port, '/upload', { 'content-type': 'text/plain' }, 'POST', big);
    expect(r.status).toBe(503);
    expect(a.seen).toHaveLength(1);
    expect(a.seen[0].body.length).toBe(big.length);
    // A small body is kept and resent whole.
    const small = await get(port, '/upload', {}, 'POST', 'hello');
    expect(small.status).toBe(503);
    expect(a.seen.slice(1).map((s) => s.body)).toEqual(['hello', 'hello', 'hello']);
  });
});

describe('percentages', () => {
  // The fractions themselves are checked over 20,000 seeded draws in test/runtime/proxy/request/route.test.ts;
  // here, that the proxy acts on the decision: some aborted, the others served; some mirrored, every one arriving.
  test('fault abort and mirroring apply to a part of the requests, through the proxy', async () => {
    const main = await withBackend('main');
    const shadow = await withBackend('shadow');
    const { port, proxy } = await proxyFor(
      config(
        [
          forward(
            'main',
            {},
            { name: 'abort', matches: [{ uri: { prefix: '/abort' } }], fault: { abort: { status: 503, fraction: 0.3 } } },
          ),
          forward('main', { mirrors: [{ cluster: 'shadow', fraction: 0.5 }] }, { name: 'mirror' }),
        ],
        [cluster('main', [main.port]), cluster('shadow', [shadow.port])],
      ),
    );
    // 100 requests each: with fractions 0.3 and 0.5, none or all happening has odds below 1e-15.
    let aborted = 0;
    for (let i = 0; i < 5; i++)
      aborted += (await Promise.all(Array.from({ length: 20 }, () => get(port, '/abort')))).filter((r) => r.status === 503).length;
    expect(aborted).toBeGreaterThan(0);
    expect(aborted).toBeLessThan(100);
    expect(main.seen).toHaveLength(100 - aborted);
    for (let i = 0; i < 5; i++) await Promise.all(Array.from({ length: 20 }, () => get(port, '/m')));
    const mirrored = () => proxy.metrics.snapshot().counters.find(([name]) => name === 'mast_mirror_requests_total')?.[1] ?? 0;
    expect(mirrored()).toBeGreaterThan(0);
    expect(mirrored()).toBeLessThan(100);
    // Mirrored requests are fire-and-forget: wait for each one the proxy sent to land.
    await until('every mirrored request at the shadow', () => shadow.seen.length === mirrored());
    expect(main.seen).toHaveLength(200 - aborted);
  });
});

describe('outlier detection', () => {
  test('consecutive gateway errors eject an endpoint; maxEjectionPercent 50 keeps one of two serving', async () => {
    const bad = (_req: http.IncomingMessage, res: http.ServerResponse) => ((res.statusCode = 502), res.end('bad'));
    const a = await withBackend('a', bad);
    const b = await withBackend('b', bad);
    const outlier = { consecutiveGatewayErrors: 2, intervalMs: 1000, baseEjectionMs: 30_000, maxEjectionPercent: 50 };
    const { port, proxy } = await proxyFor(config([forward('c', NO_RETRY)], [cluster('c', [a.port, b.port], { outlier })]));
    for (let i = 0; i < 12; i++) expect((await get(port)).status).toBe(502);
    const endpoints = (proxy.clustersReport() as Array<{ endpoints: Array<{ healthy: boolean }> }>)[0].endpoints;
    expect(endpoints.map((e) => e.healthy).sort()).toEqual([false, true]);
  });
});

describe('upstream connection pool', () => {
  /** The backend's view: which client port (upstream connection) carried each request. */
  async function portsSeen(extra: Parameters<typeof cluster>[2], requests: number, pauseMs = 0) {
    const ports: number[] = [];
    const a = await withBackend('a', (req, res) => (ports.push(req.socket.remotePort!), res.end('ok')));
    const { port } = await proxyFor(config([forward('a')], [cluster('a', [a.port], extra)]));
    for (let i = 0; i < requests; i++) {
      await get(port);
      if (pauseMs) await sleep(pauseMs);
    }
    return ports;
  }

  test('connectTimeout: an endpoint that never completes the handshake gives 503 UF at the timeout', async () => {
    const { spawn } = await import('node:child_process');
    // A listener whose process is stopped: once its accept queue is full the kernel drops further SYNs.
    const child = spawn(process.execPath, [
      '-e',
      "require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, function () { console.log(this.address().port) })",
    ]);
    const fillers: net.Socket[] = [];
    stopAfter(async () => {
      fillers.forEach((f) => f.destroy());
      child.kill('SIGKILL');
    });
    const blackhole = await new Promise<number>((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
    child.kill('SIGSTOP');
    for (let i = 0; i < 4; i++) fillers.push(net.connect(blackhole, '127.0.0.1').on('error', () => undefined));
    await sleep(200);
    const { port, proxy } = await proxyFor(config([forward('c', NO_RETRY)], [cluster('c', [blackhole], { connectTimeoutMs: 300 })]));
    const r = await get(port);
    expect(r.status).toBe(503);
    expect(r.ms).toBeGreaterThanOrEqual(250); // waited for the timeout: not refused at once
    expect(proxy.metrics.render()).toMatch(/response_code="503",response_flags="UF"/);
  });

  test('keep-alive reuses one upstream connection for sequential requests', async () => {
    expect(new Set(await portsSeen({}, 6)).size).toBe(1);
  });

  test('maxRequestsPerConnection 2: a connection carries two requests, then a new one is opened', async () => {
    const ports = await portsSeen({ maxRequestsPerConnection: 2 }, 6);
    expect(new Set(ports).size).toBe(3);
    expect(ports[0]).toBe(ports[1]);
    expect(ports[2]).not.toBe(ports[1]);
  });

  test('idleTimeout: a connection idle longer than it is closed, the next request opens another', async () => {
    const ports = await portsSeen({ idleTimeoutMs: 100 }, 3, 800); // the pool's sweep runs every 500 ms at most
    expect(new Set(ports).size).toBe(3);
  });
});

describe('HTTP/1.1 details', () => {
  test('Expect: 100-continue: the interim 100 reaches the client before it sends the body', async () => {
    const a = await withBackend('a', (_req, res, n) => res.end(`got body ${n}`));
    const { port } = await proxyFor(config([forward('a')], [cluster('a', [a.port])]));
    const reply = await new Promise<{ continued: boolean; status: number; body: string }>((resolve, reject) => {
      let continued = false;
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/up',
          agent: false,
          headers: { host: 'alpha.example.com', expect: '100-continue', 'content-length': '5' },
        },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ continued, status: res.statusCode!, body }));
        },
      );
      req.on('continue', () => {
        continued = true;
        req.end('hello');
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(reply).toEqual({ continued: true, status: 200, body: 'got body 1' });
    expect(a.seen[0].body).toBe('hello');
  });

  test('responses without a body (HEAD, 204, 304) end at their head; the connection goes on to the next request', async () => {
    const a = await withBackend('a', (req, res) => {
      if (req.url === '/204') res.statusCode = 204;
      else if (req.url === '/304') res.statusCode = 304;
      else res.setHeader('content-length', '10');
      res.end(req.method === 'HEAD' || res.statusCode !== 200 ? undefined : '0123456789');
    });
    const { port } = await proxyFor(config([forward('a')], [cluster('a', [a.port])]));
    const req = (method: string, path: string) => `${method} ${path} HTTP/1.1\r\nhost: alpha.example.com\r\n\r\n`;
    // Pipelined on one connection: a proxy waiting for a body that never comes would stop at the first.
    const out = await raw(port, req('HEAD', '/') + req('GET', '/204') + req('GET', '/304') + req('GET', '/'), 800);
    expect(out.match(/^HTTP\/1\.1 \d+/gm)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 204', 'HTTP/1.1 304', 'HTTP/1.1 200']);
    expect(out.endsWith('0123456789')).toBe(true);
  });

  test('HTTP/1.0 without keep-alive, and Connection: close, get their answer and the connection closed', async () => {
    const a = await withBackend('a');
    const { port } = await proxyFor(config([forward('a')], [cluster('a', [a.port])]));
    for (const request of [
      'GET /ten HTTP/1.0\r\nhost: alpha.example.com\r\n\r\n',
      'GET /close HTTP/1.1\r\nhost: alpha.example.com\r\nconnection: close\r\n\r\n',
    ])
      expect(await untilClosed(port, request)).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\nconnection: close\r\n[\s\S]*a \/(ten|close)$/i);
  });

  test('a response delimited by the upstream closing (no length, not chunked) arrives whole, and the client connection is closed after it', async () => {
    const upstream = net.createServer((s) =>
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nfirst part, ');
        setTimeout(() => s.end('then the rest until close'), 50);
      }),
    );
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    stopAfter(() => new Promise((r) => upstream.close(() => r())));
    const { port } = await proxyFor(config([forward('u', NO_RETRY)], [cluster('u', [(upstream.address() as { port: number }).port])]));
    const reply = await untilClosed(port, 'GET / HTTP/1.1\r\nhost: alpha.example.com\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\nconnection: close\r\n\r\nfirst part, then the rest until close$/i);
  });

  test('an 8 MB response arrives whole through the proxy (backpressure on the way)', async () => {
    const { createHash } = await import('node:crypto');
    const big = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    const a = await withBackend('a', (_req, res) => res.end(big));
    const { port } = await proxyFor(config([forward('a')], [cluster('a', [a.port])]));
    const got = await new Promise<Buffer>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/big', agent: false, headers: { host: 'alpha.example.com' } }, (res) => {
          const parts: Buffer[] = [];
          // A slow reader: the proxy must pause its upstream rather than buffer the whole body.
          res.on('data', (c: Buffer) => (parts.push(c), res.pause(), setTimeout(() => res.resume(), 1)));
          res.on('end', () => resolve(Buffer.concat(parts)));
        })
        .on('error', reject);
    });
    expect(got.length).toBe(big.length);
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
  });

  test('W3C and B3 trace headers reach the backend untouched; x-forwarded-for appended to (a gateway replaces x-request-id: test/security/headers.test.ts)', async () => {
    const a = await withBackend('a');
    const { port } = await proxyFor(config([forward('a')], [cluster('a', [a.port])]));
    const trace = {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'vendor=opaque',
      'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7',
      'x-b3-spanid': 'e457b5a2e4d86bd1',
      'x-b3-parentspanid': '05e3ac9a4f6e3b90',
      'x-b3-sampled': '1',
      b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1',
    };
    // A Connection header takes the path where the head is rebuilt; without one, the received head is reused.
    await get(port, '/', { ...trace, 'x-forwarded-for': '203.0.113.7', connection: 'close' });
    await raw(
      port,
      `GET / HTTP/1.1\r\nhost: alpha.example.com\r\n${Object.entries(trace)
        .map(([n, v]) => `${n}: ${v}\r\n`)
        .join('')}\r\n`,
      300,
    );
    for (const seen of a.seen) expect(seen.headers).toMatchObject(trace);
    expect(a.seen[0].headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(a.seen).toHaveLength(2);
  });
});
