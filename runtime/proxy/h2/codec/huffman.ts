/**
 * HPACK's Huffman code (RFC 7541 §5.2, Appendix B): encode, encoded length, and a decoder that reads
 * a nibble at a time through a state table built once at load (no per-bit loop on the hot path).
 *
 * The decoding states are the 256 inner nodes of the code tree (0 = the root). For each state and
 * each 4-bit input the table holds the state reached, the symbol emitted on the way if any (at most
 * one: the shortest code is 5 bits), whether EOS was hit (an error, §5.2), and whether stopping in
 * the reached state is legal: at a symbol boundary, or within at most 7 bits of padding that are a
 * prefix of EOS, i.e. all ones.
 */
import { HpackError } from './hpack-errors';
import { HUFFMAN_LENGTHS } from './huffman-lengths';

const EOS = 256;

/** Code and length by symbol (0–256), derived from the canonical lengths. */
export const HUFFMAN_CODES = new Uint32Array(257);
const LENGTHS = Uint8Array.from(HUFFMAN_LENGTHS);
{
  const order = [...LENGTHS.keys()].sort((a, b) => LENGTHS[a] - LENGTHS[b] || a - b);
  let code = 0;
  let length = LENGTHS[order[0]];
  for (const sym of order) {
    code *= 2 ** (LENGTHS[sym] - length);
    length = LENGTHS[sym];
    HUFFMAN_CODES[sym] = code++;
  }
}

// Table entry layout: bits 0–7 next state, 8–15 symbol, then the flags.
const EMIT = 1 << 16;
const ACCEPT = 1 << 17;
const FAIL = 1 << 18;

const DECODE = (() => {
  // The code tree: a child is an inner node (≥ 0) or a leaf (-1 - symbol).
  const children: number[][] = [[0, 0]];
  const depth = [0];
  const allOnes = [true];
  const UNSET = 0; // a root child is never the root itself, so 0 can mark "not built yet"
  for (let sym = 0; sym <= EOS; sym++) {
    let node = 0;
    for (let i = LENGTHS[sym] - 1; i >= 0; i--) {
      const bit = Math.floor(HUFFMAN_CODES[sym] / 2 ** i) & 1;
      if (i === 0) {
        children[node][bit] = -1 - sym;
        break;
      }
      if (children[node][bit] === UNSET) {
        children[node][bit] = children.length;
        children.push([0, 0]);
        depth.push(depth[node] + 1);
        allOnes.push(allOnes[node] && bit === 1);
      }
      node = children[node][bit];
    }
  }
  if (children.length !== 256) throw new Error('HPACK Huffman table: expected 256 inner nodes'); // the code is complete
  const table = new Uint32Array(children.length * 16);
  for (let state = 0; state < children.length; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const child = children[node][(nibble >> i) & 1];
        if (child >= 0) node = child;
        else if (-1 - child === EOS) entry |= FAIL;
        else (entry |= EMIT | ((-1 - child) << 8)), (node = 0);
      }
      if (node === 0 || (allOnes[node] && depth[node] <= 7)) entry |= ACCEPT;
      table[state * 16 + nibble] = entry | node;
    }
  }
  return table;
})();

/**
 * Decodes src[start, end) into out from outStart; returns the end of the output. `out` must hold
 * at least (end - start) * 8 / 5 bytes (the shortest code is 5 bits). Throws HpackError on EOS,
 * on padding longer than 7 bits or not all ones (RFC 7541 §5.2).
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, out: Uint8Array, outStart: number): number {
  let o = outStart;
  let state = 0;
  let entry = ACCEPT;
  for (let i = start; i < end; i++) {
    const byte = src[i];
    const high = DECODE[(state << 4) | (byte >> 4)];
    if (high & EMIT) out[o++] = high >> 8;
    entry = DECODE[((high & 0xff) << 4) | (byte & 15)];
    if ((high | entry) & FAIL) throw new HpackError('EOS in a Huffman-coded string');
    if (entry & EMIT) out[o++] = entry >> 8;
    state = entry & 0xff;
  }
  if (!(entry & ACCEPT)) throw new HpackError('Huffman padding longer than 7 bits or not all ones');
  return o;
}

/** The length in bytes of `s` (latin1) Huffman-coded. */
export function huffmanLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += LENGTHS[s.charCodeAt(i) & 0xff];
  return (bits + 7) >>> 3;
}

/** Writes `s` (latin1) Huffman-coded into out at pos, padded with ones; returns the end. */
export function huffmanEncode(s: string, out: Uint8Array, pos: number): number {
  let acc = 0; // pending bits, at most 7 between symbols
  let n = 0;
  let p = pos;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    let code = HUFFMAN_CODES[sym];
    let len = LENGTHS[sym];
    if (len > 24) {
      // keep acc within 31 bits: the high part first
      acc = (acc << (len - 16)) | (code >>> 16);
      n += len - 16;
      while (n >= 8) out[p++] = acc >>> (n -= 8);
      code &= 0xffff;
      len = 16;
    }
    acc = (acc << len) | code;
    n += len;
    while (n >= 8) out[p++] = acc >>> (n -= 8);
    acc &= (1 << n) - 1;
  }
  if (n > 0) out[p++] = (acc << (8 - n)) | (0xff >>> n);
  return p;
}
