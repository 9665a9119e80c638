/**
 * gRPC between two sidecars with mTLS: a client's outbound sidecar speaks HTTP/2 (ALPN `h2`) to
 * the peer's inbound, which verifies the chain, authorizes the verified principal, and forwards to
 * its app in the app port's protocol (HTTP/2 for a gRPC app, HTTP/1.1 for a plain one).
 */
import * as grpc from '@grpc/grpc-js';
import type { AuthzConfig } from '../../../../runtime/contract/authz';
import type { ClusterConfig, ProxyConfig } from '../../../../runtime/contract/proxy-config';
import { MeshProxy } from '../../../../runtime/proxy/mesh-proxy';
import { loopbackCluster, oneRoute } from '../../../security/configs';
import { meshCa, workload } from '../../../security/pki';
import { get, stoppedAfterEach } from '../../../support/proxy';
import { collect, echoClient, echoServer, unary, type Msg } from './grpc-echo';
import { h2c, h2request } from './h2-client';

const { withBackend, stopAfter } = stoppedAfterEach();
let ca: Awaited<ReturnType<typeof meshCa>>;
beforeAll(async () => {
  ca = await meshCa();
});

const onlyFront: AuthzConfig = {
  deny: [],
  allow: [{ name: 'shop/front-only[0]', from: [{ principals: ['cluster.local/ns/shop/sa/front'] }] }],
};

async function sidecar(workloadName: string, config: ProxyConfig, listener: string): Promise<number> {
  const proxy = new MeshProxy({ mode: 'sidecar', workload: workloadName, namespace: 'shop' });
  proxy.setCertificate(await workload(ca, 'shop', workloadName));
  expect(await proxy.apply(config)).toMatchObject({ ok: true });
  stopAfter(() => proxy.drain(50));
  return proxy.boundPort(listener)!;
}

/** The app's sidecar: inbound mTLS STRICT, only `front` allowed, to the app on `appPort` in `protocol`. */
const inbound = (appPort: number, upstream: ClusterConfig['upstreamProtocol']) =>
  sidecar(
    'echo',
    oneRoute(
      {
        name: 'virtualInbound',
        trafficDirection: 'INBOUND',
        port: 0,
        matchPort: appPort,
        mtls: 'STRICT',
        authz: onlyFront,
        forwardClientCert: { mode: 'APPEND_FORWARD' },
      },
      loopbackCluster('inbound|app', '127.0.0.1', appPort, { upstreamProtocol: upstream }),
    ),
    'virtualInbound',
  );

/** A client's sidecar (`who`): outbound to the app's sidecar over mTLS and HTTP/2. */
const outbound = (who: string, peerPort: number) =>
  sidecar(
    who,
    oneRoute(
      { name: 'outbound', port: 0, matchPort: 80 },
      loopbackCluster('outbound|80||echo.shop.svc.cluster.local', 'echo.shop.svc.cluster.local', peerPort, {
        tls: 'ISTIO_MUTUAL',
        upstreamProtocol: 'h2',
        identities: ['ns/shop/sa/echo'],
      }),
    ),
    'outbound',
  );

test('gRPC unary and streaming calls through two sidecars over mTLS, the verified principal authorized', async () => {
  const app = await echoServer();
  stopAfter(() => app.close());
  const out = await outbound('front', await inbound(app.port, 'h2'));
  const c = echoClient(out, 'echo.shop.svc.cluster.local');
  stopAfter(async () => c.close());
  expect(await unary(c, { text: 'hi' })).toMatchObject({ code: grpc.status.OK, reply: { text: 'echo:hi' } });
  expect(await collect<Msg>(c.serverStream({ text: 's', n: 3 }))).toHaveLength(3);
  const bidi = c.bidi();
  const got = collect<Msg>(bidi);
  bidi.write({ text: 'a' });
  bidi.write({ text: 'b' });
  bidi.end();
  expect((await got).map((m) => m.text)).toEqual(['re:a', 're:b']);
  // The app sees the client's verified certificate described (XFCC) by its sidecar.
  expect(String(app.lastMetadata?.get('x-forwarded-client-cert'))).toContain('URI=spiffe://cluster.local/ns/shop/sa/front');
  expect(app.calls).toEqual({ unary: 1, serverStream: 1, bidi: 1 });
});

test('a workload the policy does not name is denied over HTTP/2 as over HTTP/1.1: PERMISSION_DENIED, the app untouched', async () => {
  const app = await echoServer();
  stopAfter(() => app.close());
  const out = await outbound('other', await inbound(app.port, 'h2'));
  const c = echoClient(out, 'echo.shop.svc.cluster.local');
  stopAfter(async () => c.close());
  expect((await unary(c, { text: 'hi' })).code).toBe(grpc.status.PERMISSION_DENIED);
  expect(app.calls).toEqual({});
});

test('an HTTP/1.1 app behind its sidecar: HTTP/2 between the sidecars, HTTP/1.1 to the app', async () => {
  const app = await withBackend('plain');
  const out = await outbound('front', await inbound(app.port, undefined));
  const session = h2c(out);
  stopAfter(async () => void session.close());
  const r = await h2request(session, { ':path': '/orders', ':authority': 'echo.shop.svc.cluster.local' });
  expect(r).toMatchObject({ status: 200, body: 'plain /orders' });
  expect(app.seen[0].headers['x-forwarded-client-cert']).toContain('URI=spiffe://cluster.local/ns/shop/sa/front');
});

test('an HTTP/1.1 app calling out: its sidecar upgrades to HTTP/2 over mTLS, the peer answers in HTTP/1.1 to its app', async () => {
  const app = await withBackend('plain');
  const out = await outbound('front', await inbound(app.port, undefined));
  const r = await get(out, '/upgraded', { host: 'echo.shop.svc.cluster.local' });
  expect(r).toMatchObject({ status: 200, body: 'plain /upgraded' });
  expect(app.seen[0].headers['x-forwarded-client-cert']).toContain('URI=spiffe://cluster.local/ns/shop/sa/front');
});
