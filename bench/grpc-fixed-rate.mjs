// Fixed-rate gRPC unary calls over cleartext HTTP/2 (`node:http2`, a few connections), measuring
// each call's latency from its send to its trailers. A call counts as answered when its trailers
// say `grpc-status: 0`.
// Usage: node grpc-fixed-rate.mjs <port> <authority> <rps> <seconds> [connections]
//   → JSON {sent, ok, errors, firstError, p50, p90, p99}
import http2 from 'node:http2';
import net from 'node:net';

const [port, authority, rps, seconds, conns = '4'] = process.argv.slice(2);
const total = Math.round(Number(rps) * Number(seconds));
// A 16-byte message in gRPC's framing: not compressed, a 4-byte big-endian length, the bytes.
const payload = Buffer.from('mast-bench-echo!');
const message = Buffer.concat([Buffer.from([0, 0, 0, 0, payload.length]), payload]);
const headers = {
  ':method': 'POST',
  ':path': '/bench.Echo/Unary',
  ':authority': authority,
  ':scheme': 'http',
  'content-type': 'application/grpc',
  te: 'trailers',
};
const lat = [];
let sent = 0;
let ok = 0;
let errors = 0;
let firstError;
const fail = (why) => {
  errors++;
  firstError ??= why;
};
const sessions = [];
for (let i = 0; i < Number(conns); i++) {
  // No Nagle: a call's frames go out as written, as a gRPC client's do.
  const createConnection = () => net.connect({ port: Number(port), host: '127.0.0.1', noDelay: true });
  const s = http2.connect(`http://127.0.0.1:${port}`, { createConnection });
  s.on('error', (e) => (firstError ??= `${e.code}: ${e.message}`));
  sessions.push(s);
}

function call(session) {
  const t0 = process.hrtime.bigint();
  let status;
  let grpcStatus;
  let contentType;
  let trailers = false;
  const req = session.request(headers);
  req.on('response', (h) => {
    status = h[':status'];
    contentType = h['content-type'];
    grpcStatus = h['grpc-status']; // a trailers-only response
  });
  req.on('trailers', (t) => {
    trailers = true;
    grpcStatus = t['grpc-status'];
  });
  req.on('data', () => undefined);
  // Judged once the stream is closed: a stream reset after its head also ends its readable side, and
  // 'end' may come before the 'error' that says it was reset.
  req.on('error', () => undefined);
  req.on('close', () => {
    if (req.rstCode) return fail(`HTTP ${status ?? '-'}, stream reset (RST_STREAM code ${req.rstCode})`);
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (status === 200 && grpcStatus === '0') ok++;
    // What the response lacked says where it broke (a head without content-type: one Node made up for a body written before the head).
    else fail(`HTTP ${status}, grpc-status ${grpcStatus}, content-type ${contentType ?? 'none'}, ${trailers ? 'trailers' : 'no trailers'}`);
  });
  req.end(message);
}

const interval = 1e9 / Number(rps);
// The schedule starts with the first tick (the connections are open by then), as fixed-rate.mjs's.
let begin = 0n;
function tick() {
  if (begin === 0n) begin = process.hrtime.bigint();
  const due = Math.min(total, Math.floor(Number(process.hrtime.bigint() - begin) / interval));
  while (sent < due) {
    const s = sessions[sent % sessions.length];
    sent++;
    if (s.destroyed || s.closed) fail('connection closed');
    else call(s);
  }
  if (sent < total) setTimeout(tick, 1);
  else settle(Date.now() + 1000);
}
/** Done when every call is answered, or a second after the last one was sent. */
function settle(deadline) {
  if (ok + errors >= sent || Date.now() > deadline) finish();
  else setTimeout(() => settle(deadline), 5);
}
function finish() {
  const unanswered = sent - ok - errors;
  if (unanswered) firstError ??= `${unanswered} calls unanswered a second after the last was sent`;
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? null;
  console.log(JSON.stringify({ sent, ok, errors, firstError, p50: q(0.5), p90: q(0.9), p99: q(0.99) }));
  for (const s of sessions) s.destroy();
}
setTimeout(tick, 200);
