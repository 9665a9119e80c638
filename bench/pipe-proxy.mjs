// The floor for any Node.js proxy on this machine: bytes piped between a client connection and
// one upstream connection, no HTTP parsing at all. Usage: node pipe-proxy.mjs <port> <upstream-port>
import net from 'node:net';

const [port, upstream] = process.argv.slice(2).map(Number);
net
  .createServer({ noDelay: true }, (client) => {
    const up = net.connect(upstream, '127.0.0.1');
    up.setNoDelay(true);
    client.on('data', (d) => up.write(d));
    up.on('data', (d) => client.write(d));
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
    client.on('error', () => undefined);
    up.on('error', () => undefined);
  })
  .listen(port, '127.0.0.1');
