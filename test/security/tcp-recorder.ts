/**
 * The app behind a proxy for L4 attacks: a TCP server that records every connection it accepts and
 * every byte it receives (and answers `ok:<bytes>`), and a client that says whether its connection
 * was answered or closed.
 */
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpRecorder {
  readonly port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Every byte received, from every connection, in order (latin1). */
  received: string;
  close(): Promise<void>;
}

export async function tcpRecorder(): Promise<TcpRecorder> {
  const sockets = new Set<net.Socket>();
  const rec = { port: 0, connections: 0, received: '', close: () => Promise.resolve() } as TcpRecorder;
  const server = net.createServer((s) => {
    rec.connections++;
    sockets.add(s);
    s.on('data', (d) => {
      rec.received += d.toString('latin1');
      s.write(`ok:${d.toString('latin1')}`);
    });
    s.on('error', () => s.destroy());
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(rec, {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
  });
}

/** Connects, writes `bytes`, and gives what came back before the proxy closed (or `ms` passed). */
export function tcpTalk(port: number, bytes: Buffer | string, ms = 400): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    let reply = '';
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    const done = (closed: boolean) => (clearTimeout(t), s.destroy(), resolve({ reply, closed }));
    const t = setTimeout(() => done(false), ms);
    s.on('data', (d) => (reply += d.toString('latin1')));
    s.on('close', () => done(true));
    s.on('error', () => done(true));
  });
}
