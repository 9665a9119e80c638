/**
 * Byte-level helpers for the codec's unit tests: a socket that records what is written to it
 * (no real I/O), frames built by hand, a literal-only header block (no Huffman, no indexing, as
 * RFC 7541 §6.2.2 spells it), and the frames a session wrote, read back.
 */
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import {
  CLIENT_PREFACE,
  FRAME_HEADER_SIZE,
  frameLength,
  frameStreamId,
  writeFrameHeader,
} from '../../../../../runtime/proxy/h2/codec/frames';
import { type Role, type SessionEvents, H2Session } from '../../../../../runtime/proxy/h2/codec/session';
import type { CodecLimits } from '../../../../../runtime/proxy/h2/codec/limits';

export class FakeSocket extends EventEmitter {
  readonly written: Buffer[] = [];
  writableLength = 0;
  ended = false;
  destroyed = false;
  setNoDelay(): this {
    return this;
  }
  cork(): void {}
  uncork(): void {}
  write(b: Buffer): boolean {
    this.written.push(Buffer.from(b));
    return true;
  }
  end(): this {
    this.ended = true;
    return this;
  }
  destroySoon(): void {
    this.destroyed = true;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
  /** The bytes written so far, taken (the next call returns only newer ones). */
  take(): Buffer {
    const all = Buffer.concat(this.written);
    this.written.length = 0;
    return all;
  }
}

export interface Frame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
}

export function frame(type: number, flags: number, id: number, payload: Buffer | number[] = []): Buffer {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const b = Buffer.alloc(FRAME_HEADER_SIZE + p.length);
  writeFrameHeader(b, 0, p.length, type, flags, id);
  p.copy(b, FRAME_HEADER_SIZE);
  return b;
}

export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** A header block of literal fields without indexing, new names, no Huffman (names and values under 127 bytes). */
export function literalBlock(flat: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < flat.length; i += 2)
    parts.push(
      Buffer.from([0, flat[i].length]),
      Buffer.from(flat[i], 'latin1'),
      Buffer.from([flat[i + 1].length]),
      Buffer.from(flat[i + 1], 'latin1'),
    );
  return Buffer.concat(parts);
}

/** Splits bytes into frames (a server's output starts with frames; a client's with the preface, skipped). */
export function frames(bytes: Buffer): Frame[] {
  let at = bytes.subarray(0, CLIENT_PREFACE.length).equals(CLIENT_PREFACE) ? CLIENT_PREFACE.length : 0;
  const out: Frame[] = [];
  while (at + FRAME_HEADER_SIZE <= bytes.length) {
    const len = frameLength(bytes, at);
    out.push({ type: bytes[at + 3], flags: bytes[at + 4], id: frameStreamId(bytes, at), payload: bytes.subarray(at + 9, at + 9 + len) });
    at += FRAME_HEADER_SIZE + len;
  }
  return out;
}

export const GET = [':method', 'GET', ':scheme', 'http', ':authority', 'a.example', ':path', '/'];

/** A session on a FakeSocket, its preface and SETTINGS exchanged, what it wrote so far dropped. */
export function session(
  role: Role,
  events: SessionEvents = {},
  limits: Partial<CodecLimits> = {},
): { s: H2Session; sock: FakeSocket; feed: (...b: Buffer[]) => Frame[] } {
  const sock = new FakeSocket();
  const s = new H2Session(sock as unknown as net.Socket, role, events, limits).start();
  /** Bytes in, then whatever the session wrote in answer. */
  const feed = (...b: Buffer[]): Frame[] => {
    for (const x of b) sock.emit('data', x);
    s.writer.flush();
    return frames(sock.take());
  };
  feed(role === 'server' ? CLIENT_PREFACE : Buffer.alloc(0), frame(4, 0, 0));
  return { s, sock, feed };
}
