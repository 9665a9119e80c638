// The mesh path's memory figures, like for like (issue #26: private memory per proxy ≤ the byte
// pipe's + 3 MB at 1,000 requests/s). Each mast proxy is read beside the Node pipe that does the
// same transport and holds the same connections: the gateway (plain in, mTLS out) beside the mTLS
// pipe's client side, the backend's sidecar (mTLS in, plain out) beside the mTLS pipe's accepting
// side. mast keeps its upstream connections pooled after a load goes (as Envoy does), where a pipe
// closes each with its client, so the pipe chain is given as many connections as mast holds:
// idle client connections, each with one request through it, plus the fixed-rate client's own.
import net from 'node:net';
import { fixedRate } from './measure.mjs';
import { connectionsOf, memoryMb, sleep } from './processes.mjs';

const SECONDS = 3;
const REQUEST = (host) => Buffer.from(`GET /api/v1/products HTTP/1.1\r\nhost: ${host}\r\n\r\n`, 'latin1');

/** `n` kept-alive connections to `port`, each after one request answered: `close()` ends them. */
async function holdConnections(port, host, n) {
  const sockets = [];
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => s.write(REQUEST(host)));
          sockets.push(s);
          s.once('data', resolve);
          s.on('error', resolve);
          setTimeout(resolve, 5000);
        }),
    ),
  );
  return { close: () => sockets.forEach((s) => s.destroy()) };
}

/** Each pid's memory and connections (`count(held)` of them) half-way through SECONDS at `rate` through `port`. */
async function underLoad(port, host, rate, pids) {
  const r = await fixedRate(port, host, rate, SECONDS, () => pids.map((pid) => ({ memory: memoryMb(pid), held: connectionsOf(pid) })));
  return r.sampled;
}

/**
 * The like-for-like reads, after the rows: `p` the processes of mesh-path's startRows, `ports` its
 * MESH. Returns { gateway, pipeOut, sidecar, pipeIn }: each { anon (MB), mtls (connections held) }.
 */
export async function likeForLike(p, ports, rate) {
  const mtlsOut = (held, port) => held.filter((c) => c.peer === port).length;
  const mtlsIn = (held, port) => held.filter((c) => c.local === port).length;
  const [gw, sc] = await underLoad(ports.gateway, 'alpha.example.com', rate, [p.gateway.pid, p.sidecarIn.pid]);
  const gateway = { anon: gw.memory.anon, mtls: mtlsOut(gw.held, ports.sidecarIn), all: gw.held.length };
  const sidecar = { anon: sc.memory.anon, mtls: mtlsIn(sc.held, ports.sidecarIn), all: sc.held.length };
  const pipeWith = async (target) => {
    // The fixed-rate client brings 20 connections of its own.
    const hold = await holdConnections(ports.mtlsPipeOut, 'backend', Math.max(target - 20, 0));
    await sleep(300);
    try {
      const [out, inn] = await underLoad(ports.mtlsPipeOut, 'backend', rate, [p.pipeOut.pid, p.pipeIn.pid]);
      return {
        out: { anon: out.memory.anon, mtls: mtlsOut(out.held, ports.mtlsPipeIn), all: out.held.length },
        in: { anon: inn.memory.anon, mtls: mtlsIn(inn.held, ports.mtlsPipeIn), all: inn.held.length },
      };
    } finally {
      hold.close();
      await sleep(300);
    }
  };
  const pipeOut = (await pipeWith(gateway.mtls)).out;
  const pipeIn = (await pipeWith(sidecar.mtls)).in;
  return { gateway, pipeOut, sidecar, pipeIn };
}

/** The headline lines for likeForLike's figures. */
export function likeForLikeLines(f, rate) {
  const line = (name, m, pipeName, pm) =>
    `memory like-for-like ${name} MB ${(m.anon - pm.anon).toFixed(1)} over ${pipeName} at ${rate} req/s (target <= 3): ${m.anon.toFixed(1)} holding ${m.mtls} mTLS connections (${m.all} in all) against ${pm.anon.toFixed(1)} holding ${pm.mtls} (${pm.all})`;
  return [
    line('gateway', f.gateway, "the mTLS pipe's client side", f.pipeOut),
    line('sidecar', f.sidecar, "the mTLS pipe's accepting side", f.pipeIn),
  ];
}
