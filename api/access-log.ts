/**
 * Access logging, as Istio configures it: Telemetry `accessLogging` (providers, `disabled`,
 * `match.mode`, `filter.expression` in CEL) and the mesh config's `accessLogFile`,
 * `accessLogEncoding`, `accessLogFormat` and `envoyFileAccessLog` extension providers. Checked here
 * value by value: a format with an operator mast-proxy cannot fill, or a filter that is not CEL, is
 * an error naming the field and the value, found at validation rather than in a proxy.
 */
import type * as Cel from '@bufbuild/cel';
import { AccessLogFormatError, parseAccessLogFormat, parseJsonFormat } from './access-log-format';
import { finding, type Finding } from './findings';
import type { KubeObject } from './resources';
import { arr, bool, obj, oneOf, req, str, type Infer } from './schema';
import { isPlainObject } from './shape';

export const accessLoggingSpec = obj({
  match: obj({ mode: oneOf(['CLIENT_AND_SERVER', 'CLIENT', 'SERVER'] as const) }),
  providers: arr(obj({ name: req(str()) }), 'Access log providers by name: `envoy` (built in) or the mesh config extensionProviders.'),
  disabled: bool('No access log for the providers it names (or the inherited ones).'),
  filter: obj({ expression: req(str('A CEL expression over Envoy attributes: only requests where it is true are logged.')) }),
});
export type TelemetryAccessLogging = Infer<typeof accessLoggingSpec>;

/** Istio's built-in access log provider: the mesh config's format and encoding, to /dev/stdout. */
export const BUILTIN_ACCESS_LOG_PROVIDER = 'envoy';
/** The extension provider kinds that write access logs; mast applies envoyFileAccessLog and envoyOtelAls. */
export const ACCESS_LOG_PROVIDER_KINDS = ['envoyFileAccessLog', 'envoyHttpAls', 'envoyTcpAls', 'envoyOtelAls'] as const;
/** Envoy's gRPC access log services (its own ALS protocol): MAST0301. */
const NOT_APPLIED_KINDS = ['envoyHttpAls', 'envoyTcpAls'] as const;
/** Istio's logName of an envoyOtelAls provider that names none. */
export const OTEL_DEFAULT_LOG_NAME = 'otel_envoy_accesslog';

/**
 * The CEL library (@bufbuild/cel, docs/observability.md says why), loaded on first use: it takes a
 * third of a second to load, which a `mast` command or a synth without an access log filter never pays.
 */
export const celLibrary = (): typeof Cel => require('@bufbuild/cel') as typeof Cel;

/** A CEL expression's parse error, or undefined when it parses. */
export function celProblem(expression: string): string | undefined {
  try {
    celLibrary().parse(expression);
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/\s+/g, ' ').trim();
  }
}

/** A Telemetry's `accessLogging` findings beside its shape's: each filter's expression must be CEL. */
export function checkTelemetryAccessLogging(t: KubeObject, accessLogging: unknown): Finding[] {
  const out: Finding[] = [];
  if (!Array.isArray(accessLogging)) return out;
  accessLogging.forEach((l: unknown, i) => {
    const expression = isPlainObject(l) && isPlainObject(l.filter) ? l.filter.expression : undefined;
    if (typeof expression !== 'string') return;
    const problem = expression.trim() ? celProblem(expression) : 'the expression is empty';
    if (problem)
      out.push(
        finding(
          'MAST0161',
          t,
          `spec.accessLogging[${i}].filter.expression`,
          `${JSON.stringify(expression)} is not a CEL expression: ${problem}`,
        ),
      );
  });
  return out;
}

/** The problem of a mesh config's access log format for its encoding, or undefined. */
export function meshFormatProblem(format: string, encoding: 'TEXT' | 'JSON'): string | undefined {
  if (!format) return undefined;
  try {
    if (encoding === 'TEXT') parseAccessLogFormat(format);
    else {
      let labels: unknown;
      try {
        labels = JSON.parse(format);
      } catch (e) {
        return `with accessLogEncoding JSON the format is a JSON object of command operators; this is not JSON (${(e as Error).message})`;
      }
      parseJsonFormat(labels);
    }
  } catch (e) {
    if (e instanceof AccessLogFormatError) return e.message;
    throw e;
  }
  return undefined;
}

/**
 * The mesh config's access log parts: `accessLogFile`, `accessLogEncoding`, `accessLogFormat`, the
 * `envoyFileAccessLog` providers (path, logFormat text or labels) and `defaultProviders.accessLogging`.
 */
export function checkMeshAccessLog(configMap: KubeObject, mesh: Record<string, unknown>): Finding[] {
  const out: Finding[] = [];
  const at = 'data.mesh';
  if (mesh.accessLogFile !== undefined && typeof mesh.accessLogFile !== 'string')
    out.push(finding('MAST0002', configMap, `${at}.accessLogFile`, `a path (e.g. /dev/stdout), not ${JSON.stringify(mesh.accessLogFile)}`));
  const encoding = mesh.accessLogEncoding ?? 'TEXT';
  if (encoding !== 'TEXT' && encoding !== 'JSON')
    out.push(finding('MAST0004', configMap, `${at}.accessLogEncoding`, `TEXT (Istio's default) or JSON, not ${JSON.stringify(encoding)}`));
  if (mesh.accessLogFormat !== undefined && typeof mesh.accessLogFormat !== 'string')
    out.push(finding('MAST0002', configMap, `${at}.accessLogFormat`, `a format string, not ${JSON.stringify(mesh.accessLogFormat)}`));
  else if (typeof mesh.accessLogFormat === 'string' && (encoding === 'TEXT' || encoding === 'JSON')) {
    const problem = meshFormatProblem(mesh.accessLogFormat, encoding);
    if (problem) out.push(finding(problem.startsWith('with') ? 'MAST0163' : 'MAST0162', configMap, `${at}.accessLogFormat`, problem));
  }
  const providers = Array.isArray(mesh.extensionProviders) ? mesh.extensionProviders : [];
  const names = new Set<unknown>([BUILTIN_ACCESS_LOG_PROVIDER]);
  providers.forEach((p: unknown, i: number) => {
    if (!isPlainObject(p)) return;
    names.add(p.name);
    const where = `${at}.extensionProviders[${i}]`;
    for (const kind of NOT_APPLIED_KINDS)
      if (p[kind] !== undefined)
        out.push(
          finding(
            'MAST0301',
            configMap,
            `${where}.${kind}`,
            `${kind} is not applied by mast-proxy: it writes access logs to files (envoyFileAccessLog) and to OpenTelemetry collectors (envoyOtelAls)`,
          ),
        );
    if (p.envoyFileAccessLog !== undefined) out.push(...checkFileProvider(configMap, p.envoyFileAccessLog, `${where}.envoyFileAccessLog`));
    if (p.envoyOtelAls !== undefined) out.push(...checkOtelProvider(configMap, p.envoyOtelAls, `${where}.envoyOtelAls`));
  });
  const defaults = (mesh.defaultProviders as { accessLogging?: unknown } | undefined)?.accessLogging;
  if (Array.isArray(defaults))
    defaults.forEach((n: unknown, i: number) => {
      if (!names.has(n))
        out.push(
          finding(
            'MAST0164',
            configMap,
            `${at}.defaultProviders.accessLogging[${i}]`,
            `no extensionProvider named ${JSON.stringify(n)} (nor the built-in "envoy")`,
          ),
        );
    });
  return out;
}

function checkFileProvider(configMap: KubeObject, p: unknown, at: string): Finding[] {
  if (!isPlainObject(p)) return [finding('MAST0002', configMap, at, 'envoyFileAccessLog is a mapping: path, logFormat, omitEmptyValues')];
  const out: Finding[] = [];
  for (const key of Object.keys(p))
    if (!['path', 'logFormat', 'omitEmptyValues'].includes(key))
      out.push(finding('MAST0001', configMap, `${at}.${key}`, `"${key}" is not an envoyFileAccessLog field`));
  if (p.path !== undefined && typeof p.path !== 'string')
    out.push(finding('MAST0002', configMap, `${at}.path`, `a path (e.g. /dev/stdout), not ${JSON.stringify(p.path)}`));
  if (p.omitEmptyValues === true)
    out.push(finding('MAST0301', configMap, `${at}.omitEmptyValues`, 'omitEmptyValues is not applied by mast-proxy: empty values print -'));
  const format = p.logFormat;
  if (format === undefined) return out;
  if (!isPlainObject(format) || (format.text !== undefined && format.labels !== undefined))
    return [
      ...out,
      finding(
        'MAST0163',
        configMap,
        `${at}.logFormat`,
        'logFormat is one of text (a format string) or labels (a JSON object of operators)',
      ),
    ];
  try {
    if (typeof format.text === 'string') parseAccessLogFormat(format.text);
    else if (format.labels !== undefined) parseJsonFormat(format.labels);
  } catch (e) {
    if (!(e instanceof AccessLogFormatError)) throw e;
    out.push(finding('MAST0162', configMap, `${at}.logFormat.${typeof format.text === 'string' ? 'text' : 'labels'}`, e.message));
  }
  return out;
}

/** The format problem of one format string, or undefined. */
function formatProblem(text: string): string | undefined {
  try {
    parseAccessLogFormat(text);
    return undefined;
  } catch (e) {
    if (e instanceof AccessLogFormatError) return e.message;
    throw e;
  }
}

/**
 * An `envoyOtelAls` provider (Istio's EnvoyOpenTelemetryLogProvider): `service` and `port` of the
 * OTLP/gRPC collector, `logName`, and `logFormat` with `text` (each record's body) and `labels` (its
 * attributes: each a format string, as Istio hands Envoy only string values). Both may be given.
 */
function checkOtelProvider(configMap: KubeObject, p: unknown, at: string): Finding[] {
  if (!isPlainObject(p)) return [finding('MAST0180', configMap, at, 'envoyOtelAls is a mapping: service, port, logName, logFormat')];
  const out: Finding[] = [];
  for (const key of Object.keys(p))
    if (!['service', 'port', 'logName', 'logFormat'].includes(key))
      out.push(finding('MAST0001', configMap, `${at}.${key}`, `"${key}" is not an envoyOtelAls field`));
  if (typeof p.service !== 'string' || !p.service)
    out.push(
      finding(
        'MAST0180',
        configMap,
        `${at}.service`,
        `the collector's host (e.g. opentelemetry-collector.observability.svc.cluster.local), not ${JSON.stringify(p.service)}`,
      ),
    );
  if (!Number.isInteger(p.port) || (p.port as number) < 1 || (p.port as number) > 65535)
    out.push(
      finding(
        'MAST0180',
        configMap,
        `${at}.port`,
        `the collector's OTLP/gRPC port (1-65535, 4317 by convention), not ${JSON.stringify(p.port)}`,
      ),
    );
  if (p.logName !== undefined && typeof p.logName !== 'string')
    out.push(finding('MAST0180', configMap, `${at}.logName`, `a name, not ${JSON.stringify(p.logName)}`));
  const format = p.logFormat;
  if (format === undefined) return out;
  if (!isPlainObject(format))
    return [
      ...out,
      finding('MAST0163', configMap, `${at}.logFormat`, 'logFormat is a mapping: text (the body) and labels (the attributes)'),
    ];
  if (format.text !== undefined) {
    const problem = typeof format.text === 'string' ? formatProblem(format.text) : `a format string, not ${JSON.stringify(format.text)}`;
    if (problem) out.push(finding(typeof format.text === 'string' ? 'MAST0162' : 'MAST0163', configMap, `${at}.logFormat.text`, problem));
  }
  if (format.labels !== undefined) {
    if (!isPlainObject(format.labels))
      out.push(
        finding('MAST0163', configMap, `${at}.logFormat.labels`, `attribute names to format strings, not ${JSON.stringify(format.labels)}`),
      );
    else
      for (const [key, value] of Object.entries(format.labels)) {
        const problem = typeof value === 'string' ? formatProblem(value) : undefined;
        if (typeof value !== 'string')
          out.push(
            finding(
              'MAST0163',
              configMap,
              `${at}.logFormat.labels.${key}`,
              `a format string (Istio sends only string values), not ${JSON.stringify(value)}`,
            ),
          );
        else if (problem) out.push(finding('MAST0162', configMap, `${at}.logFormat.labels.${key}`, problem));
      }
  }
  return out;
}
