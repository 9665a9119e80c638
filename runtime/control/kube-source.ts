/**
 * Config from the Kubernetes API: one @kubernetes/client-node informer per kind (the mesh
 * CRDs, Telemetry, Services, EndpointSlices, Pods, Namespaces), and one for the mesh config (the
 * `istio` ConfigMap of mastd's own namespace, as istiod reads its own). What the library leaves to its users:
 * - an informer that hits an error stops for good: it is restarted with backoff;
 * - 410 Gone makes the informer relist (the library does it; tested);
 * - a watch whose connection died without a FIN hangs forever (the library sets no timeout):
 *   every watch asks the server to end it after `watchTimeoutSeconds`, so a healthy one
 *   reconnects regularly, and one silent for twice that is replaced by a fresh informer
 *   (a full list).
 * The first update waits until every kind has listed once, so proxies never get a config
 * compiled from half the cluster. A kind whose CRD is missing (404) counts as empty.
 */
import * as k8s from '@kubernetes/client-node';
import { KINDS, MESH_CONFIGMAP, STORAGE_VERSION, SYSTEM_NAMESPACE, TELEMETRY_GROUP, type KubeObject } from '../../api';
import type { ConfigSource, SourceUpdate } from './file-source';
import { nodeTopology } from './node-topology';

export interface KubeSourceOptions {
  /** @default 100 */
  readonly debounceMs?: number;
  /** The server ends each watch after this long; silence for twice as long means a dead watch. @default 300 */
  readonly watchTimeoutSeconds?: number;
  readonly log?: (line: string) => void;
  /** mastd's namespace: where it reads the mesh config (the `istio` ConfigMap). @default SYSTEM_NAMESPACE */
  readonly namespace?: string;
}

interface Watched {
  /** What its informer is known by (a kind may be watched in several places). */
  readonly key: string;
  readonly kind: string;
  readonly apiVersion: string;
  readonly path: string;
  /** Only the objects it selects (`metadata.name=...`), listed and watched. */
  readonly fieldSelector?: string;
  /** A custom resource: its CRD may not be installed, and then the kind is empty (not an error). */
  readonly crd: boolean;
  readonly list: () => Promise<{ items: k8s.KubernetesObject[]; metadata?: { resourceVersion?: string } }>;
  /** What of each object the snapshot keeps (default: all of it). */
  readonly keep?: (o: k8s.KubernetesObject) => k8s.KubernetesObject;
}

export function watchedKinds(kc: k8s.KubeConfig, namespace = SYSTEM_NAMESPACE): Watched[] {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const customKind = (kind: string, group: string, plural: string): Watched => ({
    key: kind,
    kind,
    apiVersion: `${group}/${STORAGE_VERSION}`,
    path: `/apis/${group}/${STORAGE_VERSION}/${plural}`,
    crd: true,
    list: () => custom.listClusterCustomObject({ group, version: STORAGE_VERSION, plural }),
  });
  const byName = `metadata.name=${MESH_CONFIGMAP}`;
  return [
    ...Object.entries(KINDS).map(([kind, k]) => customKind(kind, k.group, k.plural)),
    // Telemetry (tracing) is not one of the mesh kinds of api/resources.ts: its schema is its own (api/telemetry.ts).
    customKind('Telemetry', TELEMETRY_GROUP, 'telemetries'),
    {
      key: 'Service',
      kind: 'Service',
      apiVersion: 'v1',
      path: '/api/v1/services',
      crd: false,
      list: () => core.listServiceForAllNamespaces({}),
    },
    { key: 'Pod', kind: 'Pod', apiVersion: 'v1', path: '/api/v1/pods', crd: false, list: () => core.listPodForAllNamespaces({}) },
    { key: 'Namespace', kind: 'Namespace', apiVersion: 'v1', path: '/api/v1/namespaces', crd: false, list: () => core.listNamespace({}) },
    {
      // Istio's mesh config (tracing providers, path normalization, outbound policy, locality): mastd's namespace's `istio` ConfigMap only.
      key: 'MeshConfig',
      kind: 'ConfigMap',
      apiVersion: 'v1',
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      fieldSelector: byName,
      crd: false,
      list: () => core.listNamespacedConfigMap({ namespace, fieldSelector: byName }),
    },
    {
      key: 'Node',
      kind: 'Node',
      apiVersion: 'v1',
      path: '/api/v1/nodes',
      crd: false,
      list: () => core.listNode({}),
      keep: nodeTopology,
    },
    {
      key: 'EndpointSlice',
      kind: 'EndpointSlice',
      apiVersion: 'discovery.k8s.io/v1',
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      crd: false,
      list: () => discovery.listEndpointSliceForAllNamespaces({}),
    },
  ];
}

interface Running {
  readonly informer: k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>;
  /** Its first list succeeded. */
  synced: boolean;
  /** The last sign of life of its list or watch (performance.now(): a wall-clock step is no stall). */
  lastSeen: number;
  failures: number;
  /** Started again by a retry (its next connect is that retry's, not a watch ending cleanly). */
  retried?: boolean;
  retry?: NodeJS.Timeout;
  /** The informer this one replaced, whose objects stand in until this one has listed. */
  previous?: Running;
}

const statusOf = (err: unknown) => (err as { code?: number }).code ?? (err as { statusCode?: number }).statusCode;

export class KubeSource implements ConfigSource {
  readonly counters = { lists: 0, errors: 0, restarts: 0, stalls: 0 };
  private readonly watched: Watched[];
  private readonly running = new Map<string, Running>();
  private readonly missing = new Set<string>();
  private onUpdate?: (u: SourceUpdate) => void;
  private timer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly options: KubeSourceOptions = {},
  ) {
    this.watched = watchedKinds(kc, options.namespace);
  }

  private log(line: string): void {
    this.options.log?.(`kubernetes: ${line}`);
  }

  start(onUpdate: (update: SourceUpdate) => void): void {
    this.onUpdate = onUpdate;
    const timeout = this.options.watchTimeoutSeconds ?? 300;
    for (const w of this.watched) this.run(w, timeout);
    this.watchdog = setInterval(() => this.checkStalls(timeout), Math.max(250, (timeout * 1000) / 2));
  }

  private run(w: Watched, timeoutSeconds: number, previous?: Running): void {
    // Declared before the informer: its list function marks it synced.
    const state = { synced: false, lastSeen: performance.now(), failures: 0, previous } as Running;
    const listFn = async () => {
      this.counters.lists++;
      let list: Awaited<ReturnType<Watched['list']>>;
      try {
        list = await w.list();
        this.missing.delete(w.kind);
      } catch (err) {
        // A mesh CRD that is not installed: no objects of that kind (looked for again on the next list).
        if (statusOf(err) !== 404 || !w.crd) throw err;
        if (!this.missing.has(w.kind)) this.log(`${w.kind}: the CRD is not installed (404 on ${w.path}); treating it as empty`);
        this.missing.add(w.kind);
        list = { items: [], metadata: { resourceVersion: '' } };
      }
      // The informer stores the items right after this returns (and reports changes to known
      // ones); the debounced emit reads them later. Only the first list of a kind is news by itself.
      if (!state.synced || state.previous) this.changed();
      state.synced = true;
      state.previous = undefined;
      state.failures = 0;
      state.lastSeen = performance.now();
      return list;
    };
    // makeInformer's, with the field selector it does not pass on.
    const informer = new k8s.ListWatch(
      `${w.path}?timeoutSeconds=${timeoutSeconds}`,
      new k8s.Watch(this.kc),
      listFn,
      false,
      undefined,
      w.fieldSelector,
    );
    Object.assign(state, { informer });
    const changed = () => {
      state.lastSeen = performance.now();
      this.changed();
    };
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
    // Fired before every list and watch request: a healthy watch, ended by the server's timeout,
    // reconnects (and then the backoff starts over: the server is answering again).
    informer.on('connect', () => {
      state.lastSeen = performance.now();
      if (state.retried) state.retried = false;
      else state.failures = 0;
    });
    // Neither replaced (a stall) nor the source stopped.
    const current = () => !this.stopped && this.running.get(w.key) === state;
    // Restarted after a delay, if still current then.
    const restartIn = (delay: number, counted: boolean) => {
      state.retry = setTimeout(() => {
        state.retry = undefined;
        if (!current()) return;
        if (counted) this.counters.restarts++;
        state.retried = true;
        void informer.start();
      }, delay);
    };
    informer.on('error', (err) => {
      this.counters.errors++;
      state.failures++;
      if (!current()) return;
      // A missing CRD is looked for again at the watch timeout's pace; anything else backs off from 200 ms to 5 s.
      const delay = this.missing.has(w.kind)
        ? (this.options.watchTimeoutSeconds ?? 300) * 1000
        : Math.min(100 * 2 ** Math.min(state.failures, 6), 5000);
      if (this.missing.has(w.kind)) {
        state.lastSeen = performance.now() + delay;
        return restartIn(delay, false);
      }
      this.log(`${w.kind}: list/watch failed (${(err as Error)?.message ?? err}); restarting in ${delay} ms`);
      restartIn(delay, true);
    });
    this.running.set(w.key, state);
    void informer.start();
  }

  /** A watch silent for twice the server-side timeout is dead: replace its informer with a fresh one (a full list). */
  private checkStalls(timeoutSeconds: number): void {
    const now = performance.now();
    for (const w of this.watched) {
      const state = this.running.get(w.key);
      if (!state || state.retry || now - state.lastSeen < timeoutSeconds * 2000) continue;
      this.counters.stalls++;
      this.log(`${w.kind}: no watch activity for ${Math.round((now - state.lastSeen) / 1000)} s; replacing the informer`);
      // The new one is running before the old one stops: the old one's abort error (reported at
      // once) then finds itself replaced and is not retried.
      this.run(w, timeoutSeconds, state.synced ? state : state.previous);
      void state.informer.stop();
    }
  }

  private changed(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.emit(), this.options.debounceMs ?? 100);
  }

  /** Every kind's objects, as plain JSON with kind and apiVersion (list items carry neither); undefined until all have listed. */
  snapshotObjects(): KubeObject[] | undefined {
    const out: KubeObject[] = [];
    for (const w of this.watched) {
      const state = this.running.get(w.key);
      const source = state?.synced ? state : state?.previous;
      if (!source) return undefined;
      for (const item of source.informer.list())
        out.push({ ...(JSON.parse(JSON.stringify(w.keep ? w.keep(item) : item)) as KubeObject), kind: w.kind, apiVersion: w.apiVersion });
    }
    return out;
  }

  private lastEmitted = '';

  private emit(): void {
    const objects = this.snapshotObjects();
    if (!objects) return;
    // A relist that changed nothing is not a new snapshot.
    // An object kept whole changes with its resourceVersion; a trimmed one (a Node) with what is kept of it.
    const version = (o: KubeObject) =>
      (o.metadata as { resourceVersion?: string })?.resourceVersion ?? JSON.stringify(o.metadata?.labels ?? {});
    const fingerprint = objects.map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}@${version(o)}`).join('|');
    if (fingerprint === this.lastEmitted) return;
    this.lastEmitted = fingerprint;
    this.onUpdate?.({ objects, findings: [] });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    for (const state of this.running.values()) {
      clearTimeout(state.retry);
      void state.informer.stop();
    }
  }
}
