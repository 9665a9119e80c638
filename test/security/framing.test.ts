/**
 * Attack: request smuggling through chunked framing (finding 4 of issue 19), both directions.
 * Client side: whatever the proxy cannot parse strictly (RFC 9112 §7.1) gets 400 and a closed
 * connection, and nothing of it reaches the app — in particular not the `GET /admin/users`
 * that a lenient backend would find behind a trailer section ended by a bare LF. What goes
 * upstream is validated framing only: chunk extensions and trailers dropped (Envoy's default).
 * Upstream side: a response the proxy cannot frame strictly never reaches the client as more
 * than one response, and a 101 nobody asked for does not turn the client's connection into a tunnel.
 */
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { AuthzConfig } from '../../runtime/contract/authz';
import type { ProxyConfig } from '../../runtime/contract/proxy-config';
import { cluster, config, forward, raw, stoppedAfterEach } from '../support/proxy';
import { expectQuietFor } from '../support/quiet';
import { lenientBackend } from './support';

const { proxyFor, stopAfter } = stoppedAfterEach();

const DENY_ADMIN: AuthzConfig = { deny: [{ name: 'default/deny-admin[0]', to: [{ paths: ['/admin*'] }] }] };

async function proxyTo(port: number): Promise<number> {
  const base = config([forward('app')], [cluster('app', [port])]);
  const cfg: ProxyConfig = { ...base, listeners: [{ ...base.listeners[0], authz: DENY_ADMIN }] };
  return (await proxyFor(cfg)).port;
}

async function lenientApp() {
  const app = await lenientBackend();
  stopAfter(() => app.close());
  return { app, port: await proxyTo(app.port) };
}

/** A backend that records the raw bytes of each connection and answers each with `respond`. */
async function rawBackend(respond: (received: string, socket: net.Socket, n: number) => void) {
  const connections: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    const n = connections.push('') - 1;
    s.on('error', () => s.destroy());
    s.on('close', () => sockets.delete(s));
    s.on('data', (d) => {
      connections[n] += d.toString('latin1');
      respond(connections[n], s, n);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopAfter(() => new Promise((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
  return { port: (server.address() as AddressInfo).port, connections };
}

const POST = 'POST /upload HTTP/1.1\r\nHost: alpha.example.com\r\nTransfer-Encoding: chunked\r\n\r\n';
const SMUGGLED = 'GET /admin/users HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n';
const statusOf = (reply: string) => Number(reply.slice(9, 12));

describe('request bodies: strict chunked framing', () => {
  test('the lenient backend really would run the smuggled request (the attack is real)', async () => {
    const app = await lenientBackend();
    stopAfter(() => app.close());
    await raw(app.port, `${POST}5\r\nhello\r\n0\r\nX: y\n\n${SMUGGLED}`, 300);
    expect(app.lines()).toContain('GET /admin/users HTTP/1.1');
  });

  test.each([
    ['a trailer section ended by a bare LF', `5\r\nhello\r\n0\r\nX: y\n\n${SMUGGLED}`],
    ['a trailer line ended by a bare LF', `5\r\nhello\r\n0\r\nX: y\nZ: w\r\n\r\n${SMUGGLED}`],
    ['a trailer line without a colon', `5\r\nhello\r\n0\r\n${SMUGGLED}`],
    ['a NUL in a trailer value', `5\r\nhello\r\n0\r\nX: a\0b\r\n\r\n${SMUGGLED}`],
    ['a control byte in a trailer value', `5\r\nhello\r\n0\r\nX: a\x0bb\r\n\r\n${SMUGGLED}`],
    ['a folded trailer line', `5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n${SMUGGLED}`],
    ['a bare LF after the last chunk', `5\r\nhello\r\n0\n\r\n${SMUGGLED}`],
    ['a bare LF after the size', `5\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['a bare LF in a chunk extension', `5;a\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['a NUL in a chunk extension', `5;a=\0\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['a control byte in a quoted chunk extension', `5;a="\x01"\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['an extension that is not a token', `5;=x\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['whitespace before a chunk extension (llhttp refuses it)', `5 ;a\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['whitespace around = in a chunk extension', `5;a = b\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['an unterminated quoted extension', `5;a="x\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['a 0x prefix on the size', `0x5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['a sign on the size', `+5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['a space before the size', ` 5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['two numbers as a size', `5 5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['an overflowing size', `10000000000005\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['data longer than its size', `3\r\nhello\r\n0\r\n\r\n${SMUGGLED}`],
    ['no CRLF after the data', `5\r\nhello0\r\n\r\n${SMUGGLED}`],
  ])('%s: 400, connection closed, nothing reaches the app', async (_what, body) => {
    const { app, port } = await lenientApp();
    const reply = await raw(port, `${POST}${body}`, 2000);
    expect(statusOf(reply)).toBe(400);
    expect(reply).toMatch(/connection: close/i);
    await expectQuietFor(50, 'a request at the app', () => app.lines().length > 0);
  });

  test('the same smuggle split across packets is refused too', async () => {
    const { app, port } = await lenientApp();
    const reply = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let out = '';
      const parts = [POST, '5\r\nhel', 'lo\r\n0\r\nX', ': y\n', `\n${SMUGGLED}`];
      s.on('connect', () => parts.forEach((p, i) => setTimeout(() => s.write(p, 'latin1'), i * 30)));
      s.on('data', (d) => (out += d.toString('latin1')));
      s.on('close', () => resolve(out));
      setTimeout(() => s.destroy(), 2000);
    });
    expect(statusOf(reply)).toBe(400);
    await expectQuietFor(50, 'the smuggled request at the app', () => app.lines().some((l) => l.includes('/admin')));
  });

  test('valid extensions and trailers: the body goes on, extensions and trailers do not (the framing upstream is validated bytes only)', async () => {
    const backend = await rawBackend((received, s) => {
      if (received.endsWith('0\r\n\r\n')) s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const port = await proxyTo(backend.port);
    const body = '5;name=value;q="a \\" b"\r\nhello\r\n6;x\r\n world\r\n0;last=1\r\nX-Checksum: abc\r\nX-Other:  d e \r\n\r\n';
    const reply = await raw(port, `${POST.replace('Host:', 'Trailer: X-Checksum\r\nHost:')}${body}`, 500);
    expect(statusOf(reply)).toBe(200);
    const sent = backend.connections.join('');
    expect(sent.slice(sent.indexOf('\r\n\r\n') + 4)).toBe('5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    expect(sent).not.toMatch(/^trailer:/im);
  });
});

describe('responses: an upstream cannot desync the client connection', () => {
  test('a response whose trailers end in a bare LF does not reach the client as two responses', async () => {
    const backend = await rawBackend((received, s) => {
      if (received.endsWith('\r\n\r\n'))
        s.write(
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\n\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled',
        );
    });
    const port = await proxyTo(backend.port);
    const reply = await raw(
      port,
      'GET /a HTTP/1.1\r\nHost: alpha.example.com\r\n\r\nGET /b HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n',
      1000,
    );
    // Two requests, two answers: each a 502, neither the crafted response.
    expect(reply.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 502', 'HTTP/1.1 502']);
    expect(reply).not.toContain('smuggled');
    expect(reply).not.toContain('X: y');
  });

  test('valid response trailers and extensions are dropped, the body kept', async () => {
    const backend = await rawBackend((received, s) => {
      if (received.endsWith('\r\n\r\n'))
        s.write(
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: grpc-status\r\n\r\n5;e=1\r\nhello\r\n0\r\ngrpc-status: 0\r\n\r\n',
        );
    });
    const port = await proxyTo(backend.port);
    const reply = await raw(port, 'GET /a HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n', 1000);
    expect(reply.slice(reply.indexOf('\r\n\r\n') + 4)).toBe('5\r\nhello\r\n0\r\n\r\n');
    expect(reply).not.toMatch(/^trailer:/im);
  });

  test('a 101 to a request that asked for no upgrade: 502, and the client connection is not tunnelled', async () => {
    const backend = await rawBackend((received, s) => {
      if (received.endsWith('\r\n\r\n')) s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n');
    });
    const port = await proxyTo(backend.port);
    const reply = await raw(port, `GET /a HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n${SMUGGLED}`, 1000);
    expect(statusOf(reply)).toBe(502);
    expect(backend.connections.join('')).not.toContain('/admin/users');
  });

  test("a badly framed response retried (retryOn reset) gets the next attempt's response, read afresh", async () => {
    const backend = await rawBackend((received, s, n) => {
      if (!received.endsWith('\r\n\r\n')) return;
      s.write(
        n === 0
          ? 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\n\r\n'
          : 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood',
      );
    });
    const base = config([forward('app', { retries: { attempts: 1, retryOn: ['reset'] } })], [cluster('app', [backend.port])]);
    const { port } = await proxyFor(base);
    const reply = await raw(port, 'GET /a HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n', 1000);
    expect(statusOf(reply)).toBe(200);
    expect(reply.endsWith('\r\n\r\ngood')).toBe(true);
    expect(backend.connections).toHaveLength(2);
  });

  test('a status below 100 is a 502, not a bodyless response that leaves the next one queued', async () => {
    const backend = await rawBackend((received, s) => {
      if (received.endsWith('\r\n\r\n')) s.write('HTTP/1.1 000 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled');
    });
    const port = await proxyTo(backend.port);
    const reply = await raw(port, 'GET /a HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n', 1000);
    expect(reply.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 502']);
    expect(reply).not.toContain('smuggled');
  });

  test('a 1xx that says the connection closes (HTTP/1.0, Connection: close) is not relayed before the final response: 502', async () => {
    const backend = await rawBackend((received, s) => {
      if (received.endsWith('\r\n\r\n'))
        s.write('HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const port = await proxyTo(backend.port);
    const reply = await raw(port, 'GET /a HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n', 1000);
    expect(reply.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 502']);
  });

  test('bytes after the end of a response: that upstream connection is not used again', async () => {
    const backend = await rawBackend((received, s) => {
      if (received.endsWith('\r\n\r\n'))
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\npoison');
    });
    const port = await proxyTo(backend.port);
    expect(statusOf(await raw(port, 'GET /a HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n', 1000))).toBe(200);
    const second = await raw(port, 'GET /b HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n', 1000);
    expect(second).not.toContain('poison');
    expect(backend.connections).toHaveLength(2);
  });
});
