/** HPACK's Huffman code (RFC 7541 Appendix B, §5.2): codes derived from the lengths, and the decoder's rejections. */
import { HpackError } from '../../../../../runtime/proxy/h2/codec/hpack-errors';
import { HUFFMAN_CODES, huffmanDecode, huffmanEncode, huffmanLength } from '../../../../../runtime/proxy/h2/codec/huffman';

const decode = (bytes: number[]) => {
  const out = Buffer.alloc(bytes.length * 2);
  return out.toString('latin1', 0, huffmanDecode(Buffer.from(bytes), 0, bytes.length, out, 0));
};
const ALL_BYTES = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));

describe('HPACK Huffman code', () => {
  test('the canonical codes derived from the lengths are Appendix B’s (samples across the lengths)', () => {
    expect(HUFFMAN_CODES['0'.charCodeAt(0)]).toBe(0x0); // 5 bits
    expect(HUFFMAN_CODES[' '.charCodeAt(0)]).toBe(0x14); // 6 bits
    expect(HUFFMAN_CODES[':'.charCodeAt(0)]).toBe(0x5c); // 7 bits
    expect(HUFFMAN_CODES['&'.charCodeAt(0)]).toBe(0xf8); // 8 bits
    expect(HUFFMAN_CODES[0]).toBe(0x1ff8); // 13 bits
    expect(HUFFMAN_CODES[128]).toBe(0xfffe6); // 20 bits
    expect(HUFFMAN_CODES[255]).toBe(0x3ffffee); // 26 bits
    expect(HUFFMAN_CODES[10]).toBe(0x3ffffffc); // 30 bits
    expect(HUFFMAN_CODES[256]).toBe(0x3fffffff); // EOS
  });

  test('encodes www.example.com as in RFC 7541 C.4.1', () => {
    const out = Buffer.alloc(16);
    const end = huffmanEncode('www.example.com', out, 0);
    expect(out.subarray(0, end).toString('hex')).toBe('f1e3c2e5f23a6ba0ab90f4ff');
    expect(huffmanLength('www.example.com')).toBe(12);
  });

  test('every byte value round-trips, and the encoded length is exact', () => {
    const text = ALL_BYTES + ALL_BYTES.split('').reverse().join('');
    const out = Buffer.alloc(huffmanLength(text));
    expect(huffmanEncode(text, out, 0)).toBe(out.length);
    expect(decode([...out])).toBe(text);
  });

  test('an empty string decodes to nothing', () => {
    expect(decode([])).toBe('');
  });

  test.each([
    ['EOS inside a string (30 ones)', [0xff, 0xff, 0xff, 0xff]],
    ['EOS after a symbol', [0x1f, 0xff, 0xff, 0xff, 0xfe]], // 'a' (00011) then 30 ones
    ['padding longer than 7 bits', [0x1f, 0xff]], // 'a' then 11 ones
    ['a whole byte of padding', [0xff]],
    ['padding that is not all ones', [0x18]], // 'a' then 000
  ])('rejects %s as COMPRESSION_ERROR', (_name, bytes) => {
    expect(() => decode(bytes)).toThrow(HpackError);
    try {
      decode(bytes);
    } catch (err) {
      expect((err as HpackError).code).toBe('COMPRESSION_ERROR');
    }
  });

  test('accepts up to 7 bits of ones as padding', () => {
    expect(decode([0x1f])).toBe('a'); // 00011 111
    expect(decode([0x00, 0x3f])).toBe('00'); // 00000 00000 111111: 6 bits of padding
  });
});
