/**
 * The drain of a listener a config push removed, as Envoy drains a listener LDS removes: the port
 * stops accepting at once; its HTTP connections keep serving, each response saying
 * `Connection: close` so the client closes it after the request in flight; a keep-alive connection
 * idle between requests is left open (ending it while the client may be sending its next request
 * is the race that shows up as a reset) until the drain deadline, when idle connections are ended
 * (FIN) and anything still busy is closed. A short grace later whatever has not closed is destroyed.
 * Its HTTP/2 sessions are told GOAWAY at once (h2/goaway.ts: Envoy's two GOAWAYs), their streams in
 * flight finish and their clients open new streams on a new connection; at the deadline what is
 * left of them is closed.
 */
import type { ListenerRuntime } from './listeners';

/** A client connection as the drain sees it (downstream.ts's DownstreamConn). */
export interface DrainableConn {
  readonly listener: ListenerRuntime;
  /** No request in progress and none half-read. */
  readonly idle: boolean;
  /** FIN after whatever was written. */
  end(): void;
  /** Reset. */
  close(): void;
}

/** The proxy's HTTP/2 sessions as the drain sees them (h2/server.ts's H2Front). */
export interface DrainableSessions {
  /** GOAWAY to the sessions of `l`, the final one within `finalAfterMs`. */
  goAway(l: ListenerRuntime, finalAfterMs: number): void;
  /** Closes the sessions of `l` still open. */
  destroy(l: ListenerRuntime): void;
}

/** After the deadline's FINs, how long clients get to close their side before the sockets are destroyed. */
const LINGER_MS = 1000;

/**
 * Drains `l` (already out of the proxy's listeners): resolves when its last connection has closed
 * (the server's own count, which follows a connection whatever socket holds it), or once the
 * deadline and the linger after it have passed.
 */
export function drainListener(
  l: ListenerRuntime,
  conns: () => Iterable<DrainableConn>,
  deadlineMs: number,
  /** Asked each time: the first HTTP/2 connection may come after the drain began (its session is told at once, h2/server.ts). */
  sessions: () => DrainableSessions | undefined = () => undefined,
): Promise<void> {
  l.draining = true;
  const server = l.server;
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    const done = () => {
      for (const t of timers) clearTimeout(t);
      resolve();
    };
    // Stops accepting now; 'close' comes once the last connection has closed.
    server.close(done);
    sessions()?.goAway(l, deadlineMs);
    const atDeadline = () => {
      sessions()?.destroy(l);
      for (const c of conns()) if (c.listener === l) c.idle ? c.end() : c.close();
      timers.push(setTimeout(lingerOver, LINGER_MS).unref());
    };
    const lingerOver = () => {
      // TCP proxies, TLS connections under their TLS sockets, peers that never answered the FIN.
      for (const c of conns()) if (c.listener === l) c.close();
      for (const s of l.sockets) s.destroy();
      done();
    };
    timers.push(setTimeout(atDeadline, deadlineMs).unref());
  });
}
