/**
 * TLS session resumption between sidecars: a cluster's new mTLS connection to an endpoint resumes
 * the session its server last gave, the server still holding the client's verified certificate;
 * a push (a new Cluster) starts from a full handshake, since Node checks the server's identity only
 * in one; and a server that cannot resume (a mast from before it) costs one failed try, then full
 * handshakes.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { serveTls, workloadContext } from '../../../../runtime/proxy/peer-tls';
import { Cluster } from '../../../../runtime/proxy/upstream/cluster';
import { until } from '../../../support/poll';
import { cluster } from '../../../support/proxy';
import { meshCa, workload } from '../../../security/pki';

type Handshake = { reused: boolean; peer?: string };

/** A sidecar's inbound as accept.ts serves it: serveTls over the accepted socket, the client's certificate verified. */
function inbound(context: tls.SecureContext): { server: net.Server; handshakes: Handshake[] } {
  const handshakes: Handshake[] = [];
  const server = net.createServer((raw) =>
    serveTls(raw, { context, verifyClient: true, handshakeTimeoutMs: 5000 }, (secure, peer) => {
      handshakes.push({ reused: secure.isSessionReused(), peer: peer?.subjectAltName });
      // A byte back, so the client reads (and takes the session tickets that follow the handshake).
      secure.write('x');
      secure.on('error', () => undefined);
    }),
  );
  return { server, handshakes };
}

describe('TLS session resumption to mesh endpoints', () => {
  let serverKeys: { key: string; certificate: string; root: string };
  let client: tls.SecureContext;
  const servers: net.Server[] = [];
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    const ca = await meshCa();
    serverKeys = await workload(ca, 'default', 'backend');
    const c = await workload(ca, 'default', 'client');
    client = workloadContext(c.key, c.certificate, c.root);
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  async function listen(context: tls.SecureContext) {
    const i = inbound(context);
    servers.push(i.server);
    await new Promise<void>((r) => i.server.listen(0, '127.0.0.1', r));
    return { port: (i.server.address() as net.AddressInfo).port, handshakes: i.handshakes };
  }

  /** Session tickets each connection received. */
  const tickets = new Map<net.Socket, number>();

  /** A connection of `c` to its endpoint: 'secure' once the server's byte arrived, or the error that ended it. */
  async function connect(c: Cluster): Promise<string> {
    const socket = c.connect(c.endpoints[0]) as tls.TLSSocket;
    sockets.push(socket);
    socket.on('session', () => tickets.set(socket, (tickets.get(socket) ?? 0) + 1));
    const result = await new Promise<string>((resolve) => {
      socket.once('data', () => resolve('secure'));
      socket.once('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
      socket.once('close', () => resolve('closed'));
    });
    // A full handshake's tickets follow it: the cluster takes one for the next connection.
    if (result === 'secure' && !socket.isSessionReused()) await until('a session ticket', () => tickets.get(socket));
    return result;
  }

  test("the second connection resumes the first one's session, the server still sees the verified client; after a push, a full handshake first", async () => {
    const { port, handshakes } = await listen(workloadContext(serverKeys.key, serverKeys.certificate, serverKeys.root));
    const config = cluster('b', [port], { tls: 'ISTIO_MUTUAL' });
    const first = new Cluster(config, undefined, () => client);
    expect(await connect(first)).toBe('secure');
    expect(await connect(first)).toBe('secure');
    const pushed = new Cluster(config, first, () => client);
    expect(await connect(pushed)).toBe('secure');
    expect(await connect(pushed)).toBe('secure');
    await until('four handshakes at the server', () => handshakes.length === 4);
    expect(handshakes.map((h) => h.reused)).toEqual([false, true, false, true]);
    for (const h of handshakes) expect(h.peer).toBe('URI:spiffe://cluster.local/ns/default/sa/client');
  });

  test('a server that cannot resume fails one try, then gets full handshakes', async () => {
    // No session id context: OpenSSL fails a resumption on a server that asks for a client certificate.
    const before = tls.createSecureContext({ key: serverKeys.key, cert: serverKeys.certificate, ca: serverKeys.root });
    const { port, handshakes } = await listen(before);
    const c = new Cluster(cluster('b', [port], { tls: 'ISTIO_MUTUAL' }), undefined, () => client);
    expect(await connect(c)).toBe('secure');
    expect(await connect(c)).not.toBe('secure');
    expect(c.endpoints[0].refusesResumption).toBe(true);
    expect(await connect(c)).toBe('secure');
    expect(await connect(c)).toBe('secure');
    expect(handshakes.map((h) => h.reused)).toEqual([false, false, false]);
  });
});
