/**
 * What changed from one update of the config to the next, counted as Istio's control plane counts
 * its watch events: `pilot_k8s_cfg_events` for the mesh's own kinds (`*.istio.io`), and
 * `pilot_k8s_reg_events` for the service registry's (Services, Pods, Endpoints, ...), each by kind
 * and event (`add`, `update`, `delete`). A source hands mastd whole sets, not events: the events are
 * the difference between consecutive sets, an object told apart by its resourceVersion (else its content).
 */
import type { KubeObject } from '../../api';

const EVENTS = ['add', 'update', 'delete'] as const;
export type ConfigEvent = (typeof EVENTS)[number];

const keyOf = (o: KubeObject) => `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
const versionOf = (o: KubeObject) => {
  const v = o.metadata?.resourceVersion;
  return typeof v === 'string' ? v : JSON.stringify(o);
};
const isMeshKind = (o: { apiVersion?: string }) => /^[a-z.]*istio\.io\//.test(o.apiVersion ?? '');

export class ConfigEvents {
  private last = new Map<string, { version: string; kind: string; mesh: boolean }>();
  /** Counts by `kind event`, mesh kinds and registry kinds apart (mastd's registry reads them: pilot-metrics.ts). */
  readonly config = new Map<string, number>();
  readonly registry = new Map<string, number>();

  /** The objects of an update: each one new, changed or gone since the previous update is an event. */
  observe(objects: readonly KubeObject[]): void {
    const next = new Map<string, { version: string; kind: string; mesh: boolean }>();
    for (const o of objects) {
      const entry = { version: versionOf(o), kind: o.kind, mesh: isMeshKind(o) };
      const key = keyOf(o);
      next.set(key, entry);
      const before = this.last.get(key);
      if (!before) this.count(entry, 'add');
      else if (before.version !== entry.version) this.count(entry, 'update');
    }
    for (const [key, entry] of this.last) if (!next.has(key)) this.count(entry, 'delete');
    this.last = next;
  }

  private count(entry: { kind: string; mesh: boolean }, event: ConfigEvent): void {
    const counts = entry.mesh ? this.config : this.registry;
    // A kind's three series start at 0 together: a rate sees the first update of a kind, which it
    // would miss if that series appeared already at 1.
    if (!counts.has(`${entry.kind} add`)) for (const e of EVENTS) counts.set(`${entry.kind} ${e}`, 0);
    const key = `${entry.kind} ${event}`;
    counts.set(key, counts.get(key)! + 1);
  }
}
