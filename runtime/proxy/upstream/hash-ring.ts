/**
 * Consistent hashing for DestinationRule `consistentHash` (Envoy's RING_HASH, Istio's default):
 * each endpoint owns many points on a 32-bit ring and a key goes to the first point at or after
 * its hash. When an endpoint leaves (ejected, scaled down), only the keys it held move; the
 * others keep their endpoint. Plus the cookie key extractor (query parameters: routing's queryParam).
 */

/** FNV-1a: stable across processes, so hash-based affinity survives restarts. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // FNV's low bits mix poorly for short, similar strings ("10.0.0.1:80#1", "#2"...): finish with murmur3's avalanche.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Points per endpoint (Envoy's minimum ring is 1,024 entries), fewer for large clusters. */
const POINTS = 128;
const MAX_RING = 65_536;

export class HashRing<T extends { readonly key: string }> {
  private readonly points: Uint32Array;
  private readonly owners: T[];

  constructor(readonly members: readonly T[]) {
    const per = Math.max(1, Math.min(POINTS, Math.floor(MAX_RING / Math.max(1, members.length))));
    const all: Array<[number, T]> = [];
    for (const m of members) for (let i = 0; i < per; i++) all.push([hash32(`${m.key}#${i}`), m]);
    all.sort((a, b) => a[0] - b[0]);
    this.points = Uint32Array.from(all, (p) => p[0]);
    this.owners = all.map((p) => p[1]);
  }

  /** The same members, in the same order (a cluster rebuilds its ring only when its healthy set changes). */
  sameMembers(list: readonly T[]): boolean {
    if (list.length !== this.members.length) return false;
    for (let i = 0; i < list.length; i++) if (list[i] !== this.members[i]) return false;
    return true;
  }

  pick(key: string): T | undefined {
    const n = this.points.length;
    if (n === 0) return undefined;
    const h = hash32(key);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === n ? 0 : lo];
  }
}

/** A cookie's value from a Cookie header (`a=1; b=2`), undefined when absent. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    // A quoted value means the same unquoted (as Envoy reads it, and writes the cookies it makes).
    return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  }
  return undefined;
}
