// Fixed-rate HTTP/1.1 load on keep-alive connections, measuring each request's latency.
// Usage: node fixed-rate.mjs <port> <host-header> <rps> <seconds> [connections]  → JSON {sent, ok, errors, p50, p90, p99}
import net from 'node:net';

const [port, host, rps, seconds, conns = '20'] = process.argv.slice(2);
const total = Number(rps) * Number(seconds);
const request = Buffer.from(`GET /api/v1/products HTTP/1.1\r\nhost: ${host}\r\nuser-agent: mast-bench\r\n\r\n`, 'latin1');
const lat = [];
let sent = 0,
  ok = 0,
  errors = 0;
const sockets = [];
for (let i = 0; i < Number(conns); i++) {
  const s = net.connect(Number(port), '127.0.0.1');
  s.setNoDelay(true);
  s.queue = [];
  s.buf = '';
  s.on('data', (d) => {
    s.buf += d.toString('latin1');
    // Responses are small with content-length: split on complete responses.
    for (;;) {
      const he = s.buf.indexOf('\r\n\r\n');
      if (he < 0) return;
      const m = /content-length: *(\d+)/i.exec(s.buf.slice(0, he));
      const len = m ? Number(m[1]) : 0;
      if (s.buf.length < he + 4 + len) return;
      const status = Number(s.buf.slice(9, 12));
      s.buf = s.buf.slice(he + 4 + len);
      const t0 = s.queue.shift();
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (status === 200) ok++;
      else errors++;
    }
  });
  s.on('error', () => errors++);
  sockets.push(s);
}
const interval = 1e9 / Number(rps);
// The schedule starts with the first tick (the connections are open by then): counting from
// the script's start would send a burst of 200 pipelined requests first and measure that queue.
let start = 0n;
function tick() {
  if (start === 0n) start = process.hrtime.bigint();
  const now = process.hrtime.bigint();
  const due = Math.min(total, Math.floor(Number(now - start) / interval));
  while (sent < due) {
    const s = sockets[sent % sockets.length];
    s.queue.push(process.hrtime.bigint());
    s.write(request);
    sent++;
  }
  if (sent < total) setTimeout(tick, 1);
  else settle(Date.now() + 1000);
}
/** Done when every request is answered, or a second after the last one was sent. */
function settle(deadline) {
  if (ok + errors >= sent || Date.now() > deadline) finish();
  else setTimeout(() => settle(deadline), 5);
}
function finish() {
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  console.log(JSON.stringify({ sent, ok, errors, p50: q(0.5), p90: q(0.9), p99: q(0.99) }));
  for (const s of sockets) s.destroy();
}
setTimeout(tick, 200);
