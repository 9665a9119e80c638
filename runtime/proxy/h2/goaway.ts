/**
 * The drain of one downstream HTTP/2 session, in the steps of Envoy's connection manager
 * (`startDrainSequence`, `onDrainTimeout`): a first GOAWAY naming the largest stream id (the client
 * opens no new stream on this connection; nothing in flight is cut), then after the drain timeout
 * (Envoy's `drain_timeout`, 5 s by default) the final GOAWAY naming the last stream processed, and
 * the session closed as soon as its streams are done. The listener's drain deadline destroys what
 * is still open (`destroyDrained`). A session with no stream open for the idle timeout is drained
 * the same way (Envoy's `onIdleTimeout` starts the drain sequence; a quiet stream is not idle).
 *
 * One difference node:http2 imposes: nghttp2's shutdown notice (which keeps accepting the streams
 * a client opened before the notice reached it) is not exposed, so the first GOAWAY is an ordinary
 * one with the largest id; streams that crossed it are not served, and the final GOAWAY tells the
 * client they were not processed (RFC 9113 §6.8: safe to retry on a new connection).
 */
import { performance } from 'node:perf_hooks';
import type * as http2 from 'node:http2';
import { NO_ERROR } from './lazy-http2';

/** Envoy's `drain_timeout` default: between the first GOAWAY and the final one. */
export const GOAWAY_FINAL_AFTER_MS = 5000;

/** The largest stream id (RFC 9113 §5.1.1): "no stream of yours is refused yet". */
const MAX_STREAM_ID = 2 ** 31 - 1;

/** Sessions told the first GOAWAY, with the timer of their final one. */
const draining = new WeakMap<http2.Http2Session, NodeJS.Timeout>();

export function isDraining(session: http2.Http2Session): boolean {
  return draining.has(session);
}

/**
 * Starts the drain of `session` (once: a second call changes nothing). `finalAfterMs`: when the
 * final GOAWAY goes, at most Envoy's drain timeout (a shorter listener drain brings it forward).
 */
export function goAway(session: http2.Http2Session, finalAfterMs = GOAWAY_FINAL_AFTER_MS): void {
  if (session.closed || session.destroyed || draining.has(session)) return;
  session.goaway(NO_ERROR, MAX_STREAM_ID);
  const final = setTimeout(
    () => {
      // close(): the final GOAWAY with the last stream processed; the session ends when its streams have.
      if (!session.closed && !session.destroyed) session.close();
    },
    Math.min(finalAfterMs, GOAWAY_FINAL_AFTER_MS),
  );
  final.unref();
  draining.set(session, final);
  session.once('close', () => clearTimeout(final));
}

/** The drain's deadline: a session still open (streams in flight past it) is closed now, its streams reset. */
export function destroyDrained(session: http2.Http2Session): void {
  const final = draining.get(session);
  if (final) clearTimeout(final);
  if (!session.destroyed) session.destroy();
}

/**
 * Drains `session` once it has had no stream open for `idleMs` (Envoy's connection idle timeout:
 * "no active requests", so a long stream with nothing to say keeps its connection). A connection
 * that never opens a stream is idle from the start. One timer per session, looked at when it fires
 * (armed again for what is left when a stream opened or ended meanwhile): a stream only counts, it
 * arms and clears no timer of its own.
 */
export function goAwayWhenIdle(session: http2.ServerHttp2Session, idleMs: number): void {
  const idle: IdleCount = { open: 0, since: performance.now() };
  const check = () => {
    if (session.destroyed || session.closed) return;
    const left = idle.open > 0 ? idleMs : idle.since + idleMs - performance.now();
    if (left <= 0) return goAway(session);
    timer = setTimeout(check, left);
    timer.unref();
  };
  let timer = setTimeout(check, idleMs);
  timer.unref();
  session.on('stream', (stream) => {
    idle.open++;
    (stream as CountedStream)[IDLE] = idle;
    stream.on('close', streamClosed);
  });
  session.once('close', () => clearTimeout(timer));
}

const IDLE = Symbol('mast.idleCount');
interface IdleCount {
  /** Streams open now. */
  open: number;
  /** When the last one ended (or the session began). */
  since: number;
}
type CountedStream = http2.ServerHttp2Stream & { [IDLE]: IdleCount };

/** A stream's 'close' (one function for every stream): the last one open starts the idle time. */
function streamClosed(this: CountedStream): void {
  const idle = this[IDLE];
  if (--idle.open === 0) idle.since = performance.now();
}
