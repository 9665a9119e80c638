/**
 * Reads through Node's `onread` into one buffer for the whole process: each read's bytes are
 * copied out at once into a Buffer of their own size (small ones come from Node's pool), so the
 * buffer is free again before the next read (a read and its callback run together on the one
 * thread). Without it Node makes a 64 KB buffer for every read and passes each chunk through the
 * stream machinery ('data' events); a proxy reads twice per request.
 */
import * as net from 'node:net';
import type * as tls from 'node:tls';

const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Socket options whose reads go to `deliver`. */
export function readInto(deliver: (chunk: Buffer) => void): net.OnReadOpts {
  return {
    buffer: READ_BUFFER,
    callback: (n: number) => {
      const chunk = Buffer.allocUnsafe(n);
      // Copied by Node's native copy: a subarray view to `set` from would be one more typed array a read.
      READ_BUFFER.copy(chunk, 0, 0, n);
      deliver(chunk);
      return true;
    },
  };
}

/** The private fields of an accepted socket that moving its handle touches. */
interface AcceptedSocket {
  _handle: unknown;
  _server: net.Server | null;
  server: net.Server | null;
}

/**
 * An accepted connection as a socket that reads through `readInto` (Node's servers take no
 * `onread` option): its handle moves to a socket made with one, along with the server's count of
 * it (kept by `_server`). Where that is not possible (no handle to move), the accepted socket
 * itself, reading as usual: `deliver` then gets nothing and its owner must listen for 'data'.
 */
export function acceptedWithOnRead(accepted: net.Socket, deliver: (chunk: Buffer) => void): net.Socket {
  const shell = accepted as unknown as AcceptedSocket;
  // Node's own fields: where they are not as expected (another Node), no move; the socket reads as usual.
  if (!shell._handle || accepted.destroyed || !('_server' in accepted) || shell._server === undefined) return accepted;
  const socket = new net.Socket({
    handle: shell._handle,
    readable: true,
    writable: true,
    onread: readInto(deliver),
  } as net.SocketConstructorOpts);
  const moved = socket as unknown as AcceptedSocket;
  moved._server = shell._server;
  moved.server = shell.server;
  shell._handle = null;
  shell._server = null;
  accepted.destroy();
  return socket;
}

/** Node's private fields of a socket that reads through `onread` (net.Socket's constructor sets them). */
interface OnReadFields {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly generator: symbol;
}
let onReadFields: OnReadFields | null | undefined;

function fieldsOf(socket: object): OnReadFields | null {
  if (onReadFields !== undefined) return onReadFields;
  const named = (name: string) => Object.getOwnPropertySymbols(socket).find((s) => s.description === name);
  const [buffer, callback, generator] = [named('kBuffer'), named('kBufferCb'), named('kBufferGen')];
  onReadFields = buffer && callback && generator ? { buffer, callback, generator } : null;
  return onReadFields;
}

/**
 * A TLS socket made over an accepted one (a server side: Node gives `onread` only to the TLS
 * sockets it connects itself) switched to reading through `readInto`, as `tls.connect({ onread })`
 * would have made it: its cleartext no longer goes through the stream machinery ('data' events).
 * False where that is not possible (another Node's fields, or bytes already waiting in the stream):
 * the socket then reads as before and its owner must listen for 'data'.
 */
export function secureWithOnRead(secure: tls.TLSSocket, deliver: (chunk: Buffer) => void): boolean {
  const handle = (secure as unknown as { _handle?: { useUserBuffer?: (b: Buffer) => void } })._handle;
  const f = fieldsOf(secure);
  if (!f || !handle?.useUserBuffer || secure.destroyed || secure.readableLength > 0) return false;
  const fields = secure as unknown as Record<symbol, unknown>;
  if (fields[f.buffer] !== null || fields[f.callback] !== null) return false;
  const { buffer, callback } = readInto(deliver);
  fields[f.buffer] = buffer;
  fields[f.callback] = callback;
  fields[f.generator] = null;
  handle.useUserBuffer(buffer as Buffer);
  return true;
}
