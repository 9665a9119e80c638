/**
 * Attack: what an Istio-written policy means at the gateway, and the client address behind an NLB.
 * AuthorizationPolicy `ports` at an ingress gateway name the port the proxy listens on (the
 * Service's targetPort, 8080 for 80), as Envoy's listener does: a DENY written that way must deny.
 * And on an HTTPS port behind an NLB the PROXY protocol header comes before the TLS ClientHello.
 */
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { freePort } from '../../runtime/local/local-mesh';
import type { AuthzConfig } from '../../runtime/contract/authz';
import type { ListenerConfig } from '../../runtime/contract/proxy-config';
import { raw, stoppedAfterEach } from '../support/proxy';
import { tempDir } from '../support/temp-dir';
import { loopbackCluster, oneRoute } from './configs';
import { selfSigned } from './pki';
import { lenientBackend } from './support';

const { proxyFor, stopAfter } = stoppedAfterEach();
const statusOf = (reply: string) => Number(reply.slice(9, 12));

async function gateway(listener: Omit<ListenerConfig, 'virtualHosts' | 'protocol'>) {
  const app = await lenientBackend();
  stopAfter(() => app.close());
  const { proxy } = await proxyFor(oneRoute(listener, loopbackCluster('app', 'app.default.svc.cluster.local', app.port)));
  return { app, port: proxy.boundPort(listener.name)! };
}

describe('AuthorizationPolicy ports at a gateway are the ports it listens on', () => {
  const denyPort = (port: number): AuthzConfig => ({ deny: [{ name: `istio-system/deny-${port}[0]`, to: [{ ports: [String(port)] }] }] });

  test('a DENY on the container port (8080 for the Service port 80, as Istio users write it) denies', async () => {
    const listenOn = await freePort();
    const { app, port } = await gateway({ name: 'l', port: listenOn, matchPort: 80, authz: denyPort(listenOn) });
    expect(statusOf(await raw(port, 'GET / HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n'))).toBe(403);
    expect(app.lines()).toEqual([]);
  });

  test('a DENY on the Service port (which Envoy never sees) does not', async () => {
    const listenOn = await freePort();
    const { app, port } = await gateway({ name: 'l', port: listenOn, matchPort: 80, authz: denyPort(80) });
    expect(statusOf(await raw(port, 'GET / HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n'))).toBe(200);
    expect(app.lines()).toEqual(['GET / HTTP/1.1']);
  });
});

/** A PROXY protocol v2 header (PROXY command, TCP over IPv4) claiming `source` as the client. */
function proxyHeader(source: string, destination: string, sourcePort: number, destinationPort: number): Buffer {
  const address = Buffer.alloc(12);
  source.split('.').forEach((b, i) => (address[i] = Number(b)));
  destination.split('.').forEach((b, i) => (address[4 + i] = Number(b)));
  address.writeUInt16BE(sourcePort, 8);
  address.writeUInt16BE(destinationPort, 10);
  const fixed = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 12]);
  return Buffer.concat([fixed, address]);
}

describe('PROXY protocol on an HTTPS gateway port (an NLB in front)', () => {
  async function httpsGateway() {
    const dir = tempDir('mast-edge-');
    const server = selfSigned(dir, 'gw', 'spiffe://cluster.local/ns/istio-system/sa/gw');
    writeFileSync(`${dir}/gw.pem`, server.cert);
    writeFileSync(`${dir}/gw.key`, server.key);
    return gateway({
      name: 'l',
      port: 0,
      matchPort: 443,
      proxyProtocol: true,
      tls: { certificateFile: `${dir}/gw.pem`, keyFile: `${dir}/gw.key` },
    });
  }

  /** The header, then TLS and one request over it; the reply (or how the connection ended). */
  function viaNlb(port: number, header: Buffer | undefined): Promise<string> {
    return new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        if (header) socket.write(header);
        const secure = tls.connect({ socket, rejectUnauthorized: false }, () =>
          secure.write('GET /orders HTTP/1.1\r\nHost: alpha.example.com\r\nConnection: close\r\n\r\n'),
        );
        let out = '';
        const t = setTimeout(() => secure.destroy(), 2000);
        secure.on('data', (d) => (out += d.toString('latin1')));
        secure.on('error', (err: NodeJS.ErrnoException) => (out ||= `error ${err.code ?? err.message}`));
        secure.on('close', () => (clearTimeout(t), resolve(out || 'closed')));
      });
      socket.on('error', () => resolve('error'));
    });
  }

  test("the header before the ClientHello is read, TLS is served, the client is the header's source", async () => {
    const { app, port } = await httpsGateway();
    expect(statusOf(await viaNlb(port, proxyHeader('203.0.113.7', '10.0.0.1', 40000, 443)))).toBe(200);
    expect(app.seen).toHaveLength(1);
    expect(app.seen[0].headers['x-forwarded-for']).toBe('203.0.113.7');
    expect(app.seen[0].headers['x-forwarded-proto']).toBe('https');
  });

  test('a ClientHello without the header the port expects is refused: nothing reaches the app', async () => {
    const { app, port } = await httpsGateway();
    expect(statusOf(await viaNlb(port, undefined))).toBeNaN();
    expect(app.lines()).toEqual([]);
  });
});
