/**
 * No input from a peer terminates the process. A peer's bytes reach the proxy in socket callbacks
 * (Node's `onread` or 'data'), and an exception thrown from one would reach the event loop and end
 * the process, and with it every other connection. The parsers answer bad input with a 400/502 of
 * their own; this is the line behind them: each callback that takes a peer's bytes runs inside
 * `containPeerInput`, so a throw nobody foresaw ends that one connection.
 *
 * There is deliberately no process-wide `uncaughtException` handler: it could not tell which
 * connection to end, and would keep a process whose state is unknown serving.
 */
import { channel } from 'node:diagnostics_channel';

/** Where a peer's input came in. */
export type PeerSide = 'downstream' | 'upstream' | 'mirror' | 'accept';

/** What `peerInputChannel` publishes: an error contained to one connection. */
export interface ContainedPeerError {
  readonly code: 'MAST_PROXY_PEER_INPUT';
  readonly side: PeerSide;
  readonly error: unknown;
}

/** Observability hook (the proxy counts these as `mast_peer_input_errors_total{side}`). */
export const peerInputChannel = channel('mast-proxy:peer-input-error');

/**
 * Runs `handle` (a socket callback taking a peer's bytes); if it throws, `end` closes that peer's
 * connection and the error is published, never rethrown.
 */
export function containPeerInput(side: PeerSide, end: () => void, handle: () => void): void {
  try {
    handle();
  } catch (error) {
    contained(side, end, error);
  }
}

/**
 * `handle` as a listener that runs as containPeerInput runs a callback: wrapped once when the
 * listener is added, so an event (each DATA frame of a response) makes no closure of its own.
 */
export function containedListener<A, B>(side: PeerSide, end: () => void, handle: (a: A, b: B) => void): (a: A, b: B) => void {
  return (a, b) => {
    try {
      handle(a, b);
    } catch (error) {
      contained(side, end, error);
    }
  };
}

/** A throw caught where a peer's input was handled (a listener of its own making): `end` closes that peer's connection or stream, the error is published. */
export function containedError(side: PeerSide, end: () => void, error: unknown): void {
  contained(side, end, error);
}

function contained(side: PeerSide, end: () => void, error: unknown): void {
  try {
    end();
  } finally {
    if (peerInputChannel.hasSubscribers)
      peerInputChannel.publish({ code: 'MAST_PROXY_PEER_INPUT', side, error } satisfies ContainedPeerError);
  }
}
