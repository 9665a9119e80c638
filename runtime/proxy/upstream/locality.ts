/**
 * Which endpoints a request may go to when a cluster has priorities or locality weights, as Envoy
 * chooses: a priority level by its share of the load (each level's health is 1.4 × its healthy
 * share, capped at 100 %: what a level lacks spills to the next), then, with locality weights, a
 * locality by weight × its own health; the cluster's load balancer picks among what is left. Pure
 * functions (the random source passed in), and PriorityPicker, which keeps a cluster's plan while its
 * endpoints' health stays the same.
 */

import { weightedIndex } from '../weighted';

/** Envoy's default overprovisioning factor: a level at 72 % healthy or more still takes all its load. */
export const OVERPROVISIONING_FACTOR = 1.4;

export interface LocalityGroup<T> {
  readonly locality: string;
  readonly weight: number;
  readonly hosts: readonly T[];
}

export interface PriorityLevel<T> {
  readonly hosts: readonly T[];
  /** With locality weights: the level's hosts by locality (a locality without weight is not here). */
  readonly localities?: readonly LocalityGroup<T>[];
}

/** Hosts by priority (levels 0, 1, ... with none empty: the compiler numbers them so), each by locality when weights are given. */
export function priorityLevels<T>(
  hosts: readonly T[],
  priorities: readonly number[],
  localities: readonly string[],
  weights?: Readonly<Record<string, number>>,
): PriorityLevel<T>[] {
  const byPriority = new Map<number, number[]>();
  hosts.forEach((_, i) => byPriority.set(priorities[i] ?? 0, [...(byPriority.get(priorities[i] ?? 0) ?? []), i]));
  return [...byPriority.keys()]
    .sort((a, b) => a - b)
    .map((p) => {
      const indexes = byPriority.get(p)!;
      if (!weights) return { hosts: indexes.map((i) => hosts[i]) };
      const groups = new Map<string, T[]>();
      for (const i of indexes) groups.set(localities[i] ?? '', [...(groups.get(localities[i] ?? '') ?? []), hosts[i]]);
      return {
        hosts: indexes.map((i) => hosts[i]),
        localities: [...groups].map(([locality, list]) => ({ locality, weight: weights[locality] ?? 0, hosts: list })),
      };
    });
}

/** A level's (or locality's) health in percent, as Envoy: overprovisioned, whole, at most 100. */
export function health(healthy: number, total: number): number {
  return total === 0 ? 0 : Math.min(100, Math.floor((OVERPROVISIONING_FACTOR * 100 * healthy) / total));
}

/**
 * Envoy's priority load: each level takes what its health allows of what the levels before it left;
 * when all of them together are under 100 % the shares are scaled up to fill it. All zero when
 * nothing is healthy.
 */
export function priorityLoad(healths: readonly number[]): number[] {
  const total = Math.min(
    100,
    healths.reduce((a, b) => a + b, 0),
  );
  if (total === 0) return healths.map(() => 0);
  let left = 100;
  const load = healths.map((h) => {
    const share = Math.min(left, Math.floor((h * 100) / total));
    left -= share;
    return share;
  });
  // Rounding leftovers go to the first level that has healthy hosts.
  if (left > 0) load[healths.findIndex((h) => h > 0)] += left;
  return load;
}

/** The index chosen by weight for a uniform draw in [0, 1); -1 when every weight is 0. */
export function pickWeighted(weights: readonly number[], draw: number): number {
  return weightedIndex(weights.length, (i) => weights[i], draw);
}

const ALL_HEALTHY = () => true;

/** What a pick needs while the endpoints' health stays as it is: each level's share and healthy hosts (by locality, with weights). */
export interface HealthPlan<T> {
  readonly load: readonly number[];
  readonly levels: ReadonlyArray<{
    readonly hosts: readonly T[];
    readonly localities?: { readonly weights: readonly number[]; readonly hosts: ReadonlyArray<readonly T[]> };
  }>;
}

/**
 * The plan for the endpoints' current health. `panicPercent` (outlier detection's minHealthPercent):
 * below that share of healthy hosts in the whole cluster, health is ignored, as Envoy's panic mode.
 */
export function healthPlan<T>(
  levels: readonly PriorityLevel<T>[],
  isHealthy: (host: T) => boolean = ALL_HEALTHY,
  panicPercent = 0,
): HealthPlan<T> {
  const filtered = isHealthy === ALL_HEALTHY ? levels.map((l) => l.hosts) : levels.map((l) => l.hosts.filter(isHealthy));
  const all = levels.reduce((n, l) => n + l.hosts.length, 0);
  const panic = panicPercent > 0 && filtered.reduce((n, l) => n + l.length, 0) * 100 < panicPercent * all;
  const healthy = panic ? ALL_HEALTHY : isHealthy;
  const ok = panic ? levels.map((l) => l.hosts) : filtered;
  return {
    load: priorityLoad(levels.map((l, i) => health(ok[i].length, l.hosts.length))),
    levels: levels.map((l, i) => {
      if (!l.localities) return { hosts: ok[i] };
      const hosts = l.localities.map((g) => (healthy === ALL_HEALTHY ? g.hosts : g.hosts.filter(healthy)));
      const weights = l.localities.map((g, j) => (g.weight * health(hosts[j].length, g.hosts.length)) / 100);
      return { hosts: ok[i], localities: { weights, hosts } };
    }),
  };
}

/** The hosts one request may go to under a plan: a level drawn by load, then a locality by weight × health; empty when none is healthy. */
export function choose<T>(plan: HealthPlan<T>, random: () => number = Math.random): readonly T[] {
  const level = pickWeighted(plan.load, random());
  if (level < 0) return [];
  const { hosts, localities } = plan.levels[level];
  if (!localities) return hosts;
  const chosen = pickWeighted(localities.weights, random());
  return chosen < 0 ? [] : localities.hosts[chosen];
}

/** The hosts a request may go to: the healthy ones of the level (and locality) drawn (a plan made for one pick). */
export function candidates<T>(
  levels: readonly PriorityLevel<T>[],
  isHealthy: (host: T) => boolean = ALL_HEALTHY,
  random: () => number = Math.random,
  panicPercent = 0,
): readonly T[] {
  return choose(healthPlan(levels, isHealthy, panicPercent), random);
}

/**
 * A cluster's levels with the plan for its endpoints' health now, kept until an ejection starts
 * (`ejected()`) or the first one it saw ends, so a pick costs a draw or two, not a plan.
 */
export class PriorityPicker<T extends { readonly ejectedUntil: number }> {
  private ejections = 0;
  private kept?: { readonly ejections: number; readonly until: number; readonly plan: HealthPlan<T> };

  constructor(
    private readonly levels: readonly PriorityLevel<T>[],
    /** Each level is split by locality weights. */
    private readonly weighted: boolean,
    /** Outlier detection's minHealthPercent (Envoy's panic threshold). */
    private readonly panicPercent: number,
  ) {}

  /** An endpoint was ejected: the plan is stale. */
  ejected(): void {
    this.ejections++;
  }

  /** Where a request may go: level 0 while nothing is ejected (nor weighted), else by the plan. `ejectionsEnd`: when the last ejection ends (0: none ever). */
  candidates(hosts: readonly T[], ejectionsEnd: number, random: () => number = Math.random): readonly T[] {
    const now = ejectionsEnd === 0 ? 0 : performance.now();
    if (now >= ejectionsEnd && !this.weighted) return this.levels[0].hosts;
    let k = this.kept;
    if (!k || k.ejections !== this.ejections || now >= k.until) {
      let until = Infinity;
      for (const h of hosts) if (h.ejectedUntil > now && h.ejectedUntil < until) until = h.ejectedUntil;
      const healthy = until === Infinity ? undefined : (h: T) => h.ejectedUntil <= now;
      this.kept = k = { ejections: this.ejections, until, plan: healthPlan(this.levels, healthy, this.panicPercent) };
    }
    return choose(k.plan, random);
  }
}
