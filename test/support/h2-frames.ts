/**
 * A tiny HTTP/2 frame writer for attack tests: raw frames (RFC 9113 §4.1) and header blocks in
 * HPACK's simplest forms (literal fields without Huffman, indexed fields), so a test can send what
 * no well-behaved client library would.
 */
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1), `first` holding the pattern bits above the prefix. */
export function hpackInt(value: number, prefixBits: number, first = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

const str = (s: string) => Buffer.concat([hpackInt(Buffer.byteLength(s), 7), Buffer.from(s, 'latin1')]);

/** A literal field, not indexed (§6.2.2), or with incremental indexing (§6.2.1: it enters the dynamic table). */
export function literal(name: string, value: string, index = false): Buffer {
  return Buffer.concat([Buffer.from([index ? 0x40 : 0x00]), str(name), str(value)]);
}

/** An indexed field (§6.1): 62 is the newest dynamic table entry. */
export const indexed = (i: number): Buffer => hpackInt(i, 7, 0x80);

/** A request's pseudo-headers as literals. */
export function requestBlock(path = '/', authority = 'alpha.example.com', method = 'GET'): Buffer {
  return Buffer.concat([literal(':method', method), literal(':scheme', 'http'), literal(':path', path), literal(':authority', authority)]);
}

export const settings = (ack = false): Buffer => frame(FRAME.SETTINGS, ack ? FLAG.ACK : 0, 0);
export const ping = (n: number): Buffer => {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(n, 4);
  return frame(FRAME.PING, 0, 0, p);
};
export const rstStream = (stream: number, code = 8 /* CANCEL */): Buffer => {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, stream, p);
};
