/**
 * The decoder on hostile input (seeded, bounded): random bytes and corrupted real blocks either
 * decode or fail with one of its two errors, never anything else, and a decoder that only reported
 * HeaderListTooLarge keeps decoding its peer's next blocks.
 */
import { HpackDecoder } from '../../../../../runtime/proxy/h2/codec/hpack-decoder';
import { HeaderListTooLarge, HpackError } from '../../../../../runtime/proxy/h2/codec/hpack-errors';
import { HpackEncoder } from '../../../../../runtime/proxy/h2/codec/hpack-encoder';
import { seededRandom as seeded } from '../../../../support/seeded-random';

/** Decodes and returns what happened: 'ok', or the error's class name; anything else fails the test. */
function outcome(decoder: HpackDecoder, block: Buffer): 'ok' | 'HpackError' | 'HeaderListTooLarge' {
  try {
    const list = decoder.decode(block);
    expect(list.length % 2).toBe(0);
    return 'ok';
  } catch (err) {
    if (err instanceof HpackError) return 'HpackError';
    if (err instanceof HeaderListTooLarge) return 'HeaderListTooLarge';
    throw err;
  }
}

describe('HPACK decoder on hostile input', () => {
  test('3000 blocks of random bytes: decoded or one of the two errors', () => {
    const random = seeded(9113);
    const seen = new Set<string>();
    let decoder = new HpackDecoder({ maxHeaderListSize: 4096 });
    for (let i = 0; i < 3000; i++) {
      const block = Buffer.from(Array.from({ length: Math.floor(random() * 48) }, () => Math.floor(random() * 256)));
      const result = outcome(decoder, block);
      seen.add(result);
      if (result === 'HpackError') decoder = new HpackDecoder({ maxHeaderListSize: 4096 }); // the connection would end
    }
    expect(seen).toContain('HpackError');
    expect(seen).toContain('ok');
  });

  test('3000 corrupted real blocks: decoded or one of the two errors', () => {
    const random = seeded(7540);
    const encoder = new HpackEncoder({ huffman: true });
    const headers = [':method', 'POST', ':path', '/a/b?c=d', ':authority', 'svc:8080', 'content-type', 'application/grpc'];
    headers.push('x-request-id', '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', 'te', 'trailers');
    const blocks = [encoder.encode(headers), encoder.encode(headers)];
    for (let i = 0; i < 3000; i++) {
      const decoder = new HpackDecoder();
      decoder.decode(blocks[0]);
      const block = Buffer.from(blocks[i % 2]);
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--)
        block[Math.floor(random() * block.length)] = Math.floor(random() * 256);
      outcome(decoder, block.subarray(0, block.length - Math.floor(random() * 3)));
    }
  });

  test('after HeaderListTooLarge, the same decoder decodes the next blocks of a random session', () => {
    const random = seeded(6552);
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder({ maxHeaderListSize: 300 });
    let tooLarge = 0;
    for (let block = 0; block < 500; block++) {
      const headers: string[] = [];
      for (let f = Math.floor(random() * 8); f > 0; f--)
        headers.push(`x-h${Math.floor(random() * 20)}`, 'v'.repeat(Math.floor(random() * 80)));
      const encoded = encoder.encode(headers);
      const size = headers.reduce((sum, s, i) => (i % 2 ? sum + headers[i - 1].length + s.length + 32 : sum), 0);
      if (size > 300) {
        expect(() => decoder.decode(encoded)).toThrow(HeaderListTooLarge);
        tooLarge++;
      } else expect(decoder.decode(encoded)).toEqual(headers);
    }
    expect(tooLarge).toBeGreaterThan(50);
  });

  test('a range outside the buffer is a caller error (RangeError), not a decode', () => {
    expect(() => new HpackDecoder().decode(Buffer.from([0x82]), 0, 2)).toThrow(RangeError);
  });
});
