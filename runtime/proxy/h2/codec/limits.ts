/**
 * What one connection of the codec allows its peer, with Envoy's edge best-practice values as
 * defaults: 100 concurrent streams, a 64 KiB stream window, a 1 MiB connection window, a 60 KiB
 * header list (Envoy's `max_request_headers_kb`), 1000 queued outbound control frames, one empty
 * frame in a row, PRIORITY and WINDOW_UPDATE floods bounded as Envoy bounds them, and the
 * premature-reset rule of CVE-2023-44487.
 */
export interface CodecLimits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS the peer may open on this connection. @default 100 */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: what the peer may send on a stream before we consume it. @default 65536 */
  readonly initialStreamWindowSize: number;
  /** The connection's receive window, all streams together. @default 1048576 */
  readonly initialConnectionWindowSize: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE, also the HPACK decoder's bound on one decoded block. @default 61440 */
  readonly maxHeaderListSize: number;
  /** HPACK dynamic table size announced (SETTINGS_HEADER_TABLE_SIZE). @default 4096 */
  readonly headerTableSize: number;
  /** SETTINGS_MAX_FRAME_SIZE announced. @default 16384 */
  readonly maxFrameSize: number;
  /** CONTINUATION frames one header block may take (a CONTINUATION flood ends the connection). @default 32 */
  readonly maxContinuations: number;
  /** Control frames (PING/SETTINGS acks, RST_STREAM) queued while the peer does not read, before the connection is closed. @default 1000 */
  readonly maxOutboundControlFrames: number;
  /** Frames in a row with an empty payload and no END_STREAM (Envoy's `max_consecutive_inbound_frames_with_empty_payload`). @default 1 */
  readonly maxConsecutiveEmptyFrames: number;
  /** PRIORITY frames allowed per stream opened (plus one stream's worth), Envoy's `max_inbound_priority_frames_per_stream`. @default 100 */
  readonly maxInboundPriorityFramesPerStream: number;
  /** WINDOW_UPDATE frames allowed per DATA frame sent, Envoy's `max_inbound_window_update_frames_per_data_frame_sent`. @default 10 */
  readonly maxInboundWindowUpdateFramesPerDataFrameSent: number;
  /** Entries in one SETTINGS frame (node:http2's `maxSettings`). @default 32 */
  readonly maxSettingsEntries: number;
  /** Streams refused over the concurrency limit before the connection is closed (node:http2's `maxSessionRejectedStreams`). @default 100 */
  readonly maxRejectedStreams: number;
  /** Closed streams after which the connection is closed if half of them were reset prematurely by the peer. @default 500 */
  readonly prematureResetStreams: number;
  /** Bytes of a stream's outgoing body held beyond its send window before sendData says to wait. @default 65536 */
  readonly streamHighWaterMark: number;
}

export const DEFAULT_CODEC_LIMITS: CodecLimits = {
  maxConcurrentStreams: 100,
  initialStreamWindowSize: 65536,
  initialConnectionWindowSize: 1024 * 1024,
  maxHeaderListSize: 60 * 1024,
  headerTableSize: 4096,
  maxFrameSize: 16384,
  maxContinuations: 32,
  maxOutboundControlFrames: 1000,
  maxConsecutiveEmptyFrames: 1,
  maxInboundPriorityFramesPerStream: 100,
  maxInboundWindowUpdateFramesPerDataFrameSent: 10,
  maxSettingsEntries: 32,
  maxRejectedStreams: 100,
  prematureResetStreams: 500,
  streamHighWaterMark: 65536,
};
