import { kernelRandom, RequestIds } from '../../../runtime/proxy/request-id';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids', () => {
  test('are UUID version 4 strings, all different within a process', () => {
    const ids = new RequestIds();
    const seen = new Set(Array.from({ length: 10_000 }, () => ids.next()));
    expect(seen.size).toBe(10_000);
    for (const id of seen) expect(id).toMatch(UUID_V4);
  });

  test('differ between processes (each draws its own random part)', () => {
    const a = new RequestIds().next();
    const b = new RequestIds().next();
    expect(a.slice(0, 23)).not.toBe(b.slice(0, 23));
  });

  test('the counter wraps around within its 48 bits and keeps the form', () => {
    const random = Buffer.alloc(16, 0xff);
    const ids = new RequestIds(random);
    expect(ids.next()).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
    expect(ids.next()).toBe('ffffffff-ffff-4fff-bfff-000000000000');
    expect(new RequestIds(Buffer.alloc(16, 0)).next()).toBe('00000000-0000-4000-8000-000000000000');
  });

  test('count on past their last three digits', () => {
    const random = Buffer.alloc(16, 0);
    random.writeUIntBE(0x000ffe, 13, 3);
    const ids = new RequestIds(random);
    expect([ids.next(), ids.next(), ids.next()].map((id) => id.slice(24))).toEqual(['000000000ffe', '000000000fff', '000000001000']);
  });

  test('their random part comes from the kernel, 16 bytes a draw', () => {
    const [a, b] = [kernelRandom(), kernelRandom()];
    expect([a.length, b.length]).toEqual([16, 16]);
    expect(a.equals(b)).toBe(false);
  });
});
