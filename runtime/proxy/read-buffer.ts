/**
 * Reads through Node's `onread` into one buffer for the whole process: each read's bytes are
 * copied out at once into a Buffer of their own size (small ones come from Node's pool), so the
 * buffer is free again before the next read (a read and its callback run together on the one
 * thread). Without it Node makes a 64 KB buffer for every read and passes each chunk through the
 * stream machinery ('data' events); a proxy reads twice per request.
 */
import * as net from 'node:net';

const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Socket options whose reads go to `deliver`. */
export function readInto(deliver: (chunk: Buffer) => void): net.OnReadOpts {
  return {
    buffer: READ_BUFFER,
    callback: (n: number) => {
      const chunk = Buffer.allocUnsafe(n);
      chunk.set(READ_BUFFER.subarray(0, n));
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
