/**
 * The codec's relay (runtime/proxy/h2/codec/relay.ts) on loopback for the interop and defence
 * tests: started in front of an upstream port, its sessions kept so a test can look into them.
 */
import * as net from 'node:net';
import type { CodecLimits } from '../../../../runtime/proxy/h2/codec/limits';
import { relayServer } from '../../../../runtime/proxy/h2/codec/relay';

export interface RunningRelay {
  readonly port: number;
  close(): Promise<void>;
}

export async function startRelay(upstreamPort: number, limits: Partial<CodecLimits> = {}): Promise<RunningRelay> {
  const sockets = new Set<net.Socket>();
  const server = relayServer(() => {
    const s = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(s);
    return s;
  }, limits);
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
