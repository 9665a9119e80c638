/**
 * RFC 7541 Appendix C's examples: the decoder reproduces each block's header list and dynamic table
 * size; the encoder reproduces the Huffman-coded requests (C.4) byte for byte, where its choices
 * are the RFC's, and round-trips the others.
 */
import { HpackDecoder } from '../../../../../runtime/proxy/h2/codec/hpack-decoder';
import { HpackEncoder } from '../../../../../runtime/proxy/h2/codec/hpack-encoder';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

interface Step {
  block: string;
  headers: string[];
  /** The dynamic table's size after the block (RFC: "Table size"). */
  tableSize: number;
  entries: number;
}

const REQUESTS = [
  [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com'],
  [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com', 'cache-control', 'no-cache'],
  [':method', 'GET', ':scheme', 'https', ':path', '/index.html', ':authority', 'www.example.com', 'custom-key', 'custom-value'],
];
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RESPONSES = [
  [':status', '302', 'cache-control', 'private', 'date', 'Mon, 21 Oct 2013 20:13:21 GMT', 'location', 'https://www.example.com'],
  [':status', '307', 'cache-control', 'private', 'date', 'Mon, 21 Oct 2013 20:13:21 GMT', 'location', 'https://www.example.com'],
  [
    ...[':status', '200', 'cache-control', 'private', 'date', 'Mon, 21 Oct 2013 20:13:22 GMT', 'location', 'https://www.example.com'],
    ...['content-encoding', 'gzip', 'set-cookie', COOKIE],
  ],
];

const C3: Step[] = [
  { block: '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', headers: REQUESTS[0], tableSize: 57, entries: 1 },
  { block: '8286 84be 5808 6e6f 2d63 6163 6865', headers: REQUESTS[1], tableSize: 110, entries: 2 },
  {
    block: '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    headers: REQUESTS[2],
    tableSize: 164,
    entries: 3,
  },
];
const C4: Step[] = [
  { block: '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', headers: REQUESTS[0], tableSize: 57, entries: 1 },
  { block: '8286 84be 5886 a8eb 1064 9cbf', headers: REQUESTS[1], tableSize: 110, entries: 2 },
  { block: '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf', headers: REQUESTS[2], tableSize: 164, entries: 3 },
];
const C5: Step[] = [
  {
    block: `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d
            546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
    headers: RESPONSES[0],
    tableSize: 222,
    entries: 4,
  },
  { block: '4803 3330 37c1 c0bf', headers: RESPONSES[1], tableSize: 222, entries: 4 },
  {
    block: `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f
            6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b
            2076 6572 7369 6f6e 3d31`,
    headers: RESPONSES[2],
    tableSize: 215,
    entries: 3,
  },
];
const C6: Step[] = [
  {
    block: `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7
            8f0b 97c8 e9ae 82ae 43d3`,
    headers: RESPONSES[0],
    tableSize: 222,
    entries: 4,
  },
  { block: '4883 640e ffc1 c0bf', headers: RESPONSES[1], tableSize: 222, entries: 4 },
  {
    block: `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335
            dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
    headers: RESPONSES[2],
    tableSize: 215,
    entries: 3,
  },
];

describe('HPACK decoder: RFC 7541 Appendix C', () => {
  test.each([
    [
      'C.2.1 literal with indexing',
      '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572',
      ['custom-key', 'custom-header'],
      55,
    ],
    ['C.2.2 literal without indexing', '040c 2f73 616d 706c 652f 7061 7468', [':path', '/sample/path'], 0],
    ['C.2.3 literal never indexed', '1008 7061 7373 776f 7264 0673 6563 7265 74', ['password', 'secret'], 0],
    ['C.2.4 indexed', '82', [':method', 'GET'], 0],
  ])('%s', (_name, block, headers, tableSize) => {
    const decoder = new HpackDecoder();
    expect(decoder.decode(hex(block))).toEqual(headers);
    expect(decoder.tableSize.size).toBe(tableSize);
  });

  test.each([
    ['C.3 requests without Huffman', C3, 4096],
    ['C.4 requests with Huffman', C4, 4096],
    ['C.5 responses without Huffman, with eviction', C5, 256],
    ['C.6 responses with Huffman, with eviction', C6, 256],
  ])('%s', (_name, steps, maxTableSize) => {
    const decoder = new HpackDecoder({ maxTableSize });
    for (const step of steps) {
      expect(decoder.decode(hex(step.block))).toEqual(step.headers);
      expect(decoder.tableSize).toEqual({ size: step.tableSize, maxSize: maxTableSize, entries: step.entries });
    }
  });

  test('decodes a block inside a larger buffer (start, end)', () => {
    const block = hex(C4[0].block);
    const framed = Buffer.concat([Buffer.from([1, 2, 3]), block, Buffer.from([0xff])]);
    expect(new HpackDecoder().decode(framed, 3, 3 + block.length)).toEqual(REQUESTS[0]);
  });

  test('decodes a plain Uint8Array', () => {
    expect(new HpackDecoder().decode(new Uint8Array(hex(C3[0].block)))).toEqual(REQUESTS[0]);
  });
});

describe('HPACK encoder: RFC 7541 Appendix C', () => {
  test('C.4: the three requests, byte for byte (Huffman where shorter, :authority and custom fields indexed)', () => {
    const encoder = new HpackEncoder({ huffman: true });
    for (const step of C4) expect(encoder.encode(step.headers).toString('hex')).toBe(hex(step.block).toString('hex'));
  });

  test('C.5/C.6 responses round-trip through a 256-byte table, and later blocks shrink to table references', () => {
    const encoder = new HpackEncoder({ maxTableSize: 256, huffman: true });
    const decoder = new HpackDecoder({ maxTableSize: 256 });
    const sizes = RESPONSES.map((headers) => {
      const block = encoder.encode(headers);
      expect(decoder.decode(block)).toEqual(headers);
      return block.length;
    });
    // the second response differs from the first only in :status: cache-control and date are
    // references now (location stays a literal: it is not indexed, see hpack-encoder.ts)
    expect(sizes[0] - sizes[1]).toBeGreaterThanOrEqual(28);
    expect(decoder.tableSize.size).toBeLessThanOrEqual(256);
  });
});
