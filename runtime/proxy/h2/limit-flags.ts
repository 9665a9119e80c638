/**
 * The downstream HTTP/2 limits (limits.ts) as mast-proxy's command line sets them: the flags, their
 * help lines, and their values checked against the ranges Envoy accepts for the same settings, so a
 * bad value stops the proxy at start with the flag and the value named, never at the first client.
 */
import { DEFAULT_HTTP2_LIMITS, type Http2Limits } from './limits';

/** The largest HTTP/2 window or stream count (RFC 9113 §6.5.2, §6.9.1: 2^31 - 1). */
const MAX_31 = 2 ** 31 - 1;

interface LimitFlag {
  readonly key: keyof Http2Limits;
  readonly min: number;
  readonly max: number;
  readonly help: string;
}

/** Ranges as Envoy's Http2ProtocolOptions (and max_request_headers_kb's 8 MiB for the header list). */
const FLAGS: Readonly<Record<string, LimitFlag>> = {
  'h2-max-concurrent-streams': {
    key: 'maxConcurrentStreams',
    min: 1,
    max: MAX_31,
    help: `streams a client may have open on one HTTP/2 connection (default: ${DEFAULT_HTTP2_LIMITS.maxConcurrentStreams})`,
  },
  'h2-initial-stream-window': {
    key: 'initialStreamWindowSize',
    min: 65535,
    max: MAX_31,
    help: `bytes of one stream's request body a client may send ahead (default: ${DEFAULT_HTTP2_LIMITS.initialStreamWindowSize})`,
  },
  'h2-initial-connection-window': {
    key: 'initialConnectionWindowSize',
    min: 65535,
    max: MAX_31,
    help: `the same for all streams of a connection together (default: ${DEFAULT_HTTP2_LIMITS.initialConnectionWindowSize})`,
  },
  'h2-max-header-list-size': {
    key: 'maxHeaderListSize',
    min: 1024,
    max: 8 * 1024 * 1024,
    help: 'bytes of one request header list (default: 61440, as the HTTP/1.1 head)',
  },
  'h2-premature-reset-streams': {
    key: 'prematureResetStreams',
    min: 1,
    max: 1_000_000,
    help: `rapid reset: streams counted before a connection, half of them reset early, is closed (default: ${DEFAULT_HTTP2_LIMITS.prematureResetStreams})`,
  },
};

export class Http2FlagError extends Error {
  readonly code = 'MAST_PROXY_BAD_H2_FLAG';
}

/** The flags for `parseArgs`. */
export const HTTP2_FLAG_OPTIONS: Readonly<Record<string, { type: 'string' }>> = Object.fromEntries(
  Object.keys(FLAGS).map((name) => [name, { type: 'string' as const }]),
);

/** The help text's lines: each flag, its meaning below it in the description column. */
export const HTTP2_FLAG_HELP = Object.entries(FLAGS)
  .map(([name, f]) => `  --${name} <n>\n${' '.repeat(27)}${f.help}`)
  .join('\n');

/** The limits the flags set (those not given keep their defaults); throws Http2FlagError for a value out of range. */
export function http2LimitsFromFlags(values: Readonly<Record<string, unknown>>): Partial<Http2Limits> {
  const out: Record<string, number> = {};
  for (const [name, f] of Object.entries(FLAGS)) {
    const raw = values[name];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (typeof raw !== 'string' || raw.trim() === '' || !Number.isInteger(n) || n < f.min || n > f.max)
      throw new Http2FlagError(`--${name} must be a whole number from ${f.min} to ${f.max}, not "${String(raw)}"`);
    out[f.key] = n;
  }
  return out as Partial<Http2Limits>;
}
