import * as net from 'node:net';
import * as tls from 'node:tls';
import { readSni } from '../../../../runtime/proxy/http/sni';

/** The first bytes a real TLS client sends, as a gateway would read them. */
async function clientHello(servername?: string): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const first = new Promise<Buffer>((resolve) =>
    server.once('connection', (s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy()))),
  );
  const client = tls.connect({
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    servername,
    rejectUnauthorized: false,
  });
  client.on('error', () => undefined);
  const bytes = await first;
  client.destroy();
  server.close();
  return bytes;
}

describe('reading the server name of a ClientHello', () => {
  test('names the host a real client asks for, lowercased', async () => {
    expect(readSni(await clientHello('Bookinfo.Example.com'))).toEqual({ done: true, serverName: 'bookinfo.example.com' });
  });

  test('a hello without a name is complete, with no name', async () => {
    expect(readSni(await clientHello())).toEqual({ done: true });
  });

  test('waits for the rest of a split hello', async () => {
    const hello = await clientHello('a.example.com');
    expect(readSni(hello.subarray(0, 3))).toEqual({ done: false });
    expect(readSni(hello.subarray(0, hello.length - 1))).toEqual({ done: false });
  });

  test('plain HTTP and garbage are refused, not waited for', () => {
    expect(readSni(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toEqual({ done: true, error: 'not a TLS handshake' });
    expect(readSni(Buffer.from([0x16, 3, 1, 0xff, 0xff]))).toEqual({ done: true, error: 'ClientHello too large' });
    expect(readSni(Buffer.from([0x16, 3, 1, 0, 2, 0x02, 0]))).toEqual({ done: true, error: 'not a ClientHello' });
  });
});
