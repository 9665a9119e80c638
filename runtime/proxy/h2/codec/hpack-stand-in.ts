// TEMPORARY (deleted when the hpack branch is merged): literal-only HPACK, no Huffman, no tables.
export class HeaderListTooLarge extends Error {}
export class HpackError extends Error {
  code = 'COMPRESSION_ERROR';
}
export class HpackDecoder {
  constructor(private readonly o: { maxTableSize: number; maxHeaderListSize: number }) {}
  setMaxTableSize(_n: number): void {}
  decode(block: Buffer, start = 0, end = block.length): string[] {
    const out: string[] = [];
    let at = start;
    let size = 0;
    const str = (): string => {
      if (at >= end || block[at] & 0x80) throw new HpackError('huffman or truncated');
      const len = block[at++];
      if (len >= 127 || at + len > end) throw new HpackError('long or truncated string');
      const s = block.toString('latin1', at, at + len);
      at += len;
      return s;
    };
    while (at < end) {
      if (block[at++] !== 0) throw new HpackError('only literal without indexing, new name');
      const n = str();
      const v = str();
      size += n.length + v.length + 32;
      if (size > this.o.maxHeaderListSize) throw new HeaderListTooLarge('too large');
      out.push(n, v);
    }
    return out;
  }
}
export class HpackEncoder {
  constructor(_o: { maxTableSize: number }) {}
  setMaxTableSize(_n: number): void {}
  encode(flat: readonly string[]): Buffer {
    const parts: Buffer[] = [];
    for (const s of flat) if (s.length > 126) throw new Error('stand-in: long string');
    for (let i = 0; i < flat.length; i += 2)
      parts.push(
        Buffer.from([0, flat[i].length]),
        Buffer.from(flat[i], 'latin1'),
        Buffer.from([flat[i + 1].length]),
        Buffer.from(flat[i + 1], 'latin1'),
      );
    return Buffer.concat(parts);
  }
}
