/**
 * The pool's mTLS connections read as its plain ones do (through the shared read buffer, no
 * stream per chunk): a response arrives whole and once, and a paused connection stops reading, so
 * a slow client still holds back a fast upstream over mTLS.
 */
import * as tls from 'node:tls';
import { Cluster, type AcquireResult } from '../../../../runtime/proxy/upstream/cluster';
import { until } from '../../../support/poll';
import { cluster } from '../../../support/proxy';
import { meshCa, workload } from '../../../security/pki';

const BODY = 64 * 1024 * 1024;

describe('mTLS connections of the pool', () => {
  let server: tls.Server;
  let clientTls: tls.SecureContext;
  /** The server's side of the connection, what it wrote, and since when it waits for a 'drain' (0: it does not). */
  let peer: { socket?: tls.TLSSocket; waitingSince: number; written: number } = { waitingSince: 0, written: 0 };

  beforeAll(async () => {
    const ca = await meshCa();
    const s = await workload(ca, 'default', 'backend');
    const c = await workload(ca, 'default', 'client');
    clientTls = tls.createSecureContext({ key: c.key, cert: c.certificate, ca: c.root });
    server = tls.createServer({ key: s.key, cert: s.certificate, ca: s.root, requestCert: true, rejectUnauthorized: true }, (socket) => {
      peer = { socket, waitingSince: 0, written: 0 };
      socket.once('data', () => {
        // A response larger than every buffer between the two: the server has to wait for the reader.
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        const pump = () => {
          while (peer.written < BODY) {
            peer.written += chunk.length;
            if (!socket.write(chunk)) {
              peer.waitingSince = performance.now();
              return void socket.once('drain', () => ((peer.waitingSince = 0), pump()));
            }
          }
        };
        pump();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(() => new Promise((r) => server.close(r)));

  test('a response comes through the read callback once, and a paused connection reads no more until resumed', async () => {
    const port = (server.address() as { port: number }).port;
    const c = new Cluster(cluster('b', [port], { tls: 'ISTIO_MUTUAL' }), undefined, () => clientTls);
    const got = await new Promise<AcquireResult>((r) => c.acquire(c.endpoints[0], r));
    if (!('conn' in got)) throw new Error(got.error);
    const { conn } = got;
    let received = 0;
    conn.take({
      onData: (chunk) => {
        received += chunk.length;
        // Paused at the first bytes, as the relay pauses the upstream for a client that cannot keep up.
        if (received === chunk.length) conn.socket.pause();
      },
      onEnd: () => undefined,
      onError: () => undefined,
    });
    conn.socket.write('GET / HTTP/1.1\r\nhost: b\r\n\r\n');
    // A reader drains the server's socket within moments; a paused one leaves it waiting (the wait is the property).
    await until(
      'the server waiting 300 ms for the paused reader',
      () => peer.waitingSince && performance.now() - peer.waitingSince > 300,
      20_000,
    );
    expect(received).toBeLessThan(BODY / 2);
    expect(peer.written).toBeLessThan(BODY);
    conn.socket.resume();
    await until('the whole response arrived', () => received >= BODY, 20_000);
    expect(received).toBe(BODY);
    conn.socket.destroy();
    peer.socket?.destroy();
    c.close();
  });
});
