// The floor for a Node.js mesh hop with mTLS: bytes piped between a client connection and one
// upstream connection, one side of them TLS 1.3 with certificates checked both ways, no HTTP
// parsing at all. Two of them chained (`out` then `in`) do what the nginx mTLS chain of the mesh
// path does, so the mesh rows can say how much of mast's cost is Node's own TLS.
// Bundled by bench/run.mjs; usage:
//   node mtls-pipe-proxy.js out <port> <upstream-port> <crt> <key> <ca> <server-name>  (plain in, mTLS out)
//   node mtls-pipe-proxy.js in <port> <upstream-port> <crt> <key> <ca>                 (mTLS in, plain out)
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { acceptedWithOnRead, readInto } from '../runtime/proxy/read-buffer';

const [mode, port, upstream, crt, key, ca, serverName] = process.argv.slice(2);
// A clean exit on SIGTERM, so that --cpu-prof (the bench's --profile) writes its profile.
process.on('SIGTERM', () => process.exit(0));
const credentials = { cert: readFileSync(crt), key: readFileSync(key), ca: readFileSync(ca), minVersion: 'TLSv1.3' as const };

/** Each side's errors end both: a pipe has nothing to retry. */
function joined(a: net.Socket, b: net.Socket): void {
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
  a.on('error', () => undefined);
  b.on('error', () => undefined);
}

if (mode === 'out') {
  const session: { last?: Buffer } = {};
  net
    .createServer({ noDelay: true }, (accepted) => {
      let up: tls.TLSSocket | undefined;
      const client = acceptedWithOnRead(accepted, (d) => up?.write(d));
      up = tls.connect({
        ...credentials,
        port: Number(upstream),
        host: '127.0.0.1',
        servername: serverName,
        session: session.last,
        noDelay: true,
        onread: readInto((d) => client.write(d)),
      } as tls.ConnectionOptions);
      up.on('session', (s: Buffer) => {
        session.last = s;
      });
      client.setNoDelay(true);
      client.on('data', (d: Buffer) => up?.write(d)); // only where the handle could not be moved
      joined(client, up);
    })
    .listen(Number(port), '127.0.0.1');
} else {
  tls
    .createServer({ ...credentials, requestCert: true, rejectUnauthorized: true }, (client) => {
      client.setNoDelay(true);
      const up = net.connect({ port: Number(upstream), host: '127.0.0.1', noDelay: true, onread: readInto((d) => client.write(d)) });
      client.on('data', (d: Buffer) => up.write(d));
      joined(client, up);
    })
    .listen(Number(port), '127.0.0.1');
}
