// The floor for any Node.js proxy on this machine: bytes piped between a client connection and
// one upstream connection, no HTTP parsing at all. It reads with mast's own read-buffer helpers
// (`onread` into one shared buffer), so the pipe pays what Node itself costs and no more.
// Bundled by bench/run.mjs; usage: node pipe-proxy.js <port> <upstream-port>
import * as net from 'node:net';
import { acceptedWithOnRead, readInto } from '../runtime/proxy/read-buffer';

const [port, upstream] = process.argv.slice(2).map(Number);
net
  .createServer({ noDelay: true }, (accepted) => {
    let up: net.Socket | undefined;
    const client = acceptedWithOnRead(accepted, (d) => up?.write(d));
    up = net.connect({ port: upstream, host: '127.0.0.1', noDelay: true, onread: readInto((d) => client.write(d)) });
    client.setNoDelay(true);
    client.on('data', (d: Buffer) => up?.write(d)); // only where the handle could not be moved
    client.on('close', () => up?.destroy());
    up.on('close', () => client.destroy());
    client.on('error', () => undefined);
    up.on('error', () => undefined);
  })
  .listen(port, '127.0.0.1');
