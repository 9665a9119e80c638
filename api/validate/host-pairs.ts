/**
 * Pair checks between resources (two VirtualServices for one host, two ServiceEntries declaring
 * one port twice) only need the pairs whose hosts can overlap: exact hosts are bucketed, so the
 * analysis of a mesh of thousands of services stays linear instead of comparing every pair.
 */

/**
 * For each item, the other items that share an exact host with it, or that have (or it has) a
 * wildcard host — a superset of the overlapping pairs; the caller still checks each pair. Order
 * is the input order, as a nested loop would visit them.
 */
export function hostNeighbours<T>(items: readonly T[], hostsOf: (item: T) => readonly string[]): (item: T) => T[] {
  const byHost = new Map<string, number[]>();
  const wild: number[] = [];
  const position = new Map<T, number>();
  const hosts = items.map((it) => hostsOf(it).map((h) => String(h).toLowerCase()));
  items.forEach((it, i) => {
    position.set(it, i);
    if (hosts[i].some((h) => h.includes('*'))) return void wild.push(i);
    for (const h of new Set(hosts[i])) byHost.set(h, [...(byHost.get(h) ?? []), i]);
  });
  return (item) => {
    const i = position.get(item);
    if (i === undefined || hosts[i].some((h) => h.includes('*'))) return items.filter((x) => x !== item);
    const found = new Set<number>(wild);
    for (const h of hosts[i]) for (const j of byHost.get(h) ?? []) found.add(j);
    found.delete(i);
    return [...found].sort((a, b) => a - b).map((j) => items[j]);
  };
}
