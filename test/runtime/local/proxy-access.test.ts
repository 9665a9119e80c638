import { unreadableOnPath } from '../../../runtime/local/proxy-access';

describe("the sidecars' uid (1337) must reach the proxy it runs", () => {
  const tree =
    (modes: Record<string, number>, owner = 0) =>
    (path: string) => ({ mode: modes[path], uid: owner, gid: owner });
  const open = { '/': 0o755, '/home': 0o755, '/home/me': 0o755, '/home/me/shop': 0o755, '/home/me/shop/main.js': 0o644 };

  test('a path every folder of which lets others through, to a file others may read: fine', () => {
    expect(unreadableOnPath('/home/me/shop/main.js', 1337, 1337, tree(open))).toBeUndefined();
  });

  test('a private folder on the way (a 0700 home, a mkdtemp folder) is named', () => {
    expect(unreadableOnPath('/home/me/shop/main.js', 1337, 1337, tree({ ...open, '/home/me': 0o700 }))).toBe('/home/me');
    expect(unreadableOnPath('/home/me/shop/main.js', 1337, 1337, tree({ ...open, '/home/me/shop/main.js': 0o600 }))).toBe(
      '/home/me/shop/main.js',
    );
  });

  test('owner and group bits count for their owner and group', () => {
    const mine = { ...open, '/home/me': 0o700 };
    expect(unreadableOnPath('/home/me/shop/main.js', 1337, 1337, tree(mine, 1337))).toBeUndefined();
    const group = (path: string) => ({ mode: ({ ...open, '/home/me': 0o750 } as Record<string, number>)[path], uid: 0, gid: 1337 });
    expect(unreadableOnPath('/home/me/shop/main.js', 1337, 1337, group)).toBeUndefined();
  });
});
