/**
 * An access log format compiled once per config into a function of a request's record (Envoy's
 * command operators: api/access-log-format.ts parses them, this file gives each its value): the hot
 * path runs a few closures and one string join, never the format's text. Text formats print `-` for
 * a value the request has not; JSON formats write an operator standing alone as a number or a string
 * (null when absent), as Envoy's JSON logs do, and keep the keys in the order given. A TCP
 * connection's record (tcp-record.ts) goes through the same format with its own values
 * (tcp-fields.ts): the HTTP-only operators print `-`, as Envoy's tcp_proxy logs them.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import {
  ACCESS_LOG_OPERATORS,
  parseAccessLogFormat,
  parseJsonFormat,
  type FormatOperator,
  type FormatPart,
  type JsonFormat,
} from '../../../api';
import type { AccessLogConfig } from '../../contract/proxy-config';
import type { RequestRecord } from '../request/record';
import type { ConnectionRecord } from '../tcp-record';
import { TCP_FIELDS } from './tcp-fields';
import type { Fields, Getter as FieldGetter, Value } from './fields';
import { compileStartTime } from './start-time';

/** One record's line (without its newline), given the record and the wall clock when it finished. */
export type LineOf<R = RequestRecord> = (r: R, now: number) => string;
type Getter<R = RequestRecord> = FieldGetter<R>;

const withoutQuery = (target: string) => {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
};

/** A request header as Envoy's REQ names it: the pseudo-headers are the request line's parts. */
function requestHeader(r: RequestRecord, name: string): string | undefined {
  const req = r.request;
  switch (name) {
    case ':method':
      return req.method;
    case ':path':
      return req.target;
    case ':authority':
      return r.authority;
    case ':scheme':
      return req.scheme;
    // The id the proxy sent on: the client's, or one it made (none sent, or a gateway's external client).
    case 'x-request-id':
      return r.requestId || req.header(name);
    default:
      return req.header(name);
  }
}

const HOSTNAME = hostname();

/** The values mast-proxy has for no request (Envoy has them; mast keeps none): always `-`. */
const NONE: Getter<unknown> = () => undefined;

const GETTERS: Readonly<Record<string, Getter>> = {
  START_TIME: (r, now) => new Date(now - r.ms).toISOString(),
  PROTOCOL: (r) => r.protocol,
  RESPONSE_CODE: (r) => r.status,
  RESPONSE_FLAGS: (r) => r.flags,
  // Envoy's details of a response that came from upstream say so.
  RESPONSE_CODE_DETAILS: (r) => r.details ?? (r.upstream !== undefined && r.status > 0 && r.flags === '-' ? 'via_upstream' : undefined),
  CONNECTION_TERMINATION_DETAILS: NONE,
  UPSTREAM_TRANSPORT_FAILURE_REASON: (r) => r.transportFailure,
  BYTES_RECEIVED: (r) => r.bytesIn,
  BYTES_SENT: (r) => r.bytesOut,
  // Envoy's milliseconds are whole, cut (not rounded).
  DURATION: (r) => Math.floor(r.ms),
  UPSTREAM_HOST: (r) => r.upstream,
  UPSTREAM_CLUSTER: (r) => r.cluster?.name,
  UPSTREAM_CLUSTER_RAW: (r) => r.cluster?.name,
  UPSTREAM_LOCAL_ADDRESS: NONE,
  // Where the client connected before capture redirected it (an address: an app that names the
  // sidecar as its HTTP proxy gave a host name, not where it connected).
  DOWNSTREAM_LOCAL_ADDRESS: (r) =>
    r.request.originalAddress !== undefined && r.request.originalPort !== undefined && isIP(r.request.originalAddress)
      ? `${r.request.originalAddress}:${r.request.originalPort}`
      : undefined,
  DOWNSTREAM_REMOTE_ADDRESS: (r) => `${r.request.remoteAddress}:${r.request.remotePort}`,
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: (r) => r.request.remoteAddress,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: (r) => r.request.peerAddress,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: (r) => r.request.peerAddress,
  DOWNSTREAM_PEER_URI_SAN: (r) => {
    const p = r.request.peer?.principal;
    return p === undefined ? undefined : p.startsWith('spiffe://') ? p : `spiffe://${p}`;
  },
  REQUESTED_SERVER_NAME: NONE,
  ROUTE_NAME: (r) => r.route,
  GRPC_STATUS_NUMBER: (r) => r.grpcStatus,
  HOSTNAME: () => HOSTNAME,
};

const HTTP_FIELDS: Fields<RequestRecord> = { values: GETTERS, header: requestHeader, start: (r, now) => now - r.ms };

function getterOf<R>(op: FormatOperator, fields: Fields<R>): Getter<R> {
  const requestHeader = fields.header;
  let get: Getter<R>;
  if (op.name === 'REQ' || op.name === 'REQ_WITHOUT_QUERY') {
    const { header, alternative } = op as Required<Pick<FormatOperator, 'header'>> & FormatOperator;
    const cut = op.name === 'REQ_WITHOUT_QUERY' ? withoutQuery : (v: string) => v;
    get = alternative
      ? (r) => {
          const v = requestHeader(r, header) ?? requestHeader(r, alternative);
          return v === undefined ? v : cut(v);
        }
      : (r) => {
          const v = requestHeader(r, header);
          return v === undefined ? v : cut(v);
        };
  } else if (op.name === 'RESP') get = NONE;
  else if (op.name === 'ENVIRONMENT') {
    // The proxy's environment does not change: read when the format is compiled.
    const value = process.env[op.variable ?? ''];
    get = () => value;
  } else if (op.name === 'START_TIME' && op.timeFormat !== undefined) {
    const write = compileStartTime(op.timeFormat);
    const start = fields.start;
    get = (r, now) => write(start(r, now));
  } else get = fields.values[op.name] ?? NONE;
  const max = op.maxLength;
  if (max === undefined) return get;
  return (r, now) => {
    const v = get(r, now);
    return typeof v === 'string' && v.length > max ? v.slice(0, max) : v;
  };
}

const text = (v: Value): string => (v === undefined || v === '' ? '-' : String(v));

function compileParts<R>(parts: readonly FormatPart[], fields: Fields<R>): LineOf<R> {
  const pieces = parts.map((p): Getter<R> => (typeof p === 'string' ? () => p : getterOf(p, fields)));
  if (pieces.length === 1) {
    const only = pieces[0];
    return (r, now) => text(only(r, now));
  }
  return (r, now) => {
    let out = '';
    for (let i = 0; i < pieces.length; i++) {
      const p = parts[i];
      out += typeof p === 'string' ? p : text(pieces[i](r, now));
    }
    return out;
  };
}

/** A text format: the line without Istio's trailing newline (the log adds one per line). */
export function compileTextFormat(format: string): LineOf;
export function compileTextFormat<R>(format: string, fields: Fields<R>): LineOf<R>;
export function compileTextFormat(format: string, fields: Fields<unknown> = HTTP_FIELDS as Fields<unknown>): LineOf<unknown> {
  return compileParts(parseAccessLogFormat(format.endsWith('\n') ? format.slice(0, -1) : format), fields);
}

function compileJsonValue<R>(value: JsonFormat[string], fields: Fields<R>): LineOf<R> {
  if (Array.isArray(value)) {
    const parts = value as FormatPart[];
    // An operator alone keeps its type (a number stays a number) and is null when absent.
    if (parts.length === 1 && typeof parts[0] !== 'string') {
      const op = parts[0];
      const get = getterOf(op, fields);
      const numeric = ACCESS_LOG_OPERATORS[op.name]?.kind === 'number';
      return (r, now) => {
        const v = get(r, now);
        return v === undefined || v === '' ? 'null' : numeric && typeof v === 'number' ? String(v) : JSON.stringify(String(v));
      };
    }
    const line = compileParts(parts, fields);
    return (r, now) => JSON.stringify(line(r, now));
  }
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    return () => text;
  }
  // Written as text directly, keys in the order given: no object per request, no JSON.stringify of one.
  const entries = Object.entries(value).map(([k, v], i) => [`${i ? ',' : '{'}${JSON.stringify(k)}:`, compileJsonValue(v, fields)] as const);
  if (!entries.length) return () => '{}';
  return (r, now) => {
    let out = '';
    for (const [key, text] of entries) out += key + text(r, now);
    return `${out}}`;
  };
}

/** A JSON format (labels): one JSON object per line. */
export function compileJsonFormat(labels: Readonly<Record<string, unknown>>): LineOf;
export function compileJsonFormat<R>(labels: Readonly<Record<string, unknown>>, fields: Fields<R>): LineOf<R>;
export function compileJsonFormat(
  labels: Readonly<Record<string, unknown>>,
  fields: Fields<unknown> = HTTP_FIELDS as Fields<unknown>,
): LineOf<unknown> {
  return compileJsonValue(parseJsonFormat(labels), fields);
}

/** A pushed log's format as two line functions: a request's, and a TCP connection's (Envoy's tcp_proxy writes the same format). */
export interface FormatLines {
  readonly request: LineOf;
  readonly connection: LineOf<ConnectionRecord>;
}

/** The line functions of a pushed log's format (checked by mastd: a format it could not parse never reaches a proxy). */
export function compileFormat(format: AccessLogConfig['format']): FormatLines {
  return 'text' in format
    ? { request: compileTextFormat(format.text), connection: compileTextFormat(format.text, TCP_FIELDS) }
    : { request: compileJsonFormat(format.json), connection: compileJsonFormat(format.json, TCP_FIELDS) };
}
