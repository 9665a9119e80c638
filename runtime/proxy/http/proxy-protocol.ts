/**
 * PROXY protocol v2 (the binary header an AWS NLB sends first on each connection), so the
 * gateway sees the real client address. Only v2 is accepted; a listener that expects it
 * refuses connections without it.
 */
const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export type ProxyHeader =
  | { readonly done: false }
  | { readonly done: true; readonly length: number; readonly source?: { address: string; port: number }; readonly local: boolean };

export class ProxyProtocolError extends Error {}

/** Parses the header at the start of `buf`: `{done:false}` if more bytes are needed. */
export function parseProxyV2(buf: Buffer): ProxyHeader {
  if (buf.length < 16) {
    if (!SIGNATURE.subarray(0, Math.min(buf.length, 12)).equals(buf.subarray(0, Math.min(buf.length, 12))))
      throw new ProxyProtocolError('not a PROXY protocol v2 header');
    return { done: false };
  }
  if (!buf.subarray(0, 12).equals(SIGNATURE)) throw new ProxyProtocolError('not a PROXY protocol v2 header');
  const verCmd = buf[12];
  if (verCmd >> 4 !== 2) throw new ProxyProtocolError(`PROXY protocol version ${verCmd >> 4} is not supported`);
  const cmd = verCmd & 0x0f;
  const length = 16 + buf.readUInt16BE(14);
  if (buf.length < length) return { done: false };
  if (cmd === 0) return { done: true, length, local: true };
  if (cmd !== 1) throw new ProxyProtocolError(`unknown PROXY command ${cmd}`);
  const family = buf[13] >> 4;
  if (family === 1 && length >= 16 + 12)
    return {
      done: true,
      length,
      local: false,
      source: { address: `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}`, port: buf.readUInt16BE(24) },
    };
  if (family === 2 && length >= 16 + 36) {
    const groups = Array.from({ length: 8 }, (_, i) => buf.readUInt16BE(16 + i * 2).toString(16));
    return {
      done: true,
      length,
      local: false,
      source: { address: groups.join(':').replace(/\b(?:0:){2,}/, ':'), port: buf.readUInt16BE(48) },
    };
  }
  // UNSPEC or UNIX: keep the connection's own address.
  return { done: true, length, local: false };
}

/** A v2 header for tests and tools: PROXY TCP4 from `src` to `dst`. */
export function proxyV2Header(src: { address: string; port: number }, dst: { address: string; port: number }): Buffer {
  const b = Buffer.alloc(28);
  SIGNATURE.copy(b, 0);
  b[12] = 0x21;
  b[13] = 0x11;
  b.writeUInt16BE(12, 14);
  src.address.split('.').forEach((o, i) => (b[16 + i] = Number(o)));
  dst.address.split('.').forEach((o, i) => (b[20 + i] = Number(o)));
  b.writeUInt16BE(src.port, 24);
  b.writeUInt16BE(dst.port, 26);
  return b;
}
