/**
 * The encoder: what it indexes and what it keeps out of the table, its size updates (RFC 7541
 * §4.2), encodeInto's contract, and encoder → decoder round trips over seeded random header lists
 * and table sizes.
 */
import { HpackDecoder } from '../../../../../runtime/proxy/h2/codec/hpack-decoder';
import { HpackEncoder } from '../../../../../runtime/proxy/h2/codec/hpack-encoder';
import { seededRandom as seeded } from '../../../../support/seeded-random';

const REQUEST = [
  ...[':method', 'GET', ':scheme', 'https', ':authority', 'reviews.default.svc:9080', ':path', '/reviews/0?x=1'],
  ...['user-agent', 'h2load nghttp2/1.64.0', 'accept', '*/*', 'x-request-id', '4b0c9a3e-2f1d-4c8e-9a7b-3c2d1e0f9a8b'],
];

describe('HPACK encoder: strings', () => {
  test('plain by default; with huffman: true, Huffman-coded where shorter (RFC 7541 §5.2)', () => {
    const plain = new HpackEncoder().encode(['x-a', 'www.example.com']);
    expect(plain.includes(Buffer.from('www.example.com'))).toBe(true);
    const coded = new HpackEncoder({ huffman: true }).encode(['x-a', 'www.example.com', 'x-b', '~~~']);
    expect(coded.toString('hex')).toContain('8cf1e3c2e5f23a6ba0ab90f4ff'); // C.4.1's string
    expect(coded.includes(Buffer.from('~~~'))).toBe(true); // 13 bits a char: plain is shorter
  });
});

describe('HPACK encoder: indexing choices', () => {
  test('a repeated request costs a byte per indexed field; :path and x-request-id stay literals', () => {
    const encoder = new HpackEncoder();
    const first = encoder.encode(REQUEST);
    const second = encoder.encode(REQUEST);
    expect(new HpackDecoder().decode(first)).toEqual(REQUEST);
    // :method, :scheme, :authority, user-agent, accept → one byte each; :path and x-request-id literals (plain strings)
    const pathLiteral = 1 + 1 + '/reviews/0?x=1'.length; // its static name's index, the length, the bytes
    const idLiteral = 1 + 1 + 'x-request-id'.length + 1 + 36; // a literal name, then the value
    expect(second.length).toBe(5 + pathLiteral + idLiteral);
  });

  test('authorization, short cookies and the caller’s names are never-indexed literals (RFC 7541 §7.1.3)', () => {
    const encoder = new HpackEncoder();
    const block = encoder.encode(['authorization', 'Bearer abc', 'cookie', 'a=b', 'x-secret', 's'], new Set(['x-secret']));
    // authorization: static name 23 with a 4-bit prefix → 0x1f 0x08; cookie: 32 → 0x1f 0x11; x-secret: literal name
    expect(block[0]).toBe(0x1f);
    expect(block[1]).toBe(0x08);
    const again = encoder.encode(['authorization', 'Bearer abc', 'cookie', 'a=b', 'x-secret', 's'], new Set(['x-secret']));
    expect(again.equals(block)).toBe(true); // nothing was indexed
    const decoder = new HpackDecoder();
    decoder.decode(block);
    expect(decoder.tableSize.entries).toBe(0);
  });

  test('a proxy passes never-indexed fields on as never-indexed (RFC 7541 §7.1.3)', () => {
    const inbound = new HpackEncoder().encode(['x-token', 'abc', 'x-plain', 'def'], new Set(['x-token']));
    const decoder = new HpackDecoder();
    const fields = decoder.decode(inbound);
    expect(decoder.neverIndexed).toEqual(['x-token']);
    const outbound = new HpackEncoder().encode(fields, new Set(decoder.neverIndexed));
    const next = new HpackDecoder();
    expect(next.decode(outbound)).toEqual(fields);
    expect(next.neverIndexed).toEqual(['x-token']);
    expect(next.tableSize.entries).toBe(1); // x-plain only
    expect(decoder.decode(Buffer.from([0x82]))).toEqual([':method', 'GET']);
    expect(decoder.neverIndexed).toBeUndefined(); // per block
  });

  test('a long cookie is indexed (nghttp2 keeps only cookies under 20 bytes out of the table)', () => {
    const encoder = new HpackEncoder();
    const cookie = ['cookie', 'session=0123456789abcdef0123'];
    encoder.encode(cookie);
    expect(encoder.encode(cookie)).toEqual(Buffer.from([0xbe]));
  });

  test('an entry larger than 3/4 of the table is not indexed', () => {
    const encoder = new HpackEncoder({ maxTableSize: 256 });
    const decoder = new HpackDecoder({ maxTableSize: 256 });
    decoder.decode(encoder.encode(['x-large', 'v'.repeat(200)]));
    expect(decoder.tableSize.entries).toBe(0);
  });

  test('gRPC response head and trailers: the second response on a connection is references only', () => {
    const encoder = new HpackEncoder();
    const head = [':status', '200', 'content-type', 'application/grpc', 'grpc-accept-encoding', 'identity,deflate,gzip'];
    const trailers = ['grpc-status', '0', 'grpc-message', ''];
    encoder.encode(head);
    encoder.encode(trailers);
    expect(encoder.encode(head).length).toBe(3);
    expect(encoder.encode(trailers).length).toBe(2);
  });
});

describe('HPACK encoder: table size updates (RFC 7541 §4.2)', () => {
  test('the peer’s smaller setting: the next block starts with the update, and the table shrinks', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    decoder.decode(encoder.encode(REQUEST));
    encoder.setMaxTableSize(0);
    decoder.setMaxTableSize(0);
    const block = encoder.encode(REQUEST);
    expect(block[0]).toBe(0x20);
    expect(decoder.decode(block)).toEqual(REQUEST);
    expect(decoder.tableSize).toEqual({ size: 0, maxSize: 0, entries: 0 });
    expect(encoder.encode(REQUEST)[0]).not.toBe(0x20); // once
  });

  test('down then up between two blocks: the smallest and then the final size are signalled', () => {
    const encoder = new HpackEncoder();
    encoder.setMaxTableSize(100);
    encoder.setMaxTableSize(4096);
    const block = encoder.encode([':method', 'GET']);
    expect([...block]).toEqual([0x3f, 0x45, 0x3f, 0xe1, 0x1f, 0x82]); // 100, 4096, :method GET
  });

  test('a peer setting above our cap is capped, and an unchanged size signals nothing', () => {
    const encoder = new HpackEncoder({ maxTableSize: 4096 });
    encoder.setMaxTableSize(65536);
    expect([...encoder.encode([':method', 'GET'])]).toEqual([0x82]);
  });

  test('a cap below 4096 is signalled in the first block', () => {
    const encoder = new HpackEncoder({ maxTableSize: 1024 });
    expect([...encoder.encode([':method', 'GET'])]).toEqual([0x3f, 0xe1, 0x07, 0x82]);
  });
});

describe('HPACK encoder: the blocks encode() returns', () => {
  test('stay intact while later blocks are written, across slabs, and large ones get their own room', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder({ maxHeaderListSize: 1 << 20 });
    const kept: { block: Buffer; headers: string[] }[] = [];
    for (let i = 0; i < 2000; i++) {
      const headers = ['x-n', String(i), ':path', `/${'p'.repeat(i % 300)}`]; // ~150 KB in all: slabs roll over
      kept.push({ block: encoder.encode(headers), headers });
    }
    const large = ['x-large', 'v'.repeat(40_000)];
    kept.push({ block: encoder.encode(large), headers: large });
    for (const { block, headers } of kept) expect(decoder.decode(block)).toEqual(headers);
  });
});

describe('HPACK encoder: encodeInto', () => {
  test('writes the same bytes as encode at the offset, and returns the end', () => {
    const out = Buffer.alloc(1024, 0xee);
    const end = new HpackEncoder().encodeInto(REQUEST, out, 9);
    const block = new HpackEncoder().encode(REQUEST);
    expect(end).toBe(9 + block.length);
    expect(out.subarray(9, end).equals(block)).toBe(true);
    expect(out[8]).toBe(0xee);
  });

  test('returns -1 when the worst case does not fit, and leaves the table as it was', () => {
    const encoder = new HpackEncoder();
    expect(encoder.encodeInto(REQUEST, Buffer.alloc(20), 0)).toBe(-1);
    // the table is untouched: the next block is the same as a fresh encoder's first
    expect(encoder.encode(REQUEST).equals(new HpackEncoder().encode(REQUEST))).toBe(true);
  });
});

describe('HPACK encoder → decoder round trips (seeded random lists and table sizes)', () => {
  const NAMES = [
    ...[':method', ':path', ':authority', ':status', 'content-type', 'user-agent', 'cookie', 'authorization', 'date'],
    ...['x-request-id', 'grpc-status', 'x-custom', 'x-b3-traceid', 'content-length', 'accept-encoding', 'set-cookie'],
  ];
  function randomString(random: () => number, max: number): string {
    const length = Math.floor(random() * max);
    let s = '';
    for (let i = 0; i < length; i++) {
      // mostly printable ASCII, sometimes any latin1 byte (Huffman's long codes)
      s += String.fromCharCode(random() < 0.9 ? 0x20 + Math.floor(random() * 95) : Math.floor(random() * 256));
    }
    return s;
  }

  test('300 connections of 8 blocks each decode to exactly what was encoded, tables in step', () => {
    const random = seeded(7541);
    for (let connection = 0; connection < 300; connection++) {
      const setting = [0, 64, 256, 4096, 65536][Math.floor(random() * 5)];
      const encoder = new HpackEncoder({ maxTableSize: Math.floor(random() * 8192), huffman: random() < 0.5 });
      const decoder = new HpackDecoder({ maxTableSize: 4096, maxHeaderListSize: 1 << 20 });
      const values: string[] = Array.from({ length: 6 }, () => randomString(random, 40));
      for (let block = 0; block < 8; block++) {
        if (block === 3) {
          // the peer's SETTINGS: both sides apply it between blocks
          encoder.setMaxTableSize(Math.min(setting, 4096));
          decoder.setMaxTableSize(Math.min(setting, 4096));
        }
        const headers: string[] = [];
        const fields = Math.floor(random() * 12);
        for (let f = 0; f < fields; f++) {
          const name = random() < 0.8 ? NAMES[Math.floor(random() * NAMES.length)] : randomString(random, 12).toLowerCase() || 'x';
          const value = random() < 0.5 ? values[Math.floor(random() * values.length)] : randomString(random, random() < 0.05 ? 600 : 30);
          headers.push(name, value);
        }
        const neverIndex = random() < 0.2 ? new Set(['x-custom']) : undefined;
        const encoded = encoder.encode(headers, neverIndex);
        expect(decoder.decode(encoded)).toEqual(headers);
      }
    }
  });
});

describe('HPACK dynamic table ring', () => {
  test('a table full of the smallest entries (128 × 32 bytes in 4096) holds them all, the oldest at 189', () => {
    const raw: number[] = [];
    for (let i = 0; i < 200; i++) raw.push(0x40, 0x00, 0x01, 0x30 + (i % 10)); // literal, name '', value one digit: 33 bytes
    raw.push(0x40, 0x00, 0x00); // name '', value '': 32 bytes
    const decoder = new HpackDecoder();
    decoder.decode(Buffer.from(raw));
    expect(decoder.tableSize.entries).toBe(124); // 123 × 33 + 32 ≤ 4096
    const small: number[] = [];
    for (let i = 0; i < 200; i++) small.push(0x40, 0x00, 0x00);
    decoder.decode(Buffer.from(small));
    expect(decoder.tableSize).toEqual({ size: 4096, maxSize: 4096, entries: 128 });
    expect(decoder.decode(Buffer.from([0xff, 0x3e]))).toEqual(['', '']); // index 189: the oldest
    expect(() => decoder.decode(Buffer.from([0xff, 0x3f]))).toThrow(/past the tables/); // 190
  });

  test('encoder and decoder stay in step over many evictions of varied entries', () => {
    const encoder = new HpackEncoder({ maxTableSize: 512 });
    const decoder = new HpackDecoder({ maxTableSize: 512 });
    for (let round = 0; round < 40; round++) {
      const headers: string[] = [];
      for (let i = 0; i < 10; i++) headers.push(`x-${(round * 7 + i) % 23}`, 'v'.repeat((round + i) % 50));
      expect(decoder.decode(encoder.encode(headers))).toEqual(headers);
    }
  });
});
