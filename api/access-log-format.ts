/**
 * Access log formats as Envoy reads them (its "command operators": `%RESPONSE_CODE%`,
 * `%REQ(USER-AGENT)%`, `%REQ(X-ENVOY-ORIGINAL-PATH?:PATH):64%`...), parsed once into parts, and
 * Istio's two defaults (pilot's EnvoyTextLogFormat and EnvoyJSONLogFormatIstio). Only the operators
 * mast-proxy can fill are accepted: any other is an error naming it, never a log line that quietly
 * prints `-`. The proxy compiles the parts into a function (runtime/proxy/access-log/format.ts).
 */

/** How an operator's value is written in a JSON log: a number, or text. */
type OperatorKind = 'number' | 'text';

/**
 * The operators mast-proxy fills, by name, with whether they take a header argument. Those of Istio's
 * default formats that mast-proxy has no value for (it keeps no upstream connection's local address,
 * the inbound connection's SNI, a transport failure's reason) print `-`, as Envoy does when it has none.
 */
export const ACCESS_LOG_OPERATORS: Readonly<Record<string, { readonly kind: OperatorKind; readonly header?: true }>> = {
  START_TIME: { kind: 'text' },
  REQ: { kind: 'text', header: true },
  REQ_WITHOUT_QUERY: { kind: 'text', header: true },
  RESP: { kind: 'text', header: true },
  PROTOCOL: { kind: 'text' },
  RESPONSE_CODE: { kind: 'number' },
  RESPONSE_FLAGS: { kind: 'text' },
  RESPONSE_CODE_DETAILS: { kind: 'text' },
  CONNECTION_TERMINATION_DETAILS: { kind: 'text' },
  UPSTREAM_TRANSPORT_FAILURE_REASON: { kind: 'text' },
  BYTES_RECEIVED: { kind: 'number' },
  BYTES_SENT: { kind: 'number' },
  DURATION: { kind: 'number' },
  UPSTREAM_HOST: { kind: 'text' },
  UPSTREAM_CLUSTER: { kind: 'text' },
  UPSTREAM_CLUSTER_RAW: { kind: 'text' },
  UPSTREAM_LOCAL_ADDRESS: { kind: 'text' },
  DOWNSTREAM_LOCAL_ADDRESS: { kind: 'text' },
  DOWNSTREAM_REMOTE_ADDRESS: { kind: 'text' },
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: { kind: 'text' },
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: { kind: 'text' },
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: { kind: 'text' },
  DOWNSTREAM_PEER_URI_SAN: { kind: 'text' },
  REQUESTED_SERVER_NAME: { kind: 'text' },
  ROUTE_NAME: { kind: 'text' },
  GRPC_STATUS_NUMBER: { kind: 'number' },
  HOSTNAME: { kind: 'text' },
  // The proxy's environment variable (Envoy's %ENVIRONMENT(NAME)%), read once per config.
  ENVIRONMENT: { kind: 'text' },
};

/**
 * Response headers a record keeps: none but Envoy's `x-envoy-upstream-service-time`, which mast-proxy
 * does not send (always `-`). Any other `RESP(...)` is refused rather than printed as `-` for ever.
 */
export const RESP_HEADERS_KNOWN = ['x-envoy-upstream-service-time'];

/** One command operator: `%NAME(header?alternative):max%`. */
export interface FormatOperator {
  readonly name: string;
  /** REQ/RESP: the header, lower case (`:method`, `:path`, `:authority` for the pseudo-headers). */
  readonly header?: string;
  /** ENVIRONMENT: the variable's name, as written. */
  readonly variable?: string;
  /** `REQ(A?B)`: B where A is absent (Envoy's X-ENVOY-ORIGINAL-PATH?:PATH). */
  readonly alternative?: string;
  /** `:N` after the operator: the value cut to N characters. */
  readonly maxLength?: number;
  /** START_TIME(fmt): Envoy's strftime-like format (UTC), checked by startTimeFormat. */
  readonly timeFormat?: string;
}

/**
 * The specifiers START_TIME(...) takes, as Envoy's (absl's strftime in UTC, plus `%s` seconds since
 * the epoch and `%f`/`%1f`..`%9f` fractional seconds, 9 digits by default).
 */
export const START_TIME_SPECIFIERS = 'aAbBdeFHIjmMpsSTyYzZ%';

/** A START_TIME format's problem, or undefined: every `%` starts a known specifier. */
export function startTimeProblem(format: string): string | undefined {
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== '%') continue;
    const rest = format.slice(i + 1);
    const m = /^[1-9]?f/.exec(rest);
    if (m) {
      i += m[0].length;
      continue;
    }
    if (!rest || !START_TIME_SPECIFIERS.includes(rest[0]))
      return `%START_TIME(${format})%: "%${rest[0] ?? ''}" is not a time specifier mast-proxy writes (%Y %m %d %H %M %S %z %s %3f ... see docs/observability.md)`;
    i++;
  }
  return undefined;
}

/** A format: literal text and operators, in order. */
export type FormatPart = string | FormatOperator;

/** A JSON format (Envoy's json_format, Istio's `labels`): keys to formats, nested objects, or literal values. */
export type JsonFormat = { readonly [key: string]: FormatPart[] | JsonFormat | number | boolean | null };

export class AccessLogFormatError extends Error {
  readonly code = 'MAST0162';
}

/** Istio's default TEXT format (pilot's EnvoyTextLogFormat), one line per request. */
export const ISTIO_TEXT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% ' +
  '%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" ' +
  '"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% ' +
  '%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n';

/** Istio's default JSON labels (pilot's EnvoyJSONLogFormatIstio), in the order Envoy writes them. */
export const ISTIO_JSON_LABELS: Readonly<Record<string, string>> = {
  start_time: '%START_TIME%',
  route_name: '%ROUTE_NAME%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  response_code_details: '%RESPONSE_CODE_DETAILS%',
  connection_termination_details: '%CONNECTION_TERMINATION_DETAILS%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  duration: '%DURATION%',
  upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
  user_agent: '%REQ(USER-AGENT)%',
  request_id: '%REQ(X-REQUEST-ID)%',
  authority: '%REQ(:AUTHORITY)%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_cluster: '%UPSTREAM_CLUSTER_RAW%',
  upstream_local_address: '%UPSTREAM_LOCAL_ADDRESS%',
  downstream_local_address: '%DOWNSTREAM_LOCAL_ADDRESS%',
  downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
  requested_server_name: '%REQUESTED_SERVER_NAME%',
  upstream_transport_failure_reason: '%UPSTREAM_TRANSPORT_FAILURE_REASON%',
};

// An operator as Envoy's parser reads one: NAME, an optional (argument), an optional :length.
const OPERATOR = /^%([A-Z0-9_]+)(?:\(([^)]*)\))?(?::(\d+))?%/;

/** A text format's parts; throws AccessLogFormatError naming the first operator mast-proxy cannot fill. */
export function parseAccessLogFormat(text: string): FormatPart[] {
  const parts: FormatPart[] = [];
  let literal = '';
  for (let i = 0; i < text.length; ) {
    const at = text.indexOf('%', i);
    if (at < 0) {
      literal += text.slice(i);
      break;
    }
    literal += text.slice(i, at);
    const m = OPERATOR.exec(text.slice(at));
    if (!m)
      throw new AccessLogFormatError(`no command operator at position ${at} ("${text.slice(at, at + 24)}"): write %NAME% or %NAME(arg)%`);
    if (literal) parts.push(literal);
    literal = '';
    parts.push(operatorOf(m[1], m[2], m[3]));
    i = at + m[0].length;
  }
  if (literal) parts.push(literal);
  return parts;
}

function operatorOf(name: string, arg: string | undefined, max: string | undefined): FormatOperator {
  const known = ACCESS_LOG_OPERATORS[name];
  if (!known) throw new AccessLogFormatError(`%${name}% is not a command operator mast-proxy fills (see docs/observability.md)`);
  const maxLength = max !== undefined ? { maxLength: Number(max) } : {};
  if (name === 'ENVIRONMENT') {
    const variable = arg?.trim();
    if (!variable) throw new AccessLogFormatError('%ENVIRONMENT% needs a variable: %ENVIRONMENT(POD_NAME)%');
    return { name, variable, ...maxLength };
  }
  if (name === 'START_TIME' && arg !== undefined) {
    const problem = startTimeProblem(arg);
    if (problem) throw new AccessLogFormatError(problem);
    return { name, timeFormat: arg, ...maxLength };
  }
  if (!known.header) {
    if (arg !== undefined) throw new AccessLogFormatError(`%${name}(${arg})%: mast-proxy takes %${name}% without an argument`);
    return { name, ...maxLength };
  }
  if (!arg) throw new AccessLogFormatError(`%${name}% needs a header: %${name}(USER-AGENT)%`);
  const [header, alternative] = arg.split('?').map((h) => h.trim().toLowerCase());
  if (name === 'RESP' && !RESP_HEADERS_KNOWN.includes(header))
    throw new AccessLogFormatError(`%RESP(${arg})%: mast-proxy keeps no response header but X-ENVOY-UPSTREAM-SERVICE-TIME for its log`);
  return { name, header, ...(alternative ? { alternative } : {}), ...maxLength };
}

/** A JSON format's parts: every string value a format, objects nested; throws AccessLogFormatError naming the key. */
export function parseJsonFormat(labels: unknown, at = ''): JsonFormat {
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels))
    throw new AccessLogFormatError(`${at || 'the JSON format'} is an object of keys to command operators, not ${JSON.stringify(labels)}`);
  const out: Record<string, JsonFormat[string]> = {};
  for (const [key, value] of Object.entries(labels)) {
    const path = at ? `${at}.${key}` : key;
    if (typeof value === 'string')
      try {
        out[key] = parseAccessLogFormat(value);
      } catch (e) {
        throw new AccessLogFormatError(`${path}: ${(e as Error).message}`);
      }
    else if (typeof value === 'number' || typeof value === 'boolean' || value === null) out[key] = value;
    else out[key] = parseJsonFormat(value, path);
  }
  return out;
}
