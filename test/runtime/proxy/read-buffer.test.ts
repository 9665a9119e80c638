/** Accepted connections moved onto sockets that read through the shared buffer (Node's onread). */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { acceptedWithOnRead, secureWithOnRead } from '../../../runtime/proxy/read-buffer';
import { until } from '../../support/poll';
import { tempDir } from '../../support/temp-dir';
import { selfSigned } from '../../security/pki';

const listening = (server: net.Server) =>
  new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));
const connections = (server: net.Server) => new Promise<number>((r, j) => server.getConnections((err, n) => (err ? j(err) : r(n))));

describe('accepted sockets reading through the shared buffer', () => {
  test('every byte arrives, in order, each chunk a copy of its own; writes and the server count go on as before', async () => {
    const chunks: Buffer[] = [];
    let moved: net.Socket | undefined;
    const server = net.createServer((accepted) => {
      moved = acceptedWithOnRead(accepted, (chunk) => {
        chunks.push(chunk);
        if (Buffer.concat(chunks).length === 200_000) moved!.end('got it all');
      });
    });
    const port = await listening(server);
    const client = net.connect(port, '127.0.0.1');
    const payload = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
    client.write(payload);
    const reply = await new Promise<string>((r) => {
      let out = '';
      client.on('data', (d) => (out += d));
      client.on('end', () => r(out));
    });
    expect(reply).toBe('got it all');
    expect(moved).toBeInstanceOf(net.Socket);
    // Joined at the end, the chunks are still the payload: none was a view of the reused read buffer.
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks).equals(payload)).toBe(true);
    expect(await connections(server)).toBe(1);
    client.destroy();
    await new Promise((r) => moved!.on('close', r));
    expect(await connections(server)).toBe(0);
    await new Promise((r) => server.close(r));
  });

  test("the client's end arrives as 'end' on the moved socket; pause stops reading, resume starts it again", async () => {
    let moved: net.Socket | undefined;
    const got: string[] = [];
    const server = net.createServer((accepted) => {
      moved = acceptedWithOnRead(accepted, (chunk) => {
        got.push(chunk.toString());
        moved!.pause();
        setTimeout(() => moved!.resume(), 30);
      });
    });
    const port = await listening(server);
    const client = net.connect(port, '127.0.0.1');
    client.write('one');
    // 'two' and the end arrive while the moved socket is paused after reading 'one'.
    await until("'one' read", () => got.length > 0, 2000);
    client.end('two');
    await new Promise((r) => moved!.on('end', r));
    expect(got.join('')).toBe('onetwo');
    moved!.destroy();
    await new Promise((r) => server.close(r));
  });

  test('where Node keeps no such fields, the accepted socket is used as it is', async () => {
    let same: boolean | undefined;
    const server = net.createServer((accepted) => {
      const fields = accepted as unknown as { _server?: unknown };
      const kept = fields._server;
      delete fields._server;
      same = acceptedWithOnRead(accepted, () => undefined) === accepted;
      fields._server = kept; // for the server's own count, so that it can close
      accepted.destroy();
    });
    const port = await listening(server);
    const client = net.connect(port, '127.0.0.1').on('error', () => undefined);
    await new Promise((r) => client.on('close', r));
    expect(same).toBe(true);
    await new Promise((r) => server.close(r));
  });
});

describe('a server TLS socket made over an accepted one, reading through the shared buffer', () => {
  /** A TLS server as the sidecar's inbound makes one (a TLSSocket over the accepted socket), switched once 'secure' comes. */
  async function serving(onSecure: (secure: tls.TLSSocket) => void): Promise<{ port: number; close(): Promise<void> }> {
    const { key, cert } = selfSigned(tempDir('mast-read-buffer-'), 'server', 'spiffe://cluster.local/ns/default/sa/server');
    const context = tls.createSecureContext({ key, cert });
    const server = net.createServer((raw) => {
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
      secure.on('error', () => secure.destroy());
      secure.once('secure', () => onSecure(secure));
    });
    const port = await listening(server);
    return { port, close: () => new Promise((r) => server.close(() => r())) };
  }

  test("every byte arrives in order without 'data' events; pause and resume work; the client's end is 'end'", async () => {
    const chunks: Buffer[] = [];
    let secure: tls.TLSSocket | undefined;
    let switched: boolean | undefined;
    let dataEvents = 0;
    const payload = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    const s = await serving((sock) => {
      secure = sock;
      switched = secureWithOnRead(sock, (chunk) => {
        chunks.push(chunk);
        // A pause after each chunk, resumed later: nothing is lost or reordered.
        sock.pause();
        setImmediate(() => sock.resume());
      });
      sock.on('data', () => dataEvents++);
    });
    const client = tls.connect({ port: s.port, host: '127.0.0.1', rejectUnauthorized: false });
    await new Promise((r) => client.once('secureConnect', r));
    client.end(payload);
    await until('the whole payload read', () => Buffer.concat(chunks).length === payload.length, 5000);
    await new Promise((r) => (secure!.readableEnded ? r(undefined) : secure!.once('end', r)));
    expect(switched).toBe(true);
    expect(dataEvents).toBe(0);
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks).equals(payload)).toBe(true);
    secure!.destroy();
    await s.close();
  });

  test('bytes already waiting in the stream: not switched, the socket reads as before', async () => {
    let switched: boolean | undefined;
    let got = '';
    const s = await serving((sock) => {
      // The first read lands in the stream's buffer (nobody listens yet), then the switch is asked for.
      sock.once('readable', () => {
        switched = secureWithOnRead(sock, () => undefined);
        sock.on('data', (d) => (got += d));
      });
    });
    const client = tls.connect({ port: s.port, host: '127.0.0.1', rejectUnauthorized: false });
    await new Promise((r) => client.once('secureConnect', r));
    client.write('hello');
    await until("'hello' read", () => got === 'hello', 5000);
    expect(switched).toBe(false);
    client.destroy();
    await s.close();
  });
});
