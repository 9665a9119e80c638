/**
 * Istio's standard metrics per proxy, as istiod configures its stats filter: the Telemetry `metrics`
 * that apply to the workload (root namespace → its namespace → its selector's) merged per provider
 * and side as istiod's mergeMetrics — the last level naming providers sets which are in scope, an
 * entry without providers acts on the ones above it, later overrides win tag by tag, `ALL_METRICS`
 * disabled for a side drops every metric there (until a later override enables one) — for the
 * Prometheus provider in scope (mast-proxy reports to nothing else). Without any Telemetry
 * `metrics` and with Istio's default `defaultProviders.metrics` the config says nothing. Pure.
 */
import { BUILTIN_METRICS_PROVIDER, ISTIO_METRIC_NAMES, type KubeObject, prometheusProviders, type TelemetryMetrics } from '../../api';
import type { MetricOverrideConfig, MetricsConfig, SideMetricsConfig } from '../contract/proxy-config';
import type { ProxyIdentity } from '../contract/push-protocol';
import type { MeshIndex } from './mesh-index';
import { meshConfigOf } from './mesh-config';
import { applicableTelemetries } from './tracing';
import { telemetryInputs } from './telemetry-inputs';

type Mode = 'CLIENT' | 'SERVER';
type Override = TelemetryMetrics['overrides'] extends (infer O)[] | undefined ? O : never;
type Tag = { readonly name: string; readonly value?: string };

/** The standard metrics `ALL_METRICS` stands for. */
const EVERY_METRIC = ISTIO_METRIC_NAMES.filter((m) => m !== 'ALL_METRICS');

const modesOf = (mode: string | undefined): Mode[] => (mode === 'CLIENT' || mode === 'SERVER' ? [mode] : ['CLIENT', 'SERVER']);
const namesOf = (m: TelemetryMetrics) => (m.providers ?? []).map((p) => p.name).filter((n) => n);
/** A match without a metric (or `ALL_METRICS`) is every metric; a custom metric is none of the standard ones. */
const isAll = (o: Override) => !o.match?.customMetric && (!o.match?.metric || o.match.metric === 'ALL_METRICS');
const metricsOf = (o: Override): readonly string[] =>
  o.match?.customMetric ? [o.match.customMetric] : isAll(o) ? EVERY_METRIC : [o.match!.metric!];

interface Merged {
  disabled?: boolean;
  tags: Map<string, Tag>;
}

/** One provider's overrides per side after merging (provider → mode → metric). */
function mergeFor(levels: readonly TelemetryMetrics[], defaults: readonly string[], provider: string) {
  let parent: readonly string[] = defaults;
  const offAll = new Set<Mode>();
  const byMode = new Map<Mode, Map<string, Merged>>([
    ['CLIENT', new Map()],
    ['SERVER', new Map()],
  ]);
  for (const m of levels) {
    const names = namesOf(m).length ? namesOf(m) : parent;
    parent = names;
    if (!names.includes(provider)) continue;
    for (const o of m.overrides ?? []) {
      if (isAll(o) && o.disabled === true) {
        for (const mode of modesOf(o.match?.mode)) offAll.add(mode);
        continue;
      }
      for (const mode of modesOf(o.match?.mode)) {
        // A root-level "disable all" is undone by a lower level's override for that side.
        offAll.delete(mode);
        const metrics = byMode.get(mode)!;
        for (const metric of metricsOf(o)) {
          const merged = metrics.get(metric) ?? { tags: new Map<string, Tag>() };
          if (o.disabled !== undefined) merged.disabled = o.disabled;
          for (const [name, t] of Object.entries(o.tagOverrides ?? {}))
            merged.tags.set(name, t.operation === 'REMOVE' ? { name } : { name, value: t.value ?? '' });
          metrics.set(metric, merged);
        }
      }
    }
  }
  const side = (mode: Mode): SideMetricsConfig => {
    if (offAll.has(mode)) return { disabled: true };
    const overrides: MetricOverrideConfig[] = [...byMode.get(mode)!.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([metric, o]) => {
        const tags = [...o.tags.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        return { metric, ...(o.disabled ? { disabled: true } : {}), ...(tags.length ? { tags } : {}) };
      })
      .filter((o) => o.disabled || o.tags);
    return overrides.length ? { overrides } : {};
  };
  return { server: side('SERVER'), client: side('CLIENT') };
}

/** The providers in scope: the last level that names any, else the mesh config's defaults. */
function inScope(levels: readonly TelemetryMetrics[], defaults: readonly string[]): readonly string[] {
  let names = defaults;
  for (const m of levels) if (namesOf(m).length) names = namesOf(m);
  return names;
}

interface MeshMetrics {
  readonly defaults: readonly string[];
  readonly prometheus: ReadonlySet<string>;
  /** The mesh config names its own defaults (a proxy's metrics may then differ from Istio's standard ones without any Telemetry). */
  readonly said: boolean;
}

function readMeshMetrics(objects: readonly KubeObject[]): MeshMetrics {
  const mesh = meshConfigOf(objects) ?? {};
  const given = (mesh.defaultProviders as { metrics?: unknown } | undefined)?.metrics;
  const defaults = Array.isArray(given) ? given.filter((n): n is string => typeof n === 'string') : [BUILTIN_METRICS_PROVIDER];
  return { defaults, prometheus: prometheusProviders(mesh), said: Array.isArray(given) };
}

/** Per index: the mesh config's metrics parts and the Telemetries that say something about metrics. */
const inputs = telemetryInputs(readMeshMetrics, (t) => Boolean(t.spec.metrics?.length));

/** Whether a proxy's metrics may depend on its workload's labels (a Telemetry with a selector says something of them). */
export function metricsByWorkload(index: MeshIndex): boolean {
  return inputs(index).telemetries.some((t) => t.spec.selector?.matchLabels);
}

/**
 * The proxy's metrics config, or undefined when it reports Istio's standard metrics as they are.
 * A side whose providers in scope include no Prometheus one reports no Istio metric (Istio reports
 * to those providers instead); with several, the first named is applied.
 */
export function metricsFor(index: MeshIndex, proxy: ProxyIdentity): MetricsConfig | undefined {
  const { mesh, telemetries } = inputs(index);
  const applicable = applicableTelemetries(telemetries, proxy.namespace, proxy.labels);
  if (!applicable.length && !mesh.said) return undefined;
  const levels = applicable.flatMap((t) => t.spec.metrics ?? []);
  const provider = inScope(levels, mesh.defaults).find((n) => mesh.prometheus.has(n));
  const config: MetricsConfig = provider
    ? mergeFor(levels, mesh.defaults, provider)
    : { server: { disabled: true }, client: { disabled: true } };
  const plain = (s: SideMetricsConfig) => !s.disabled && !s.overrides;
  return plain(config.server) && plain(config.client) ? undefined : config;
}
