/**
 * Incremental config pushes (as Envoy's delta xDS): a new ProxyConfig described relative to the
 * one a proxy already runs, naming what is unchanged and carrying only what changed. On a large
 * mesh one VirtualService edit changes one virtual host of one listener; the full config is
 * megabytes that every proxy would otherwise parse and recompile. Pure.
 */
import { byClusterName, type ClusterConfig, type ListenerConfig, type ProxyConfig, type VirtualHostConfig } from './proxy-config';

/** A listener that changed; its `virtualHosts` entries may name unchanged ones of the base listener of the same name. */
export type DeltaListener = Omit<ListenerConfig, 'virtualHosts'> & { readonly virtualHosts?: Array<string | VirtualHostConfig> };

export interface ConfigDelta {
  /** The version this delta applies to: the config the proxy runs. */
  readonly base: string;
  /** Every listener, in order: a name is the base's listener of that name, unchanged. */
  readonly listeners: Array<string | DeltaListener>;
  /** Clusters added or changed (whole), and names of those gone; the rest are the base's. */
  readonly clusters: { readonly set: ClusterConfig[]; readonly remove: string[] };
}

export class DeltaError extends Error {
  readonly code = 'MAST_PUSH_DELTA';
}

/** JSON of an object, remembered per object: configs compiled from one snapshot share their parts. */
const jsonCache = new WeakMap<object, string>();
const jsonOf = (x: object): string => {
  let s = jsonCache.get(x);
  if (s === undefined) jsonCache.set(x, (s = JSON.stringify(x)));
  return s;
};

const headerOf = (l: ListenerConfig): string => JSON.stringify({ ...l, virtualHosts: l.virtualHosts ? l.virtualHosts.length : null });

/**
 * Field by field, nested values by their remembered JSON: mastd shares route lists between the
 * namespaces' virtual hosts, so each is serialised once however many configs hold it.
 */
function sameVirtualHost(a: VirtualHostConfig, b: VirtualHostConfig): boolean {
  if (a === b) return true;
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  for (const k of keys) {
    const u = x[k];
    const v = y[k];
    if (u === v) continue;
    if (typeof u !== 'object' || typeof v !== 'object' || u === null || v === null || jsonOf(u) !== jsonOf(v)) return false;
  }
  return true;
}

function byUniqueName<T extends { name: string }>(items: readonly T[]): Map<string, T> | undefined {
  const m = new Map<string, T>();
  for (const it of items) {
    if (m.has(it.name)) return undefined;
    m.set(it.name, it);
  }
  return m;
}

/** A config's fields besides its version, listeners and clusters (e.g. pathNormalization): a delta carries none of them. */
const settingsOf = ({ version: _v, listeners: _l, clusters: _c, ...rest }: ProxyConfig): string => JSON.stringify(rest);

/**
 * `next` relative to `base`, or undefined when names do not identify parts (duplicates) or the
 * schema or another mesh-wide setting changed: then the full config is sent.
 */
export function diffConfig(base: ProxyConfig, next: ProxyConfig): ConfigDelta | undefined {
  if (base.schema !== next.schema || settingsOf(base) !== settingsOf(next)) return undefined;
  const baseListeners = byUniqueName(base.listeners);
  const baseClusters = byUniqueName(base.clusters);
  const nextClusters = byUniqueName(next.clusters);
  if (!baseListeners || !baseClusters || !nextClusters || !byUniqueName(next.listeners)) return undefined;
  const listeners: ConfigDelta['listeners'] = [];
  for (const l of next.listeners) {
    const b = baseListeners.get(l.name);
    if (!b || !l.virtualHosts || !b.virtualHosts) {
      listeners.push(b && jsonOf(b) === jsonOf(l) ? l.name : l);
      continue;
    }
    const baseHosts = byUniqueName(b.virtualHosts);
    if (!baseHosts || !byUniqueName(l.virtualHosts)) return undefined;
    let changed = headerOf(b) !== headerOf(l);
    const virtualHosts = l.virtualHosts.map((vh, i) => {
      const old = baseHosts.get(vh.name);
      if (old && sameVirtualHost(old, vh)) {
        if (b.virtualHosts![i] !== old) changed = true;
        return vh.name;
      }
      changed = true;
      return vh;
    });
    listeners.push(changed ? { ...l, virtualHosts } : l.name);
  }
  const set = next.clusters.filter((c) => {
    const old = baseClusters.get(c.name);
    return !old || (old !== c && jsonOf(old) !== jsonOf(c));
  });
  const remove = base.clusters.filter((c) => !nextClusters.has(c.name)).map((c) => c.name);
  return { base: base.version, listeners, clusters: { set, remove } };
}

/**
 * The config a delta describes, sharing the base's unchanged objects (so the proxy keeps what it
 * built from them). Throws DeltaError when the delta is not for this base.
 */
export function applyDelta(base: ProxyConfig | undefined, version: string, delta: ConfigDelta): ProxyConfig {
  if (!base || delta?.base !== base.version)
    throw new DeltaError(`delta for ${JSON.stringify(delta?.base)} but the running config is ${JSON.stringify(base?.version ?? null)}`);
  if (!Array.isArray(delta.listeners) || !Array.isArray(delta.clusters?.set) || !Array.isArray(delta.clusters?.remove))
    throw new DeltaError('delta needs listeners, clusters.set and clusters.remove arrays');
  const baseListeners = new Map(base.listeners.map((l) => [l.name, l]));
  const listeners = delta.listeners.map((entry): ListenerConfig => {
    if (typeof entry === 'string') {
      const l = baseListeners.get(entry);
      if (!l) throw new DeltaError(`delta names listener ${JSON.stringify(entry)} that ${base.version} does not have`);
      return l;
    }
    if (!entry?.virtualHosts) return entry as ListenerConfig;
    const hosts = new Map((baseListeners.get(entry.name)?.virtualHosts ?? []).map((vh) => [vh.name, vh]));
    const virtualHosts = entry.virtualHosts.map((vh) => {
      if (typeof vh !== 'string') return vh;
      const old = hosts.get(vh);
      if (!old)
        throw new DeltaError(`delta names virtual host ${JSON.stringify(vh)} that listener ${entry.name} of ${base.version} does not have`);
      return old;
    });
    return { ...entry, virtualHosts };
  });
  const clusters = new Map(base.clusters.map((c) => [c.name, c]));
  for (const name of delta.clusters.remove) clusters.delete(name);
  for (const c of delta.clusters.set) clusters.set(c?.name, c);
  // The mesh-wide settings are the base's: a delta is only sent when they did not change.
  return { ...base, version, listeners, clusters: [...clusters.values()].sort(byClusterName) };
}
