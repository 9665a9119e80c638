/**
 * SETTINGS (RFC 9113 §6.5): the values one side announces, their defaults, the limits a proxy
 * keeps by default (Envoy's edge best practice), and a SETTINGS payload read and checked.
 */
import { H2ConnectionError } from './errors';
import { DEFAULT_WINDOW, ErrorCode, MAX_MAX_FRAME_SIZE, MAX_WINDOW, MIN_MAX_FRAME_SIZE, SettingId } from './frames';

export interface Settings {
  headerTableSize: number;
  enablePush: boolean;
  maxConcurrentStreams: number;
  initialWindowSize: number;
  maxFrameSize: number;
  maxHeaderListSize: number;
}

/** What a peer's settings are until its SETTINGS frame says otherwise (§6.5.2; unlimited is the largest number). */
export const PROTOCOL_DEFAULTS: Settings = {
  headerTableSize: 4096,
  enablePush: true,
  maxConcurrentStreams: Number.MAX_SAFE_INTEGER,
  initialWindowSize: DEFAULT_WINDOW,
  maxFrameSize: MIN_MAX_FRAME_SIZE,
  maxHeaderListSize: Number.MAX_SAFE_INTEGER,
};

/** One SETTINGS frame's entries, in order: [id, value] pairs (an id this codec does not know is kept, and ignored). */
export function parseSettings(buf: Buffer, start: number, end: number): Array<[number, number]> {
  if ((end - start) % 6 !== 0) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length not a multiple of 6');
  const out: Array<[number, number]> = [];
  for (let at = start; at < end; at += 6) out.push([buf.readUInt16BE(at), buf.readUInt32BE(at + 2)]);
  return out;
}

/**
 * `into` with a peer's SETTINGS entries applied; checks each value (§6.5.2) and returns how much
 * SETTINGS_INITIAL_WINDOW_SIZE changed (the delta every open stream's send window takes, §6.9.2).
 */
export function applySettings(into: Settings, entries: Array<[number, number]>): number {
  let delta = 0;
  for (const [id, value] of entries) {
    switch (id) {
      case SettingId.HEADER_TABLE_SIZE:
        into.headerTableSize = value;
        break;
      case SettingId.ENABLE_PUSH:
        if (value > 1) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
        into.enablePush = value === 1;
        break;
      case SettingId.MAX_CONCURRENT_STREAMS:
        into.maxConcurrentStreams = value;
        break;
      case SettingId.INITIAL_WINDOW_SIZE:
        if (value > MAX_WINDOW) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value}`);
        delta += value - into.initialWindowSize;
        into.initialWindowSize = value;
        break;
      case SettingId.MAX_FRAME_SIZE:
        if (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE)
          throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}`);
        into.maxFrameSize = value;
        break;
      case SettingId.MAX_HEADER_LIST_SIZE:
        into.maxHeaderListSize = value;
        break;
    }
  }
  return delta;
}

/** A SETTINGS payload announcing `s` (every value, so the peer never relies on a default we assumed). */
export function settingsPayload(s: Settings): Buffer {
  const entries: Array<[number, number]> = [
    [SettingId.HEADER_TABLE_SIZE, s.headerTableSize],
    [SettingId.ENABLE_PUSH, s.enablePush ? 1 : 0],
    [SettingId.MAX_CONCURRENT_STREAMS, Math.min(s.maxConcurrentStreams, 0xffffffff)],
    [SettingId.INITIAL_WINDOW_SIZE, s.initialWindowSize],
    [SettingId.MAX_FRAME_SIZE, s.maxFrameSize],
    [SettingId.MAX_HEADER_LIST_SIZE, Math.min(s.maxHeaderListSize, 0xffffffff)],
  ];
  const buf = Buffer.allocUnsafe(entries.length * 6);
  entries.forEach(([id, v], i) => {
    buf.writeUInt16BE(id, i * 6);
    buf.writeUInt32BE(v, i * 6 + 2);
  });
  return buf;
}
