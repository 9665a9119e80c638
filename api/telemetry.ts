/**
 * telemetry.istio.io Telemetry (v1, v1alpha1 served alike): its schema and types, and its checks.
 * mast applies `tracing` (sampling, custom tags, the provider, span reporting), `accessLogging`
 * (providers, disabled, match.mode, filter: access-log.ts) and `metrics` (overrides, tag overrides:
 * telemetry-metrics.ts) to the workloads it selects. The mesh config's tracing parts (the `istio` ConfigMap's extensionProviders,
 * defaultProviders, defaultConfig.tracing) are checked here too: they are what a Telemetry names.
 */
import { crdManifest } from './crd';
import { finding, type Finding } from './findings';
import type { KubeObject } from './resources';
import { arr, bool, int, map, num, obj, oneOf, req, str, type Infer } from './schema';
import { checkShape, isPlainObject } from './shape';
import { workloadSelector } from './common';
import { accessLoggingSpec, checkTelemetryAccessLogging } from './access-log';
import { checkTelemetryMetrics, metricsSpec } from './telemetry-metrics';

export const TELEMETRY_GROUP = 'telemetry.istio.io';
export const TELEMETRY_VERSIONS = ['v1', 'v1alpha1'] as const;

const defaulted = obj({ name: req(str()), defaultValue: str() });
export const customTag = obj(
  { literal: obj({ value: req(str()) }), environment: defaulted, header: defaulted },
  'Exactly one of literal, environment (the proxy environment variable) or header (of the request).',
);

export const tracingSpec = obj({
  match: obj({ mode: oneOf(['CLIENT_AND_SERVER', 'CLIENT', 'SERVER'] as const) }),
  providers: arr(obj({ name: req(str()) }), 'The tracing provider, by its MeshConfig extensionProviders name (one).'),
  randomSamplingPercentage: num(0, 100, 'Requests without a sampling decision sampled at this percentage.'),
  disableSpanReporting: bool('No span on the sides it applies to; trace headers pass on untouched (istiod turns their tracing off).'),
  customTags: map(customTag, 'Tags added to every span, by tag name.'),
  useRequestIdForTraceSampling: bool(),
  enableIstioTags: bool(),
});

const targetRef = obj({ group: str(), kind: req(str()), name: req(str()), namespace: str() });

/** The fields of a Telemetry mast reads (shape-checked). */
export const telemetrySpec = obj({
  selector: workloadSelector,
  targetRef,
  targetRefs: arr(targetRef),
  tracing: arr(tracingSpec),
  accessLogging: arr(accessLoggingSpec),
  metrics: arr(metricsSpec),
});

/** The CRD's schema: every Telemetry field kept (the CRD preserves unknown fields below these). */
export const telemetryCrdSpec = telemetrySpec;

export type TelemetrySpec = Infer<typeof telemetrySpec>;
export type TelemetryTracing = Infer<typeof tracingSpec>;
export type CustomTag = Infer<typeof customTag>;
export interface Telemetry extends KubeObject {
  kind: 'Telemetry';
  spec: TelemetrySpec;
}

export const isTelemetry = (o: KubeObject): o is Telemetry =>
  o.kind === 'Telemetry' &&
  (TELEMETRY_VERSIONS as readonly string[]).includes(String(o.apiVersion).split('/')[1]) &&
  String(o.apiVersion).startsWith(`${TELEMETRY_GROUP}/`);

/** A Telemetry's findings: its shape, its tags, and the fields mast does not apply. */
export function checkTelemetry(t: KubeObject): Finding[] {
  const version = String(t.apiVersion).split('/')[1];
  if (!(TELEMETRY_VERSIONS as readonly string[]).includes(version))
    return [finding('MAST0006', t, 'apiVersion', `"${t.apiVersion}" is not served; use ${TELEMETRY_GROUP}/v1`)];
  const spec = isPlainObject(t.spec) ? t.spec : {};
  const out = checkShape(telemetrySpec, spec, 'spec').map((s) => finding(s.code, t, s.path, s.message));
  out.push(...checkTelemetryAccessLogging(t, spec.accessLogging), ...checkTelemetryMetrics(t, spec.metrics));
  const notApplied = (path: string, what: string) => out.push(finding('MAST0301', t, path, `${what} is not applied by mast-proxy yet`));
  if (spec.targetRef !== undefined || spec.targetRefs !== undefined)
    notApplied('spec.targetRefs', 'targetRefs (waypoints, gateways by Gateway API name): the Telemetry applies to its namespace;');
  const tracing = Array.isArray(spec.tracing) ? (spec.tracing as TelemetryTracing[]) : [];
  tracing.forEach((tr, i) => {
    if (!isPlainObject(tr)) return;
    const at = `spec.tracing[${i}]`;
    if ((tr.providers?.length ?? 0) > 1)
      out.push(finding('MAST0131', t, `${at}.providers`, 'one tracing provider at a time (as Istio): the first is used'));
    for (const [name, tag] of Object.entries(isPlainObject(tr.customTags) ? tr.customTags : {})) {
      const kinds = isPlainObject(tag) ? (['literal', 'environment', 'header'] as const).filter((k) => tag[k] !== undefined) : [];
      if (kinds.length !== 1)
        out.push(
          finding(
            'MAST0130',
            t,
            `${at}.customTags[${JSON.stringify(name)}]`,
            `a custom tag is exactly one of literal, environment or header (${kinds.length ? kinds.join(' and ') : 'none'} given)`,
          ),
        );
      if (!name) out.push(finding('MAST0130', t, `${at}.customTags`, 'a custom tag needs a name'));
    }
  });
  return out;
}

/** An `opentelemetry` extension provider (the fields mast reads). */
export const openTelemetryProvider = obj({
  service: req(str('The collector: a host, or `<namespace>/<host>`.')),
  port: req(int(1, 65535)),
  http: obj({ path: str('OTLP/HTTP path, e.g. /v1/traces.'), timeout: str(), headers: arr(obj({})) }),
  maxTagLength: int(0),
  resourceDetectors: obj({}),
  dynatraceSampler: obj({}),
});

export type OpenTelemetryProvider = Infer<typeof openTelemetryProvider>;

/** A `zipkin` extension provider (Istio's MeshConfig ExtensionProvider.ZipkinTracingProvider). */
export const zipkinProvider = obj({
  service: req(str('The Zipkin collector: a host, or `<namespace>/<host>`.')),
  port: req(int(1, 65535)),
  maxTagLength: int(0),
  enable64bitTraceId: bool(),
  path: str('Where spans are posted. @default /api/v2/spans'),
  traceContextOption: oneOf(['USE_B3', 'USE_B3_WITH_W3C_PROPAGATION'] as const),
  timeout: str(),
  headers: arr(obj({})),
});

export type ZipkinProvider = Infer<typeof zipkinProvider>;

/**
 * Tracing-only provider kinds Istio has and mast-proxy does not speak: a proxy whose provider is one
 * of them does not trace (stackdriver, also a metrics provider, is MAST0187's where it is named).
 */
const UNSPOKEN_TRACERS = ['datadog', 'lightstep', 'skywalking', 'opencensus'] as const;

/**
 * The mesh config's tracing parts as Istio reads them (`mesh` of the root namespace's `istio`
 * ConfigMap, already parsed): each `opentelemetry` provider's service and port (without `http`
 * it is OTLP/gRPC, as Istio's; with it OTLP/HTTP).
 */
export function checkMeshTracing(configMap: KubeObject, mesh: Record<string, unknown>): Finding[] {
  const out: Finding[] = [];
  const providers = Array.isArray(mesh.extensionProviders) ? mesh.extensionProviders : [];
  providers.forEach((p: unknown, i: number) => {
    if (!isPlainObject(p)) return;
    const where = `data.mesh.extensionProviders[${i}]`;
    for (const kind of UNSPOKEN_TRACERS)
      if (p[kind] !== undefined)
        out.push(
          finding(
            'MAST0184',
            configMap,
            `${where}.${kind}`,
            `provider ${JSON.stringify(p.name)}: ${kind} tracing is not spoken by mast-proxy; a proxy whose tracing names it makes no span (opentelemetry and zipkin are)`,
          ),
        );
    if (isPlainObject(p.zipkin)) {
      const at = `${where}.zipkin`;
      for (const s of checkShape(zipkinProvider, p.zipkin, at))
        out.push(
          finding(s.code === 'MAST0001' ? 'MAST0301' : 'MAST0183', configMap, s.path, `provider ${JSON.stringify(p.name)}: ${s.message}`),
        );
      for (const f of ['timeout', 'headers'] as const)
        if (p.zipkin[f] !== undefined)
          out.push(finding('MAST0301', configMap, `${at}.${f}`, `zipkin ${f} is not applied by mast-proxy yet (5 s, no extra headers)`));
    }
    if (!isPlainObject(p.opentelemetry)) return;
    const at = `${where}.opentelemetry`;
    for (const s of checkShape(openTelemetryProvider, p.opentelemetry, at))
      out.push(finding(s.code === 'MAST0001' ? 'MAST0301' : 'MAST0132', configMap, s.path, s.message));
  });
  const names = new Set(providers.filter(isPlainObject).map((p) => p.name));
  const defaults = (mesh.defaultProviders as { tracing?: unknown } | undefined)?.tracing;
  if (Array.isArray(defaults))
    defaults.forEach((n: unknown, i: number) => {
      if (!names.has(n))
        out.push(
          finding('MAST0132', configMap, `data.mesh.defaultProviders.tracing[${i}]`, `no extensionProvider named ${JSON.stringify(n)}`),
        );
    });
  const sampling = (mesh.defaultConfig as { tracing?: { sampling?: unknown } } | undefined)?.tracing?.sampling;
  if (sampling !== undefined && (typeof sampling !== 'number' || sampling < 0 || sampling > 100))
    out.push(
      finding(
        'MAST0132',
        configMap,
        'data.mesh.defaultConfig.tracing.sampling',
        `sampling is a percentage from 0 to 100, not ${JSON.stringify(sampling)} (Istio then samples 1 %)`,
      ),
    );
  return out;
}

/** The findings of a Telemetry; undefined for any other object (the mesh config's are mesh-config.ts's). */
export function telemetryFindings(o: KubeObject): Finding[] | undefined {
  return o.kind === 'Telemetry' && String(o.apiVersion).startsWith(`${TELEMETRY_GROUP}/`) ? checkTelemetry(o) : undefined;
}

/** Telemetry's CRD, from its schema as the mesh kinds' (every field kept: unknown ones preserved), v1 stored. */
export const telemetryCrd = (): Record<string, unknown> =>
  crdManifest({
    group: TELEMETRY_GROUP,
    kind: 'Telemetry',
    plural: 'telemetries',
    shortNames: ['telemetry'],
    description: 'Tracing, metrics and access logging for workloads.',
    spec: telemetryCrdSpec,
    versions: TELEMETRY_VERSIONS,
    storage: 'v1',
    columns: [],
  });
