/**
 * The HTTP/2 limits of a proxy, with Envoy's edge best-practice values as defaults (100 streams
 * per connection, 64 KiB stream window, 1 MiB connection window), and the `node:http2` server
 * options they make. nghttp2 enforces them; its own flood guards (pings, settings, invalid frames,
 * rejected streams, CONTINUATION frames, stream resets) are kept on, bounded here.
 */
import type { ServerOptions } from 'node:http2';

/** What of the proxy's limits (http/head.ts `Limits`) HTTP/2 reads: said here, so neither file imports the other. */
interface ProxyLimits {
  readonly maxHeadBytes: number;
  readonly maxHeaders: number;
  readonly http2?: Partial<Http2Limits>;
}

export interface Http2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams a client may have open on one connection. @default 100 */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: bytes of a stream's body the client may send before we read them. @default 65536 */
  readonly initialStreamWindowSize: number;
  /** The connection's receive window (all its streams together). @default 1048576 */
  readonly initialConnectionWindowSize: number;
  /** nghttp2's bound on what one session may hold (MB); a session over it is refused new streams. @default 10 */
  readonly maxSessionMemoryMb: number;
  /** PINGs not yet acknowledged (a ping flood is cut off past it). @default 10 */
  readonly maxOutstandingPings: number;
  /** Settings entries in one SETTINGS frame. @default 32 */
  readonly maxSettings: number;
  /** Invalid frames tolerated per session before it is closed. @default 1000 */
  readonly maxSessionInvalidFrames: number;
  /** Streams refused per session (over the stream limit, reset early) before it is closed. @default 100 */
  readonly maxSessionRejectedStreams: number;
  /**
   * Rapid reset (server.ts): once a session has closed this many streams, it is closed if at least
   * half of them the client reset prematurely (Envoy's `overload.premature_reset_total_stream_count`). @default 500
   */
  readonly prematureResetStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE in bytes. @default the proxy's `maxHeadBytes` (60 KiB, Envoy's `max_request_headers_kb`) */
  readonly maxHeaderListSize?: number;
}

export const DEFAULT_HTTP2_LIMITS: Http2Limits = {
  maxConcurrentStreams: 100,
  initialStreamWindowSize: 65536,
  initialConnectionWindowSize: 1024 * 1024,
  maxSessionMemoryMb: 10,
  maxOutstandingPings: 10,
  maxSettings: 32,
  maxSessionInvalidFrames: 1000,
  maxSessionRejectedStreams: 100,
  prematureResetStreams: 500,
};

/** The proxy's HTTP/2 limits: its own where set, else the defaults. */
export const http2Limits = (limits: ProxyLimits): Http2Limits => ({ ...DEFAULT_HTTP2_LIMITS, ...limits.http2 });

/**
 * The server options: the header list bounded as an HTTP/1.1 head is (`maxHeadBytes`, unless
 * `maxHeaderListSize` says otherwise; `maxHeaders` plus the four pseudo-headers), push off (a proxy never pushes).
 */
export function serverOptions(limits: ProxyLimits): ServerOptions {
  const h = http2Limits(limits);
  return {
    maxSessionMemory: h.maxSessionMemoryMb,
    maxOutstandingPings: h.maxOutstandingPings,
    maxSettings: h.maxSettings,
    maxSessionInvalidFrames: h.maxSessionInvalidFrames,
    maxSessionRejectedStreams: h.maxSessionRejectedStreams,
    maxHeaderListPairs: limits.maxHeaders + 4,
    peerMaxConcurrentStreams: h.maxConcurrentStreams,
    settings: {
      maxConcurrentStreams: h.maxConcurrentStreams,
      initialWindowSize: h.initialStreamWindowSize,
      maxHeaderListSize: h.maxHeaderListSize ?? limits.maxHeadBytes,
      enablePush: false,
    },
  } as ServerOptions;
}
