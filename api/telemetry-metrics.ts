/**
 * Telemetry `metrics`, as Istio applies it to its standard metrics: per provider (mast reports to
 * Prometheus providers), `overrides` that disable a metric (or all of them) for a side
 * (`match.mode`) and `tagOverrides` that REMOVE a label or UPSERT one whose value is a CEL
 * expression over Envoy's attributes and the peers (`upstream_peer.labels['app'].value`), and
 * `reportingInterval`. Checked here as Istio's webhook does, plus what Istio's proxy only logs: a
 * value that is not CEL.
 */
import { celProblem } from './access-log';
import { finding, type Finding } from './findings';
import type { KubeObject } from './resources';
import { arr, bool, map, obj, oneOf, req, str, type Infer } from './schema';
import { isPlainObject } from './shape';

/** Istio's standard metrics as the Telemetry API names them (`ALL_METRICS`: every one). */
export const ISTIO_METRIC_NAMES = [
  'ALL_METRICS',
  'REQUEST_COUNT',
  'REQUEST_DURATION',
  'REQUEST_SIZE',
  'RESPONSE_SIZE',
  'TCP_OPENED_CONNECTIONS',
  'TCP_CLOSED_CONNECTIONS',
  'TCP_SENT_BYTES',
  'TCP_RECEIVED_BYTES',
  'GRPC_REQUEST_MESSAGES',
  'GRPC_RESPONSE_MESSAGES',
] as const;
export type IstioMetricName = (typeof ISTIO_METRIC_NAMES)[number];

/** Istio's default metrics provider (its mesh config's `defaultProviders.metrics`), built in. */
export const BUILTIN_METRICS_PROVIDER = 'prometheus';

const tagOverride = obj({
  operation: oneOf(['UPSERT', 'REMOVE'] as const, 'UPSERT (the default) sets the label to `value`; REMOVE drops it.'),
  value: str("A CEL expression: the label value (`request.host`, `upstream_peer.labels['app'].value`)."),
});

export const metricsSpec = obj({
  providers: arr(obj({ name: req(str()) }), 'Metrics providers by name: `prometheus` (built in) or a mesh config extension provider.'),
  overrides: arr(
    obj({
      match: obj({
        metric: oneOf(ISTIO_METRIC_NAMES),
        customMetric: str('A metric defined outside the standard ones (mast defines none).'),
        mode: oneOf(['CLIENT_AND_SERVER', 'CLIENT', 'SERVER'] as const),
      }),
      disabled: bool('The metrics matched are not reported.'),
      tagOverrides: map(tagOverride, 'Labels to remove or set, by label name.'),
    }),
  ),
  reportingInterval: str('How often TCP metrics are reported (mast counts TCP bytes as they pass: every scrape is current).'),
});
export type TelemetryMetrics = Infer<typeof metricsSpec>;

/** A Telemetry's `metrics` findings beside its shape's: Istio's webhook rules for tag overrides, and values that must be CEL. */
export function checkTelemetryMetrics(t: KubeObject, metrics: unknown): Finding[] {
  const out: Finding[] = [];
  if (!Array.isArray(metrics)) return out;
  metrics.forEach((m: unknown, i) => {
    if (!isPlainObject(m) || !Array.isArray(m.overrides)) return;
    m.overrides.forEach((o: unknown, j) => {
      if (!isPlainObject(o)) return;
      const at = `spec.metrics[${i}].overrides[${j}]`;
      const match = isPlainObject(o.match) ? o.match : {};
      if (match.metric !== undefined && match.customMetric !== undefined)
        out.push(finding('MAST0185', t, `${at}.match`, 'a match names one of metric or customMetric, not both'));
      if (match.customMetric === '') out.push(finding('MAST0185', t, `${at}.match.customMetric`, 'customMetric may not be empty'));
      else if (typeof match.customMetric === 'string')
        out.push(
          finding(
            'MAST0187',
            t,
            `${at}.match.customMetric`,
            `mast-proxy reports Istio's standard metrics only: ${JSON.stringify(match.customMetric)} matches none`,
          ),
        );
      if (!isPlainObject(o.tagOverrides)) return;
      for (const [tag, v] of Object.entries(o.tagOverrides)) {
        if (!isPlainObject(v)) continue;
        const where = `${at}.tagOverrides[${JSON.stringify(tag)}]`;
        if (!tag) out.push(finding('MAST0185', t, `${at}.tagOverrides`, 'a tag override needs a label name'));
        const remove = v.operation === 'REMOVE';
        if (remove && v.value !== undefined && v.value !== '')
          out.push(finding('MAST0185', t, `${where}.value`, 'a value is set only when the operation is UPSERT (this one is REMOVE)'));
        if (!remove && (typeof v.value !== 'string' || !v.value.trim()))
          out.push(finding('MAST0185', t, `${where}.value`, 'UPSERT needs a value (a CEL expression)'));
        else if (!remove && typeof v.value === 'string') {
          const problem = celProblem(v.value);
          if (problem)
            out.push(
              finding(
                'MAST0186',
                t,
                `${where}.value`,
                `${JSON.stringify(v.value)} is not a CEL expression (${problem}): Istio's proxy skips it, and mast leaves the label out`,
              ),
            );
        }
      }
    });
  });
  return out;
}

/**
 * The mesh config's metrics parts: `defaultProviders.metrics` names providers that report metrics;
 * only Prometheus providers (the built-in `prometheus`, or `prometheus: {}` extension providers)
 * are what mast-proxy reports to.
 */
export function checkMeshMetrics(configMap: KubeObject, mesh: Record<string, unknown>): Finding[] {
  const defaults = (mesh.defaultProviders as { metrics?: unknown } | undefined)?.metrics;
  if (!Array.isArray(defaults)) return [];
  const prometheus = prometheusProviders(mesh);
  const out: Finding[] = [];
  defaults.forEach((n: unknown, i) => {
    if (typeof n === 'string' && !prometheus.has(n))
      out.push(
        finding(
          'MAST0187',
          configMap,
          `data.mesh.defaultProviders.metrics[${i}]`,
          `${JSON.stringify(n)} is not a Prometheus provider: mast-proxy reports metrics to Prometheus only, nothing to it`,
        ),
      );
  });
  return out;
}

/** The names of the mesh config's Prometheus metrics providers: `prometheus` (built in, unless a provider of another kind takes its name) and every `prometheus: {}` one. */
export function prometheusProviders(mesh: Record<string, unknown>): Set<string> {
  const names = new Set([BUILTIN_METRICS_PROVIDER]);
  for (const p of Array.isArray(mesh.extensionProviders) ? mesh.extensionProviders : []) {
    if (!isPlainObject(p) || typeof p.name !== 'string') continue;
    if (p.prometheus !== undefined) names.add(p.name);
    else names.delete(p.name);
  }
  return names;
}
