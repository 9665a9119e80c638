/**
 * Attack: header tricks at the edge (the header-hygiene part of finding 7, issue 19). Two Host
 * headers (one routed and authorized, the other read by the app); a client claiming its own
 * x-forwarded-proto or choosing the x-request-id the mesh logs and traces under; an h2c
 * upgrade that would let an upstream switch the connection to a protocol the proxy does not
 * parse. Raw bytes as an attacker sends them; the backend records every request it receives.
 */
import { DEFAULT_LIMITS } from '../../runtime/proxy/http/head';
import { MeshProxy } from '../../runtime/proxy/mesh-proxy';
import type { AuthzConfig } from '../../runtime/contract/authz';
import type { ProxyConfig } from '../../runtime/contract/proxy-config';
import { cluster, config, forward, raw, stoppedAfterEach } from '../support/proxy';
import { lenientBackend } from './support';

const { proxyFor, stopAfter } = stoppedAfterEach();

const DENY_ADMIN_HOST: AuthzConfig = { deny: [{ name: 'default/deny-admin-host[0]', to: [{ hosts: ['admin.example.com'] }] }] };
const statusOf = (reply: string) => Number(reply.slice(9, 12));

async function gateway(authz?: AuthzConfig) {
  const app = await lenientBackend();
  stopAfter(() => app.close());
  const base = config([forward('app')], [cluster('app', [app.port])]);
  const cfg: ProxyConfig = {
    ...base,
    listeners: [
      { ...base.listeners[0], virtualHosts: [{ ...base.listeners[0].virtualHosts![0], domains: ['*'] }], ...(authz ? { authz } : {}) },
    ],
  };
  return { app, port: (await proxyFor(cfg)).port };
}

async function sidecar() {
  const app = await lenientBackend();
  stopAfter(() => app.close());
  const proxy = new MeshProxy({ mode: 'sidecar', workload: 'w', namespace: 'default' }, undefined, DEFAULT_LIMITS);
  expect((await proxy.apply(config([forward('app')], [cluster('app', [app.port])]))).ok).toBe(true);
  stopAfter(() => proxy.drain(100));
  return { app, port: proxy.boundPort('l')! };
}

describe('two Host headers', () => {
  test.each([
    ['Host: alpha.example.com\r\nHost: admin.example.com'],
    ['Host: admin.example.com\r\nhost: alpha.example.com'],
    ['HOST: alpha.example.com\r\nX-A: 1\r\nhost: alpha.example.com'],
  ])('two Host lines (%#): 400, nothing reaches the app', async (hosts) => {
    const { app, port } = await gateway(DENY_ADMIN_HOST);
    const reply = await raw(port, `GET / HTTP/1.1\r\n${hosts}\r\n\r\n`, 2000);
    expect(statusOf(reply)).toBe(400);
    expect(app.lines()).toEqual([]);
  });
});

describe("at a gateway the client is external: x-forwarded-proto and x-request-id are the proxy's", () => {
  test.each([
    ['the head passed through', ''],
    ['the head rebuilt', 'Connection: keep-alive\r\n'],
  ])('%s: a claimed https and a chosen request id are replaced', async (_how, more) => {
    const { app, port } = await gateway();
    const reply = await raw(
      port,
      `GET /a HTTP/1.1\r\nHost: alpha.example.com\r\nX-Forwarded-Proto: https\r\nX-Request-Id: attacker-chosen\r\n${more}Connection: close\r\n\r\n`,
      2000,
    );
    expect(statusOf(reply)).toBe(200);
    expect(app.seen).toHaveLength(1);
    expect(app.seen[0].headers['x-forwarded-proto']).toBe('http');
    expect(app.seen[0].headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test('behind a trusted proxy (numTrustedProxies, --trusted-hops 1) the x-forwarded-proto it set is kept; the request id is still replaced', async () => {
    const app = await lenientBackend();
    stopAfter(() => app.close());
    const { port } = await proxyFor(config([forward('app')], [cluster('app', [app.port])]), { trustedHops: 1 });
    await raw(
      port,
      'GET /a HTTP/1.1\r\nHost: alpha.example.com\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Request-Id: chosen\r\nConnection: close\r\n\r\n',
      2000,
    );
    expect(app.seen[0].headers['x-forwarded-proto']).toBe('https');
    expect(app.seen[0].headers['x-request-id']).not.toBe('chosen');
  });

  test('a sidecar (clients inside the mesh) keeps them, as Istio does', async () => {
    const { app, port } = await sidecar();
    const reply = await raw(
      port,
      'GET /a HTTP/1.1\r\nHost: alpha.example.com\r\nX-Forwarded-Proto: https\r\nX-Request-Id: req-42\r\nConnection: close\r\n\r\n',
      2000,
    );
    expect(statusOf(reply)).toBe(200);
    expect(app.seen[0].headers['x-forwarded-proto']).toBe('https');
    expect(app.seen[0].headers['x-request-id']).toBe('req-42');
  });
});

describe('Upgrade: h2c', () => {
  test('is removed with HTTP2-Settings and the Connection tokens: the request goes on as plain HTTP/1.1', async () => {
    const { app, port } = await gateway();
    const reply = await raw(
      port,
      'GET /a HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
      500,
    );
    expect(statusOf(reply)).toBe(200);
    expect(app.seen).toHaveLength(1);
    const h = app.seen[0].headers;
    expect(h.upgrade).toBeUndefined();
    expect(h['http2-settings']).toBeUndefined();
    expect(h.connection ?? '').not.toMatch(/upgrade|http2-settings/i);
  });

  test('an HTTP2-Settings header alone does not pass either (hop-by-hop)', async () => {
    const { app, port } = await gateway();
    await raw(
      port,
      'GET /a HTTP/1.1\r\nHost: alpha.example.com\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: close\r\n\r\n',
      2000,
    );
    expect(app.seen[0].headers['http2-settings']).toBeUndefined();
  });

  test('a websocket upgrade still goes through (Istio allows websocket)', async () => {
    const { app, port } = await gateway();
    await raw(
      port,
      'GET /ws HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      300,
    );
    expect(app.seen[0].headers.upgrade).toBe('websocket');
    expect(app.seen[0].headers.connection).toMatch(/upgrade/i);
  });
});

describe('headers a Connection header names are hop-by-hop (RFC 9110 §7.6.1)', () => {
  test('a client naming a header in Connection: that header does not reach the app; others do', async () => {
    const { app, port } = await gateway();
    const reply = await raw(
      port,
      'GET /a HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\nX-Kept: 1\r\n\r\n',
      1000,
    );
    expect(statusOf(reply)).toBe(200);
    expect(app.seen).toHaveLength(1);
    expect(app.seen[0].headers['x-hop']).toBeUndefined();
    expect(app.seen[0].headers['x-kept']).toBe('1');
  });

  test('an upstream naming a header in Connection: that header does not reach the client', async () => {
    const { port } = await proxyFor(config([forward('c')], [cluster('c', [(await withHopBackend()).port])]));
    const reply = await raw(port, 'GET / HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n', 1000);
    expect(statusOf(reply)).toBe(200);
    expect(reply.toLowerCase()).not.toContain('x-internal');
    expect(reply.toLowerCase()).toContain('x-public: 1');
  });
});

/** A backend whose responses name a header of theirs as hop-by-hop. */
async function withHopBackend() {
  const net = await import('node:net');
  const server = net.createServer((s) => {
    s.on('error', () => s.destroy());
    s.once('data', () =>
      s.end('HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: token\r\nX-Public: 1\r\nContent-Length: 2\r\n\r\nok'),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => server.close(() => r())));
  return { port: (server.address() as import('node:net').AddressInfo).port };
}
