import { LineReader, ProtocolError } from '../../../runtime/contract/push-protocol';

describe('push stream line reader', () => {
  test('a message split anywhere, even inside a UTF-8 character, arrives whole', () => {
    const bytes = Buffer.from('{"name":"café ☕"}\n{"n":2}\n');
    const got: unknown[] = [];
    const reader = new LineReader();
    for (let i = 0; i < bytes.length; i += 3) reader.push(bytes.subarray(i, i + 3), (m) => got.push(m));
    expect(got).toEqual([{ name: 'café ☕' }, { n: 2 }]);
  });

  test('a megabyte line in 16 KB chunks arrives whole; a line over the limit is a protocol error', () => {
    const line = Buffer.from(`${JSON.stringify({ pad: 'x'.repeat(4_000_000) })}\n`);
    const reader = new LineReader();
    let got = 0;
    for (let i = 0; i < line.length; i += 16384) reader.push(line.subarray(i, i + 16384), () => got++);
    expect(got).toBe(1);
    const small = new LineReader(1000);
    expect(() => small.push(Buffer.alloc(2000, 'a'), () => undefined)).toThrow(ProtocolError);
  });
});
