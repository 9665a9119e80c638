/**
 * The codec over TLS, negotiated by ALPN `h2` as a gateway's TLS server negotiates it: a
 * `TLSSocket` from `tls.Server` is handed to a server session as is. node:http2 and curl
 * (`--http2`, ALPN) are the clients.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { promisify } from 'node:util';
import { H2Session } from '../../../../runtime/proxy/h2/codec/session';
import { tempDir } from '../../../support/temp-dir';

const run = promisify(execFile);
jest.setTimeout(20_000);

let server: tls.Server;
let port: number;
let cert: Buffer;
const alpn: Array<string | false | null> = [];

beforeAll(async () => {
  const dir = tempDir('codec-tls-');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  cert = readFileSync(join(dir, 'cert.pem'));
  server = tls.createServer({ key: readFileSync(join(dir, 'key.pem')), cert, ALPNProtocols: ['h2', 'http/1.1'] }, (socket) => {
    alpn.push(socket.alpnProtocol);
    if (socket.alpnProtocol !== 'h2') return void socket.destroy();
    new H2Session(socket, 'server', {
      onStream: (s, head) => {
        const path = head[head.indexOf(':path') + 1];
        s.sendHeaders([':status', '200', 'content-type', 'text/plain']);
        s.sendData(Buffer.from(`tls ${path}`), true);
      },
    }).start();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise((r) => server.close(r)));

it('serves node:http2 over TLS with ALPN h2', async () => {
  const client = http2.connect(`https://localhost:${port}`, { ca: cert });
  const body = await new Promise<string>((resolve, reject) => {
    const req = client.request({ ':path': '/over-tls' });
    let b = '';
    req.on('data', (d: Buffer) => (b += d));
    req.on('end', () => resolve(b));
    req.on('error', reject);
  });
  client.close();
  expect(body).toBe('tls /over-tls');
  expect(alpn.at(-1)).toBe('h2');
});

it('serves curl --http2 (ALPN) over TLS', async () => {
  const { stdout } = await run('curl', ['-sS', '-m', '5', '-k', '--http2', '-w', ' %{http_version}', `https://127.0.0.1:${port}/curl`]);
  expect(stdout).toBe('tls /curl 2');
});
