/**
 * gRPC unary calls at a fixed rate through two sidecars with mTLS (client → outbound sidecar over
 * h2c → inbound sidecar over mTLS and h2 → app over h2c), as the bench's latency row sends them:
 * every call must come back complete, HTTP 200 with `grpc-status: 0` in trailers. Anything else is
 * named by how it ended: reset (with its RST_STREAM code), ended without END_STREAM (a reset with
 * NO_ERROR), or a complete response without the status. Bounded: MAST_STRESS_CALLS calls (2,500 in
 * `npm test`; 20,000 to hunt a rare miss) at MAST_STRESS_RATE per second (500, the bench's rate; one
 * process carries client, proxies and app here, about 600 calls/s at most), over 4 connections.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from '../../runtime/contract/proxy-config';
import { endStreamReceived, watchEndStream } from '../../runtime/proxy/h2/end-stream';
import { MeshProxy } from '../../runtime/proxy/mesh-proxy';
import { loopbackCluster, oneRoute } from '../security/configs';
import { meshCa, workload } from '../security/pki';
import { stoppedAfterEach, until } from '../support/proxy';

const CALLS = Number(process.env.MAST_STRESS_CALLS ?? 2500);
const RATE = Number(process.env.MAST_STRESS_RATE ?? 500);
const CONNECTIONS = 4;
/** Calls still unanswered this long after the last was sent count as lost (one loaded process may lag behind the rate). */
const SETTLE_MS = 30_000;

const { stopAfter } = stoppedAfterEach();

/** A unary echo on `node:http2`, as bench/grpc-echo.mjs: the request's message back, `grpc-status: 0` in trailers. */
async function echoApp(): Promise<number> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      if (stream.closed) return;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.concat(chunks));
    });
    stream.on('error', () => undefined);
  });
  server.on('sessionError', () => undefined);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(async () => {
    for (const s of sessions) s.destroy();
    await new Promise((r) => server.close(() => r(undefined)));
  });
  return (server.address() as AddressInfo).port;
}

async function sidecar(name: string, config: ProxyConfig, listener: string, ca: Awaited<ReturnType<typeof meshCa>>): Promise<number> {
  const proxy = new MeshProxy({ mode: 'sidecar', workload: name, namespace: 'shop' });
  proxy.setCertificate(await workload(ca, 'shop', name));
  expect(await proxy.apply(config)).toMatchObject({ ok: true });
  stopAfter(() => proxy.drain(50));
  return proxy.boundPort(listener)!;
}

const payload = Buffer.from('mast-stress-echo');
const MESSAGE = Buffer.concat([Buffer.from([0, 0, 0, 0, payload.length]), payload]);
const CALL = {
  ':method': 'POST',
  ':path': '/stress.Echo/Unary',
  ':authority': 'echo.shop.svc.cluster.local',
  'content-type': 'application/grpc',
  te: 'trailers',
};

/** One call, judged when its stream closes: `ok`, or how it went wrong. */
function call(session: http2.ClientHttp2Session): Promise<string> {
  return new Promise((resolve) => {
    let status: string | undefined;
    let grpcStatus: string | undefined;
    let body = 0;
    const req = session.request(CALL);
    watchEndStream(req);
    req.on('response', (h) => {
      status = String(h[':status']);
      grpcStatus = h['grpc-status'] as string | undefined;
    });
    req.on('trailers', (t) => (grpcStatus = t['grpc-status'] as string | undefined));
    req.on('data', (c: Buffer) => (body += c.length));
    req.on('error', () => undefined);
    req.on('close', () => {
      if (req.rstCode) return resolve(`HTTP ${status ?? '-'}, reset (RST_STREAM ${req.rstCode})`);
      if (!endStreamReceived(req)) return resolve(`HTTP ${status ?? '-'}, closed without END_STREAM`);
      if (status === '200' && grpcStatus === '0' && body === MESSAGE.length) return resolve('ok');
      resolve(`HTTP ${status}, grpc-status ${grpcStatus ?? 'none'}, ${body} body bytes`);
    });
    req.end(MESSAGE);
  });
}

test(
  `${CALLS} gRPC unary calls at ${RATE}/s through two sidecars with mTLS: every one complete, 200 with grpc-status 0`,
  async () => {
    const ca = await meshCa();
    const app = await echoApp();
    const inbound = await sidecar(
      'echo',
      oneRoute(
        { name: 'virtualInbound', trafficDirection: 'INBOUND', port: 0, matchPort: app, mtls: 'STRICT' },
        loopbackCluster('inbound|app', '127.0.0.1', app, { upstreamProtocol: 'h2' }),
      ),
      'virtualInbound',
      ca,
    );
    const outbound = await sidecar(
      'front',
      oneRoute(
        { name: 'outbound', port: 0, matchPort: 80 },
        loopbackCluster('outbound|80||echo.shop.svc.cluster.local', 'echo.shop.svc.cluster.local', inbound, {
          tls: 'ISTIO_MUTUAL',
          upstreamProtocol: 'h2',
          identities: ['ns/shop/sa/echo'],
        }),
      ),
      'outbound',
      ca,
    );
    const sessions = Array.from({ length: CONNECTIONS }, () => {
      const s = http2.connect(`http://127.0.0.1:${outbound}`);
      s.on('error', () => undefined);
      stopAfter(async () => void s.destroy());
      return s;
    });
    await Promise.all(sessions.map((s) => new Promise((r) => s.once('connect', r))));

    const outcomes = new Map<string, number>();
    let answered = 0;
    let sent = 0;
    const interval = 1000 / RATE;
    const begin = performance.now();
    // The fixed-rate schedule: each tick sends the calls due by now (bounded by CALLS).
    await new Promise<void>((done) => {
      const tick = () => {
        const due = Math.min(CALLS, Math.floor((performance.now() - begin) / interval));
        while (sent < due) {
          call(sessions[sent++ % CONNECTIONS]).then((o) => {
            outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
            answered++;
          });
        }
        if (sent < CALLS) setTimeout(tick, 1);
        else done();
      };
      tick();
    });
    const sentMs = performance.now() - begin;
    await until(
      `all ${CALLS} calls answered`,
      () => answered === CALLS,
      SETTLE_MS,
      () => `${answered} answered: ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
    const seconds = (performance.now() - begin) / 1000;
    // The figures, for the report: the rate reached, and every outcome with its count.
    console.log(
      `${CALLS} calls sent in ${(sentMs / 1000).toFixed(1)} s (${Math.round(CALLS / (sentMs / 1000))}/s), answered in ${seconds.toFixed(1)} s: ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
    expect(Object.fromEntries(outcomes)).toEqual({ ok: CALLS });
  },
  (CALLS / RATE) * 1000 * 3 + 60_000,
);
