/** Accepted connections moved onto sockets that read through the shared buffer (Node's onread). */
import * as net from 'node:net';
import { acceptedWithOnRead } from '../../../runtime/proxy/read-buffer';
import { until } from '../../support/poll';

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
