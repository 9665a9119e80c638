/**
 * HPACK's Huffman code (RFC 7541 §5.2, Appendix B): encode, encoded length, and a decoder that reads
 * a byte at a time through a state table built once at load (no per-bit loop on the hot path).
 *
 * The decoding states are the 256 inner nodes of the code tree (0 = the root). A nibble table is
 * built from the tree first: for each state and 4-bit input, the state reached, the symbol emitted
 * on the way if any (at most one: the shortest code is 5 bits), whether EOS was hit (an error,
 * §5.2), and whether stopping in the reached state is legal: at a symbol boundary, or within at most
 * 7 bits of padding that are a prefix of EOS, i.e. all ones. The byte table (256 × 256 entries,
 * 256 KB) is two nibble steps combined, up to two symbols each, built from the nibble table (both
 * tables take a few milliseconds at load); it decoded in ~0.65 × the nibble table's time here.
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

// Nibble table entry: bits 0–7 next state, 8–15 symbol, then the flags.
const EMIT = 1 << 16;
const ACCEPT = 1 << 17;
const FAIL = 1 << 18;

const NIBBLES = (() => {
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

// Byte table entry: bits 0–7 next state, 8–15 first symbol, 16–23 second symbol, 24–25 how many, then the flags.
const BYTE_ACCEPT = 1 << 26;
const BYTE_FAIL = 1 << 27;

const BYTES = (() => {
  const table = new Uint32Array(256 * 256);
  for (let state = 0; state < 256; state++) {
    for (let byte = 0; byte < 256; byte++) {
      const high = NIBBLES[(state << 4) | (byte >> 4)];
      const low = NIBBLES[((high & 0xff) << 4) | (byte & 15)];
      let entry = low & 0xff;
      let count = 0;
      if (high & EMIT) entry |= (high & 0xff00) << (8 * count++);
      if (low & EMIT) entry |= (low & 0xff00) << (8 * count++);
      if ((high | low) & FAIL) entry |= BYTE_FAIL;
      if (low & ACCEPT) entry |= BYTE_ACCEPT;
      table[(state << 8) | byte] = entry | (count << 24);
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
  let entry = BYTE_ACCEPT;
  for (let i = start; i < end; i++) {
    entry = BYTES[(state << 8) | src[i]];
    if (entry & BYTE_FAIL) throw new HpackError('EOS in a Huffman-coded string');
    const count = (entry >>> 24) & 3;
    if (count !== 0) {
      out[o++] = entry >>> 8;
      if (count === 2) out[o++] = entry >>> 16;
    }
    state = entry & 0xff;
  }
  if (!(entry & BYTE_ACCEPT)) throw new HpackError('Huffman padding longer than 7 bits or not all ones');
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
