/**
 * Access logs per proxy, as istiod configures Envoy's: the Telemetry resources that apply to the
 * workload (root namespace → its namespace → its selector's, tracing.ts's applicableTelemetries)
 * merged per side (SERVER: a sidecar's inbound; CLIENT: its outbound and a gateway), each provider
 * named resolved among the mesh config's `envoyFileAccessLog` and `envoyOtelAls` (OpenTelemetry
 * access logs over OTLP/gRPC) extension providers and the built-in `envoy` (the mesh config's format
 * and encoding, to /dev/stdout). Without any Telemetry
 * `accessLogging` nor `defaultProviders.accessLogging` for the proxy, Istio's older mesh config
 * settings: `accessLogFile` (empty: no log), `accessLogEncoding` (TEXT by default) and
 * `accessLogFormat`. Pure.
 */
import {
  BUILTIN_ACCESS_LOG_PROVIDER,
  ISTIO_JSON_LABELS,
  ISTIO_TEXT_FORMAT,
  meshFormatProblem,
  OTEL_DEFAULT_LOG_NAME,
  type KubeObject,
  type Telemetry,
  type TelemetryAccessLogging,
} from '../../api';
import type { AccessLogConfig, AccessLogsConfig, OtlpAccessLogConfig } from '../contract/proxy-config';
import type { ProxyIdentity } from '../contract/push-protocol';
import { collectorAddress } from './collector';
import type { MeshIndex } from './mesh-index';
import { meshConfigOf } from './mesh-config';
import { applicableTelemetries, hostOf } from './tracing';
import { telemetryInputs } from './telemetry-inputs';

/** Where Istio's built-in provider and a provider without a path write. */
export const DEV_STDOUT = '/dev/stdout';

type Format = AccessLogConfig['format'];

/** The mesh config's access log parts. */
export interface MeshAccessLog {
  /** `accessLogFile`: '' is no log. */
  readonly file: string;
  /** `accessLogFormat` in `accessLogEncoding` (Istio's default of the encoding when unset or unusable). */
  readonly format: Format;
  /**
   * `envoyFileAccessLog` and `envoyOtelAls` providers by name in lower case, the built-in `envoy`
   * among them; other kinds are not here (MAST0301).
   */
  readonly providers: ReadonlyMap<string, MeshLogProvider>;
  readonly defaults: readonly string[];
}

/** A provider as a proxy's log takes it: a file (its path) or an OpenTelemetry collector (`otlp`). */
export interface MeshLogProvider {
  readonly path: string;
  readonly format?: Format;
  readonly otlp?: OtlpAccessLogConfig;
  /** An envoyOtelAls provider's `service` as written (`<namespace>/<host>` or a host), for collectorAddress. */
  readonly service?: string;
}

/**
 * An `envoyOtelAls` provider as istiod's openTelemetryLog builds Envoy's: the body is `logFormat.text`,
 * else Istio's default TEXT format (never the mesh config's), as written (no newline added); the
 * attributes are `logFormat.labels`' string values, by name. Undefined when it has no service or port.
 */
function otelProvider(o: Record<string, unknown>): MeshLogProvider | undefined {
  if (typeof o.service !== 'string' || !o.service || !Number.isInteger(o.port)) return undefined;
  const lf = (o.logFormat ?? {}) as { text?: unknown; labels?: unknown };
  const labels =
    lf.labels && typeof lf.labels === 'object'
      ? Object.entries(lf.labels as Record<string, unknown>)
          .filter(([, v]) => typeof v === 'string')
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      : [];
  return {
    path: '',
    service: o.service,
    format: { text: typeof lf.text === 'string' && lf.text ? lf.text : ISTIO_TEXT_FORMAT },
    otlp: {
      host: hostOf(o.service),
      port: o.port as number,
      logName: typeof o.logName === 'string' && o.logName ? o.logName : OTEL_DEFAULT_LOG_NAME,
      ...(labels.length ? { attributes: Object.fromEntries(labels) as Record<string, string> } : {}),
    },
  };
}

/** Istio adds a newline to a text format that has none (its fileAccessLogFormat). */
const textFormat = (text: string): Format => ({ text: text.endsWith('\n') ? text : `${text}\n` });

export function readMeshAccessLog(objects: readonly KubeObject[]): MeshAccessLog {
  const mesh = (meshConfigOf(objects) ?? {}) as Record<string, unknown> & {
    extensionProviders?: Array<{
      name?: unknown;
      envoyFileAccessLog?: { path?: unknown; logFormat?: { text?: unknown; labels?: unknown } };
      envoyOtelAls?: Record<string, unknown>;
    }>;
    defaultProviders?: { accessLogging?: unknown[] };
  };
  const encoding = mesh.accessLogEncoding === 'JSON' ? 'JSON' : 'TEXT';
  const given = typeof mesh.accessLogFormat === 'string' ? mesh.accessLogFormat : '';
  // A format that does not parse is an Error of api/access-log.ts; Istio then uses its default, and so does mast.
  const usable = given && !meshFormatProblem(given, encoding);
  const format: Format =
    encoding === 'TEXT'
      ? textFormat(usable ? given : ISTIO_TEXT_FORMAT)
      : { json: usable ? (JSON.parse(given) as Record<string, unknown>) : ISTIO_JSON_LABELS };
  const providers = new Map<string, MeshLogProvider>([[BUILTIN_ACCESS_LOG_PROVIDER, { path: DEV_STDOUT }]]);
  for (const p of Array.isArray(mesh.extensionProviders) ? mesh.extensionProviders : []) {
    if (typeof p?.name !== 'string') continue;
    const f = p.envoyFileAccessLog;
    const otel = p.envoyOtelAls && typeof p.envoyOtelAls === 'object' ? otelProvider(p.envoyOtelAls) : undefined;
    if (otel) {
      providers.set(p.name.toLowerCase(), otel);
      continue;
    }
    // A provider of another kind under a name replaces it (as Istio merges providers by name): it logs nothing.
    if (!f || typeof f !== 'object') {
      providers.delete(p.name.toLowerCase());
      continue;
    }
    const path = typeof f.path === 'string' && f.path ? f.path : DEV_STDOUT;
    const lf = f.logFormat;
    const labels =
      lf?.labels && typeof lf.labels === 'object' && Object.keys(lf.labels).length ? (lf.labels as Record<string, unknown>) : undefined;
    // Istio: the built-in provider without logFormat follows the mesh config's format; any other is TEXT by default.
    const own: Format | undefined =
      typeof lf?.text === 'string' && lf.text
        ? textFormat(lf.text)
        : lf?.labels !== undefined
          ? { json: labels ?? ISTIO_JSON_LABELS }
          : p.name === BUILTIN_ACCESS_LOG_PROVIDER
            ? undefined
            : textFormat(ISTIO_TEXT_FORMAT);
    providers.set(p.name.toLowerCase(), { path, ...(own ? { format: own } : {}) });
  }
  const defaults = (mesh.defaultProviders?.accessLogging ?? []).filter((n): n is string => typeof n === 'string');
  return { file: typeof mesh.accessLogFile === 'string' ? mesh.accessLogFile : '', format, providers, defaults };
}

type Mode = 'CLIENT' | 'SERVER';
/** What one provider does for a side: logs (with a filter, or none), or is disabled. */
type ProviderSpec = { readonly disabled: true } | { readonly disabled?: false; readonly filter?: string };

const matchesMode = (l: TelemetryAccessLogging, mode: Mode) =>
  !l.match?.mode || l.match.mode === 'CLIENT_AND_SERVER' || l.match.mode === mode;
const providerNames = (l: TelemetryAccessLogging) => (l.providers ?? []).map((p) => p.name).filter((n) => n);

/**
 * The providers of one side and what each does, merged over the Telemetries (root first), as istiod's
 * mergeLogs: the last level naming providers for the side sets which are in scope; an entry without
 * providers acts on the ones named above it; `disabled` turns a provider off, a filter is the last one given.
 */
export function mergeAccessLogging(telemetries: readonly Telemetry[], defaults: readonly string[], mode: Mode): Map<string, ProviderSpec> {
  const out = new Map<string, ProviderSpec>();
  const levels = telemetries.map((t) => t.spec.accessLogging ?? []).filter((l) => l.length);
  if (!levels.length) {
    for (const name of defaults) out.set(name, {});
    return out;
  }
  let inScope: readonly string[] = defaults;
  const filters = new Map<string, string | undefined>();
  for (const entries of levels) {
    const named = new Set<string>();
    for (const l of entries) {
      if (!matchesMode(l, mode)) continue;
      for (const name of providerNames(l)) {
        named.add(name);
        filters.set(name, l.filter?.expression);
      }
    }
    if (named.size) inScope = [...named];
  }
  let parent: readonly string[] = defaults;
  for (const entries of levels)
    for (const l of entries) {
      const names = providerNames(l).length ? providerNames(l) : parent;
      parent = names;
      for (const name of names) {
        if (!inScope.includes(name) || !matchesMode(l, mode)) continue;
        const filter = filters.get(name);
        out.set(name, l.disabled ? { disabled: true } : filter ? { filter } : {});
      }
    }
  return out;
}

/** Per index: the mesh config's access log parts and the Telemetries that say something about access logs. */
const inputs = telemetryInputs(readMeshAccessLog, (t) => Boolean(t.spec.accessLogging?.length));

/** Whether the access logs of a proxy may depend on its workload's labels (a Telemetry with a selector says something). */
export function accessLogsByWorkload(index: MeshIndex): boolean {
  return inputs(index).telemetries.some((t) => t.spec.selector?.matchLabels);
}

/**
 * The proxy's access logs, or undefined when neither the mesh config nor a Telemetry says anything
 * (the proxy's flag applies). As istiod, a side whose Telemetries leave it no provider that writes a
 * file (none in scope for its mode, or only names the mesh config has not) falls back to the mesh
 * config's `accessLogFile`; a provider in scope but `disabled` leaves that side without a log.
 */
export function accessLogsFor(index: MeshIndex, proxy: ProxyIdentity): AccessLogsConfig | undefined {
  const { mesh, telemetries } = inputs(index);
  // Every Telemetry with accessLogging, not only the oldest of a level that may say nothing of it.
  const applicable = applicableTelemetries(telemetries, proxy.namespace, proxy.labels);
  const legacy: AccessLogConfig[] | undefined = mesh.file
    ? [{ provider: 'accessLogFile', path: mesh.file, format: mesh.format }]
    : undefined;
  const side = (mode: Mode): AccessLogConfig[] | undefined => {
    if (!applicable.length && !mesh.defaults.length) return legacy;
    const out: AccessLogConfig[] = [];
    let configured = false;
    for (const [name, spec] of mergeAccessLogging(applicable, mesh.defaults, mode)) {
      // istiod finds a provider by its name in any case.
      const provider = mesh.providers.get(name.toLowerCase());
      if (!provider) continue;
      configured = true;
      if (spec.disabled) continue;
      out.push({
        provider: name,
        path: provider.path,
        format: provider.format ?? mesh.format,
        ...(spec.filter ? { filter: spec.filter } : {}),
        // The service's endpoint when the mesh knows it (istiod's LookupCluster), else its host.
        ...(provider.otlp
          ? { otlp: { ...provider.otlp, ...collectorAddress(index, provider.service ?? provider.otlp.host, provider.otlp.port) } }
          : {}),
      });
    }
    if (!configured) return legacy;
    // Istio writes a proxy's logs in the order of their providers' names.
    return out.sort((a, b) => (a.provider < b.provider ? -1 : a.provider > b.provider ? 1 : 0));
  };
  // A gateway has no server side: it says nothing there (else a gateway would always have logs, and never the flag's).
  const server = proxy.mode === 'sidecar' ? side('SERVER') : undefined;
  const client = side('CLIENT');
  // A proxy with any access log said for it ignores the --access-log flag on both sides.
  return server === undefined && client === undefined ? undefined : { server: server ?? [], client: client ?? [] };
}
