import { cookieValue, HashRing } from '../../../../runtime/proxy/upstream/hash-ring';
import { queryParam } from '../../../../runtime/proxy/routing';

const members = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `10.0.0.${i + 1}:8080` }));
const keys = Array.from({ length: 2000 }, (_, i) => `user-${i}`);

describe('consistent hash ring', () => {
  test('keys spread over the endpoints', () => {
    const eps = members(10);
    const ring = new HashRing(eps);
    const counts = new Map<unknown, number>();
    for (const k of keys) counts.set(ring.pick(k), (counts.get(ring.pick(k)) ?? 0) + 1);
    expect(counts.size).toBe(10);
    for (const c of counts.values()) {
      expect(c / keys.length).toBeGreaterThan(0.05);
      expect(c / keys.length).toBeLessThan(0.16);
    }
  });

  test('an endpoint leaving moves only the keys it held; one joining takes about its share', () => {
    const eps = members(10);
    const before = new HashRing(eps);
    const gone = eps[3];
    const after = new HashRing(eps.filter((e) => e !== gone));
    let moved = 0;
    for (const k of keys) {
      const was = before.pick(k);
      if (was === gone) expect(after.pick(k)).not.toBe(gone);
      else if (after.pick(k) !== was) moved++;
    }
    expect(moved).toBe(0);
    const grown = new HashRing([...eps, { key: '10.0.0.99:8080' }]);
    const changed = keys.filter((k) => grown.pick(k) !== before.pick(k)).length;
    expect(changed / keys.length).toBeLessThan(0.2);
    expect(changed).toBeGreaterThan(0);
  });

  test('the same key goes to the same endpoint in every process (the hash is stable)', () => {
    const a = new HashRing(members(5));
    const b = new HashRing(members(5).reverse());
    for (const k of keys.slice(0, 100)) expect(a.pick(k)!.key).toBe(b.pick(k)!.key);
    expect(new HashRing([]).pick('x')).toBeUndefined();
  });

  test('sameMembers: rebuilt only when the healthy set changes', () => {
    const eps = members(3);
    const ring = new HashRing(eps);
    expect(ring.sameMembers([...eps])).toBe(true);
    expect(ring.sameMembers(eps.slice(1))).toBe(false);
  });
});

describe('hash keys', () => {
  test.each([
    ['session=abc; theme=dark', 'session', 'abc'],
    ['theme=dark;session=abc', 'session', 'abc'],
    ['xsession=abc', 'session', undefined],
    ['session=', 'session', ''],
    ['route="5f3e9a01"; theme=dark', 'route', '5f3e9a01'],
    ['route="', 'route', '"'],
    [undefined, 'session', undefined],
  ])('cookie %p, %p → %p', (header, name, value) => expect(cookieValue(header, name)).toBe(value));

  test.each([
    ['/p?user=7&x=1', 'user', '7'],
    ['/p?x=1&user=7', 'user', '7'],
    ['/p?user=7&user=8', 'user', '7'],
    ['/p?username=7', 'user', undefined],
    ['/p?user', 'user', ''],
    ['/p?user=a%20b&x', 'user', 'a b'],
    ['/p', 'user', undefined],
  ])('query %p, %p → %p', (target, name, value) => expect(queryParam(target, name)).toBe(value));
});
