/**
 * The tcp-echo workload of Istio's tcp-traffic-shifting task, as a `mast local` app: a TCP server
 * on PORT that answers each line it reads with PREFIX, a space and the line (v1 says "one", v2
 * "two"), so a client can tell which version its connection reached.
 */
import * as net from 'node:net';

const prefix = process.env.PREFIX ?? 'one';
// Under `mast local`, stop when the supervisor does (it holds stdin open).
if (process.env.MAST_STOP_WITH_PARENT === '1') {
  process.stdin.on('end', () => process.exit(0)).on('close', () => process.exit(0));
  process.stdin.resume();
}
process.once('SIGTERM', () => process.exit(0));

const server = net.createServer((socket) => {
  socket.on('error', () => socket.destroy());
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (text: string) => {
    pending += text;
    for (let eol = pending.indexOf('\n'); eol >= 0; eol = pending.indexOf('\n')) {
      socket.write(`${prefix} ${pending.slice(0, eol + 1)}`);
      pending = pending.slice(eol + 1);
    }
  });
});
server.listen(Number(process.env.PORT ?? 9000), process.env.HOST ?? '127.0.0.1', () =>
  console.log(`tcp-echo ${prefix} listening on ${(server.address() as net.AddressInfo).port}`),
);
