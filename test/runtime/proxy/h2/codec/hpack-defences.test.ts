/**
 * The decoder's defences: every malformed block is a COMPRESSION_ERROR (RFC 7541 §§ 4–6), and a
 * header list past the limit is a HeaderListTooLarge that leaves the table in sync for the next block.
 */
import { FIELD_INVALID_NAME, FIELD_INVALID_VALUE, FIELD_UPPER_CASE_NAME } from '../../../../../runtime/proxy/h2/codec/field-checks';
import { HpackDecoder } from '../../../../../runtime/proxy/h2/codec/hpack-decoder';
import { HeaderListTooLarge, HpackError } from '../../../../../runtime/proxy/h2/codec/hpack-errors';
import { HpackEncoder } from '../../../../../runtime/proxy/h2/codec/hpack-encoder';

const bytes = (...b: number[]) => Buffer.from(b);
const literal = (name: string, value: string, first = 0x40) =>
  Buffer.concat([bytes(first, name.length), Buffer.from(name, 'latin1'), lengthPrefix(value.length), Buffer.from(value, 'latin1')]);
/** A plain string's length with its 7-bit prefix (RFC 7541 §5.1). */
function lengthPrefix(n: number): Buffer {
  if (n < 127) return bytes(n);
  const out = [127];
  let rest = n - 127;
  while (rest >= 128) out.push((rest & 0x7f) | 0x80), (rest >>>= 7);
  out.push(rest);
  return Buffer.from(out);
}

function compressionError(block: Buffer, decoder = new HpackDecoder()): HpackError {
  try {
    decoder.decode(block);
  } catch (err) {
    expect(err).toBeInstanceOf(HpackError);
    expect((err as HpackError).code).toBe('COMPRESSION_ERROR');
    return err as HpackError;
  }
  throw new Error('decoded without an error');
}

describe('HPACK decoder: malformed blocks are COMPRESSION_ERROR', () => {
  test.each([
    ['index 0', bytes(0x80), /index 0/],
    ['an index past the static table with an empty dynamic table', bytes(0xbe), /past the tables/],
    ['an index past both tables (1337)', bytes(0xff, 0xba, 0x09), /past the tables/],
    ['a literal name index past the tables', bytes(0x7e, 0x01, 0x61), /past the tables/],
    ['an integer past 2^31 - 1', bytes(0xff, 0x80, 0xff, 0xff, 0xff, 0x0f), /2\^31/],
    ['an integer of endless zero continuations', bytes(0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), /too long/],
    ['an integer cut short', bytes(0xff, 0x80), /cut short/],
    ['a literal with nothing after its first byte', bytes(0x40), /cut short/],
    ['a name string longer than the block', bytes(0x40, 0x05, 0x61), /longer than the block/],
    ['a value string longer than the block', bytes(0x41, 0x7f, 0x10, 0x61), /longer than the block/],
    ['a value cut before its length', bytes(0x41), /cut short/],
    ['a Huffman string containing EOS', bytes(0x41, 0x84, 0xff, 0xff, 0xff, 0xff), /EOS/],
    ['a Huffman string with 8 bits of padding', bytes(0x41, 0x82, 0x1f, 0xff), /padding/],
    ['a size update above our setting', bytes(0x3f, 0xe2, 0x1f), /above our 4096/], // 4097
    ['a size update after a field', bytes(0x82, 0x20), /after a field/],
  ])('%s', (_name, block, reason) => {
    expect(compressionError(block).reason).toMatch(reason);
  });

  test('a size update of exactly our setting, then fields, is fine', () => {
    expect(new HpackDecoder().decode(bytes(0x3f, 0xe1, 0x1f, 0x20, 0x82))).toEqual([':method', 'GET']);
  });

  test('after our setting shrank, a block must start with a size update no larger than it (RFC 7541 §4.2)', () => {
    const decoder = new HpackDecoder();
    decoder.decode(literal('x-a', 'b'));
    decoder.setMaxTableSize(0);
    expect(compressionError(bytes(0x82), decoder).reason).toMatch(/no table size update/);

    const next = new HpackDecoder();
    next.decode(literal('x-a', 'b'));
    next.setMaxTableSize(0);
    expect(compressionError(bytes(0x21, 0x82), next).reason).toMatch(/above our 0/);

    const good = new HpackDecoder();
    good.decode(literal('x-a', 'b'));
    good.setMaxTableSize(0);
    expect(good.decode(bytes(0x20, 0x82))).toEqual([':method', 'GET']);
    expect(good.tableSize).toEqual({ size: 0, maxSize: 0, entries: 0 });
  });

  test('a larger setting needs no size update, and allows one up to it', () => {
    const decoder = new HpackDecoder();
    decoder.setMaxTableSize(8192);
    expect(decoder.decode(bytes(0x82))).toEqual([':method', 'GET']);
    expect(decoder.decode(bytes(0x3f, 0xe1, 0x3f, 0x82))).toEqual([':method', 'GET']); // 8192
    expect(decoder.tableSize.maxSize).toBe(8192);
  });
});

describe('HPACK decoder: the header list limit', () => {
  const big = 'v'.repeat(4000);
  /** One 4 KB entry, then `refs` references to it (index 62): a small block, a large list. */
  const bomb = (refs: number) => Buffer.concat([literal('x-big', big), Buffer.alloc(refs, 0xbe)]);

  test('a block of repeated references to one large entry stops at maxHeaderListSize: HeaderListTooLarge', () => {
    const decoder = new HpackDecoder({ maxHeaderListSize: 65536 });
    let error: unknown;
    try {
      decoder.decode(bomb(10_000)); // 10 KB that would decode to 40 MB
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(HeaderListTooLarge);
    const tooLarge = error as HeaderListTooLarge;
    expect(tooLarge.limit).toBe(65536);
    // counted up to the field that passed the limit, not the whole list
    expect(tooLarge.size).toBeGreaterThan(65536);
    expect(tooLarge.size).toBeLessThanOrEqual(65536 + big.length + 5 + 32);
  });

  test('the table stays in sync: the block was decoded to its end, and the next block decodes', () => {
    const decoder = new HpackDecoder({ maxHeaderListSize: 1000 });
    const block = Buffer.concat([literal('x-big', big), literal('x-after', 'yes'), bytes(0xbe)]);
    expect(() => decoder.decode(block)).toThrow(HeaderListTooLarge);
    // the entry added after the limit was passed is there: index 62 is x-after, 63 x-big
    expect(decoder.decode(bytes(0xbe))).toEqual(['x-after', 'yes']);
    expect(() => decoder.decode(bytes(0xbf))).toThrow(HeaderListTooLarge);
    expect(decoder.tableSize.entries).toBe(2);
  });

  test('a list exactly at the limit is accepted (RFC 9113 §6.5.2 sizes: name + value + 32)', () => {
    const headers = [':method', 'GET', 'x-a', 'b'];
    const size = 7 + 3 + 32 + 3 + 1 + 32;
    expect(new HpackDecoder({ maxHeaderListSize: size }).decode(new HpackEncoder().encode(headers))).toEqual(headers);
    expect(() => new HpackDecoder({ maxHeaderListSize: size - 1 }).decode(new HpackEncoder().encode(headers))).toThrow(HeaderListTooLarge);
  });

  test('a malformed block past the limit is still a COMPRESSION_ERROR (the connection ends either way)', () => {
    const decoder = new HpackDecoder({ maxHeaderListSize: 100 });
    expect(compressionError(Buffer.concat([bomb(10), bytes(0x80)]), decoder).reason).toMatch(/index 0/);
  });
});

describe('HPACK decoder: upper-case literal names are flagged for the codec', () => {
  test.each([
    ['a plain literal name', literal('X-Foo', 'a'), true],
    ['a Huffman literal name', new HpackEncoder({ huffman: true }).encode(['X-Foo', 'a']), true],
    ['a lower-case literal name', literal('x-foo', 'a'), false],
    ['an upper-case value only', literal('x-foo', 'ABC'), false],
    ['static names', bytes(0x82, 0x84), false],
  ])('%s', (_name, block, flagged) => {
    const decoder = new HpackDecoder();
    decoder.decode(block);
    expect(decoder.upperCaseName).toBe(flagged);
  });

  test('a name that comes back from the dynamic table is flagged again, and the flag is per block', () => {
    const decoder = new HpackDecoder();
    decoder.decode(literal('X-Foo', 'a'));
    expect(decoder.upperCaseName).toBe(true);
    expect(decoder.decode(bytes(0xbe))).toEqual(['X-Foo', 'a']); // indexed
    expect(decoder.upperCaseName).toBe(true);
    expect(decoder.decode(bytes(0x7e, 0x01, 0x62))).toEqual(['X-Foo', 'b']); // its name indexed
    expect(decoder.upperCaseName).toBe(true);
    expect(decoder.decode(bytes(0x82))).toEqual([':method', 'GET']);
    expect(decoder.upperCaseName).toBe(false);
  });

  test('an evicted upper-case name leaves no flag behind', () => {
    const decoder = new HpackDecoder({ maxTableSize: 64 });
    decoder.decode(literal('X-Foo', 'a'));
    decoder.decode(literal('x-bar', 'b')); // evicts X-Foo (64-byte table)
    expect(decoder.decode(bytes(0xbe))).toEqual(['x-bar', 'b']);
    expect(decoder.upperCaseName).toBe(false);
  });
});

describe('HPACK decoder: malformed fields (RFC 9113 §8.2.1) are flagged, not refused', () => {
  test.each([
    ['a well-formed list', literal('x-ok', 'a b'), 0],
    ['a pseudo-header as a literal name', literal(':path', '/'), 0],
    ['a space in a name', literal('x foo', 'a'), FIELD_INVALID_NAME],
    ['a colon inside a name', literal('x:foo', 'a'), FIELD_INVALID_NAME],
    ['an empty name', literal('', 'a'), FIELD_INVALID_NAME],
    ['a non-ASCII byte in a name', literal('x-\u00e9', 'a'), FIELD_INVALID_NAME],
    ['upper case and a space in a name', literal('X foo', 'a'), FIELD_INVALID_NAME | FIELD_UPPER_CASE_NAME],
    ['CR LF in a value', literal('x-a', 'a\r\nx-b: c'), FIELD_INVALID_VALUE],
    ['NUL in a value', literal('x-a', 'a\u0000'), FIELD_INVALID_VALUE],
    ['a leading space in a value', literal('x-a', ' a'), FIELD_INVALID_VALUE],
    ['a trailing tab in a value', literal('x-a', 'a\t'), FIELD_INVALID_VALUE],
    ['a Huffman-coded value with LF', new HpackEncoder({ huffman: true }).encode(['x-a', 'abc\ndef']), FIELD_INVALID_VALUE],
  ])('%s', (_name, block, flags) => {
    const decoder = new HpackDecoder();
    decoder.decode(block);
    expect(decoder.fieldFlags).toBe(flags);
  });

  test('an entry keeps its flags: a bad value referenced from the table is flagged again', () => {
    const decoder = new HpackDecoder();
    decoder.decode(literal('x-a', 'a\r\nb'));
    expect(decoder.decode(bytes(0xbe))).toEqual(['x-a', 'a\r\nb']);
    expect(decoder.fieldFlags).toBe(FIELD_INVALID_VALUE);
    // its name alone carries no flag: a good value with that name is well-formed
    expect(decoder.decode(bytes(0x7e, 0x01, 0x62))).toEqual(['x-a', 'b']);
    expect(decoder.fieldFlags).toBe(0);
  });
});
