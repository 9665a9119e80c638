// The floor for any Node.js proxy on this machine: bytes piped between a client connection and
// one upstream connection, no HTTP parsing at all. Reads go through `onread` into one shared
// buffer, as mast's do (runtime/proxy/read-buffer.ts), so the pipe pays what Node itself costs
// and no more. Usage: node pipe-proxy.mjs <port> <upstream-port>
import net from 'node:net';

const [port, upstream] = process.argv.slice(2).map(Number);
const shared = Buffer.allocUnsafe(64 * 1024);
const readInto = (deliver) => ({
  buffer: shared,
  callback: (n) => {
    const chunk = Buffer.allocUnsafe(n);
    chunk.set(shared.subarray(0, n));
    deliver(chunk);
    return true;
  },
});

net
  .createServer({ noDelay: true, pauseOnConnect: true }, (accepted) => {
    // Servers take no `onread` option: the accepted handle moves to a socket made with one.
    const handle = accepted._handle;
    accepted._handle = null;
    accepted.destroy();
    let up;
    const client = new net.Socket({ handle, readable: true, writable: true, onread: readInto((d) => up.write(d)) });
    up = net.connect({ port: upstream, host: '127.0.0.1', noDelay: true, onread: readInto((d) => client.write(d)) });
    client.setNoDelay(true);
    client.resume();
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
    client.on('error', () => undefined);
    up.on('error', () => undefined);
  })
  .listen(port, '127.0.0.1');
