/**
 * One HTTP/2 connection, either role (RFC 9113), as the peer's frames drive it: the preface,
 * frames read and dispatched, header blocks gathered across CONTINUATION and decoded, new streams
 * checked (identifiers, concurrency, §8.1.1 well-formedness), DATA against the windows and the
 * declared length, SETTINGS, PING, GOAWAY, RST_STREAM, WINDOW_UPDATE, and the flood defences of
 * limits.ts. What a connection holds and sends is session-core.ts's. A connection error sends
 * GOAWAY and closes; a stream error resets that stream only; nothing a peer sends throws out of here.
 */
import type * as net from 'node:net';
import { H2ConnectionError, H2StreamError } from './errors';
import { FrameReader, type FrameSink } from './frame-reader';
import { CLIENT_PREFACE, ErrorCode, Flag, FrameType, MAX_WINDOW, SettingId } from './frames';
import { HpackDecoder } from './hpack-decoder';
import { HeaderListTooLarge } from './hpack-errors';
import type { CodecLimits } from './limits';
import { checkRequest, checkResponse, checkTrailers } from './messages';
import { H2SessionCore, type Role, type SessionEvents } from './session-core';
import { applySettings, parseSettings, PROTOCOL_DEFAULTS } from './settings';
import { H2Stream } from './stream';

export type { Role, SessionEvents } from './session-core';

const EMPTY = Buffer.alloc(0);

export class H2Session extends H2SessionCore implements FrameSink {
  private readonly reader: FrameReader;
  private readonly decoder: HpackDecoder;
  /** Bytes of the client preface still expected (server). */
  private prefaceLeft: number;
  /** The peer's first SETTINGS came (its preface is complete). */
  private peerSettingsSeen = false;
  /** A header block being gathered: its stream, first frame's flags, fragments, size, CONTINUATION count. */
  private blockStream = 0;
  private blockFlags = 0;
  private blockParts: Buffer[] = [];
  private blockBytes = 0;
  private continuations = 0;
  private emptyInRow = 0;
  private prematureResets = 0;
  private rejectedStreams = 0;
  /** PRIORITY and WINDOW_UPDATE frames received (their floods are bounded as Envoy bounds them). */
  private inboundPriority = 0;
  private inboundWindowUpdates = 0;

  constructor(socket: net.Socket, role: Role, events: SessionEvents = {}, limits: Partial<CodecLimits> = {}) {
    super(socket, role, events, limits);
    const l = this.limits;
    this.prefaceLeft = role === 'server' ? CLIENT_PREFACE.length : 0;
    this.reader = new FrameReader(this, l.maxFrameSize);
    this.decoder = new HpackDecoder({ maxTableSize: l.headerTableSize, maxHeaderListSize: l.maxHeaderListSize });
  }

  protected read(chunk: Buffer): void {
    if (this.closed) return;
    try {
      if (this.prefaceLeft) {
        const n = Math.min(this.prefaceLeft, chunk.length);
        const at = CLIENT_PREFACE.length - this.prefaceLeft;
        if (chunk.compare(CLIENT_PREFACE, at, at + n, 0, n) !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'bad preface');
        this.prefaceLeft -= n;
        if (n === chunk.length) return;
        chunk = chunk.subarray(n);
      }
      this.reader.push(chunk);
    } catch (err) {
      this.fail(err instanceof H2ConnectionError ? err : new H2ConnectionError(ErrorCode.INTERNAL_ERROR, String(err)));
    }
  }

  frame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.closed) return;
    if (!this.peerSettingsSeen) {
      // The peer's preface ends with its SETTINGS, the first frame it sends (§3.4).
      if (type !== FrameType.SETTINGS || flags & Flag.ACK)
        throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'first frame not SETTINGS');
      this.peerSettingsSeen = true;
    }
    if (this.blockStream && type !== FrameType.CONTINUATION)
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'frame inside a header block');
    try {
      switch (type) {
        case FrameType.DATA:
          return this.onDataFrame(flags, id, buf, start, end);
        case FrameType.HEADERS:
          return this.onHeadersFrame(flags, id, buf, start, end);
        case FrameType.CONTINUATION:
          return this.onContinuation(flags, id, buf, start, end);
        case FrameType.PRIORITY:
          if (!id) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
          if (end - start !== 5) throw new H2StreamError(id, ErrorCode.FRAME_SIZE_ERROR, 'PRIORITY length');
          if (++this.inboundPriority > this.limits.maxInboundPriorityFramesPerStream * (1 + this.openedStreams))
            throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'PRIORITY frames flood');
          if ((buf.readUInt32BE(start) & 0x7fffffff) === id) throw new H2StreamError(id, ErrorCode.PROTOCOL_ERROR, 'depends on itself');
          return;
        case FrameType.RST_STREAM:
          return this.onRstStream(id, buf, start, end);
        case FrameType.SETTINGS:
          return this.onSettings(flags, id, buf, start, end);
        case FrameType.PUSH_PROMISE:
          throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE (push is off)');
        case FrameType.PING:
          return this.onPing(flags, id, buf, start, end);
        case FrameType.GOAWAY:
          return this.onGoaway(id, buf, start, end);
        case FrameType.WINDOW_UPDATE:
          return this.onWindowUpdate(id, buf, start, end);
        default:
          return; // unknown frame types are ignored (§4.1)
      }
    } catch (err) {
      // A stream error found here is about this frame's stream; one of another id came from a
      // handler (the application's, e.g. another session's request()) and ends this connection as any throw does.
      if (!(err instanceof H2StreamError) || err.streamId !== id) throw err;
      const s = this.streams.get(err.streamId);
      if (!s) return this.rst(err.streamId, err.errorCode);
      // A reset the peer provokes before the response is as premature as its own ("MadeYouReset", CVE-2025-8671).
      if (this.role === 'server' && !s.headSent) this.prematureResets++;
      this.resetStream(s, err.errorCode, true);
      this.checkPrematureResets();
    }
  }

  private onHeadersFrame(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (!id) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    if (flags & Flag.PADDED) [start, end] = unpad(buf, start, end);
    let selfDependent = false;
    if (flags & Flag.PRIORITY) {
      if (end - start < 5) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS priority');
      selfDependent = (buf.readUInt32BE(start) & 0x7fffffff) === id;
      start += 5;
    }
    this.countEmpty(end === start && !(flags & Flag.END_STREAM));
    if (flags & Flag.END_HEADERS) return this.onBlock(flags, id, buf, start, end, selfDependent);
    this.blockStream = id;
    this.blockFlags = flags | (selfDependent ? 0x100 : 0);
    this.blockParts = [Buffer.from(buf.subarray(start, end))];
    this.blockBytes = end - start;
    this.continuations = 0;
    this.checkBlockBound();
  }

  private onContinuation(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (!this.blockStream || id !== this.blockStream) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    this.continuations++;
    this.blockBytes += end - start;
    this.checkBlockBound();
    this.countEmpty(end === start && !(flags & Flag.END_HEADERS));
    this.blockParts.push(Buffer.from(buf.subarray(start, end)));
    if (!(flags & Flag.END_HEADERS)) return;
    const block = Buffer.concat(this.blockParts);
    const first = this.blockFlags;
    this.blockStream = 0;
    this.blockParts = [];
    this.onBlock(first, id, block, 0, block.length, (first & 0x100) !== 0);
  }

  /** A CONTINUATION flood: too many frames, or a block larger than a header list may be, ends the connection. */
  private checkBlockBound(): void {
    if (this.continuations > this.limits.maxContinuations || this.blockBytes > this.limits.maxHeaderListSize + this.limits.maxFrameSize)
      throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'header block too long (CONTINUATION flood)');
  }

  private countEmpty(empty: boolean): void {
    if (!empty) this.emptyInRow = 0;
    else if (++this.emptyInRow > this.limits.maxConsecutiveEmptyFrames)
      throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'empty frames in a row');
  }

  /** A whole header block of stream `id`: decoded (always: the HPACK table must stay in step), then applied. */
  private onBlock(flags: number, id: number, buf: Buffer, start: number, end: number, selfDependent: boolean): void {
    const endStream = (flags & Flag.END_STREAM) !== 0;
    let flat: string[] | undefined;
    try {
      flat = this.decoder.decode(buf, start, end);
    } catch (err) {
      if (!(err instanceof HeaderListTooLarge)) throw new H2ConnectionError(ErrorCode.COMPRESSION_ERROR, String(err));
    }
    const s = this.streams.get(id);
    if (s) return this.onStreamBlock(s, flat, endStream);
    if (this.role === 'client' || id % 2 === 0) {
      if (this.role === 'client' && id % 2 === 1 && id < this.nextStreamId) return; // a stream we closed
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${id} never opened`);
    }
    if (id <= this.lastPeerStreamId) {
      if (this.dropped(id)) return; // trailers in flight when we reset it, or of a stream our GOAWAY left out
      throw new H2ConnectionError(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${id}`);
    }
    this.lastPeerStreamId = id;
    this.openedStreams++;
    if (this.goawaySent && id > this.goawayLastId) return;
    if (selfDependent) return this.rst(id, ErrorCode.PROTOCOL_ERROR);
    if (!flat) {
      // Too large a header list: answered as a server answers an HTTP/1.1 head too large.
      this.writeBlock(id, Flag.END_STREAM, [':status', '431']);
      if (!endStream) this.rst(id, ErrorCode.NO_ERROR);
      return;
    }
    if (this.peerOpen >= this.local.maxConcurrentStreams) {
      // A client that keeps opening past the limit is flooding, not waiting (nghttp2's rejected-streams bound).
      if (++this.rejectedStreams > this.limits.maxRejectedStreams)
        throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too many streams over the concurrency limit');
      return this.rst(id, ErrorCode.REFUSED_STREAM);
    }
    const head = checkRequest(flat);
    if (typeof head === 'string' || (endStream && head.contentLength > 0)) return this.rst(id, ErrorCode.PROTOCOL_ERROR);
    const stream = new H2Stream(this, id, this.local.initialWindowSize, this.remote.initialWindowSize);
    stream.expected = head.contentLength;
    stream.headReceived = true;
    stream.remoteEnded = endStream;
    this.streams.set(id, stream);
    this.peerOpen++;
    this.events.onStream?.(stream, flat, endStream);
  }

  /** A header block on an open stream: a response head (client), or trailers. */
  private onStreamBlock(s: H2Stream, flat: string[] | undefined, endStream: boolean): void {
    if (s.remoteEnded) throw new H2StreamError(s.id, ErrorCode.STREAM_CLOSED, 'HEADERS after END_STREAM');
    if (!flat) throw new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, 'header list too large');
    let trailers = s.headReceived;
    if (!trailers) {
      const head = checkResponse(flat);
      if (typeof head === 'string') throw new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, head);
      if (head.status < 200) {
        if (head.status === 101) throw new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, '101 in HTTP/2');
        if (endStream) throw new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, 'informational head ends the stream');
        s.handlers.onHeaders?.(s, flat, false, false);
        return;
      }
      s.headReceived = true;
      // No body follows a response to HEAD, a 204 or a 304, whatever its content-length says (RFC 9110 §6.4.1).
      s.expected = s.noBody || head.status === 204 || head.status === 304 ? 0 : head.contentLength;
    } else {
      const why = checkTrailers(flat);
      if (why) throw new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, why);
      if (!endStream) throw new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, 'trailers without END_STREAM');
      trailers = true;
    }
    if (endStream) this.remoteEnd(s);
    s.handlers.onHeaders?.(s, flat, endStream, trailers);
    if (endStream) this.maybeClose(s);
  }

  /** The peer ended its half: its body must match the content-length it declared (§8.1.1). */
  private remoteEnd(s: H2Stream): void {
    if (s.expected >= 0 && s.received !== s.expected)
      throw new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, `body of ${s.received} bytes, content-length ${s.expected}`);
    s.remoteEnded = true;
  }

  private onDataFrame(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (!id) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    const length = end - start;
    this.recvWindow -= length;
    if (this.recvWindow < 0) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window exceeded');
    const s = this.streams.get(id);
    if (!s || s.remoteEnded) {
      this.consumedConnection(length);
      if (this.isIdle(id)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      if (s || !this.dropped(id)) throw new H2StreamError(id, ErrorCode.STREAM_CLOSED, 'DATA on a closed stream');
      return; // a stream we reset or left out: its window is given back, its bytes dropped
    }
    s.recvWindow -= length;
    if (s.recvWindow < 0 || !s.headReceived) {
      this.consumedConnection(length);
      if (!s.headReceived) throw new H2StreamError(id, ErrorCode.PROTOCOL_ERROR, 'DATA before the final response head');
      throw new H2StreamError(id, ErrorCode.FLOW_CONTROL_ERROR, 'stream window exceeded');
    }
    if (flags & Flag.PADDED) {
      [start, end] = unpad(buf, start, end);
      const padding = length - (end - start);
      // The padding is consumed at once: nobody will forward it.
      s.unconsumed += padding;
      this.consumed(s, padding);
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    this.countEmpty(end === start && !endStream);
    s.received += end - start;
    if ((s.expected >= 0 && s.received > s.expected) || (endStream && s.expected >= 0 && s.received !== s.expected)) {
      this.consumedConnection(end - start);
      throw new H2StreamError(id, ErrorCode.PROTOCOL_ERROR, `body of ${s.received} bytes, content-length ${s.expected}`);
    }
    if (endStream) this.remoteEnd(s);
    s.unconsumed += end - start;
    if (s.handlers.onData) s.handlers.onData(s, end > start ? buf.subarray(start, end) : EMPTY, endStream);
    else if (end > start) this.consumed(s, end - start);
    if (endStream) this.maybeClose(s);
  }

  /** A closed stream whose late frames are dropped: one we reset, or one the peer opened above our GOAWAY's last id (§6.8). */
  private dropped(id: number): boolean {
    return this.recentlyReset.has(id) || (this.goawaySent && id > this.goawayLastId && (id % 2 === 1) === (this.role === 'server'));
  }

  /** A stream id the peer could not have used yet (§5.1 idle). */
  private isIdle(id: number): boolean {
    return (id % 2 === 1) === (this.role === 'server') ? id > this.lastPeerStreamId : id >= this.nextStreamId;
  }

  private onWindowUpdate(id: number, buf: Buffer, start: number, end: number): void {
    if (end - start !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    // Envoy's bound: a few more than twice the streams opened and ten per DATA frame sent.
    const allowed = 5 + 2 * (this.openedStreams + this.limits.maxInboundWindowUpdateFramesPerDataFrameSent * this.dataFramesSent);
    if (++this.inboundWindowUpdates > allowed) throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'WINDOW_UPDATE frames flood');
    const inc = buf.readUInt32BE(start) & 0x7fffffff;
    if (!id) {
      if (!inc) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
      return this.pumpAll();
    }
    const s = this.streams.get(id);
    if (!s) {
      if (this.isIdle(id)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${id}`);
      return;
    }
    if (!inc) throw new H2StreamError(id, ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) throw new H2StreamError(id, ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
    if (s.queued || s.endQueued) this.pump(s);
  }

  private onRstStream(id: number, buf: Buffer, start: number, end: number): void {
    if (!id) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (end - start !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM length');
    const s = this.streams.get(id);
    if (!s) {
      if (this.isIdle(id)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
      return;
    }
    const code = buf.readUInt32BE(start);
    // Rapid reset (CVE-2023-44487): a request the peer cancels before it was answered.
    if (this.role === 'server' && !s.headSent) this.prematureResets++;
    this.closeStream(s);
    s.handlers.onReset?.(s, code, code === ErrorCode.REFUSED_STREAM, false);
    this.checkPrematureResets();
  }

  private checkPrematureResets(): void {
    const n = this.closedStreams;
    if (n >= this.limits.prematureResetStreams && this.prematureResets * 2 >= n)
      this.fail(new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too many streams reset before their response'));
  }

  private onSettings(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flag.ACK) {
      if (end !== start) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    const entries = parseSettings(buf, start, end);
    if (entries.length > this.limits.maxSettingsEntries)
      throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `${entries.length} settings in one frame`);
    // Only a client may ask for push: a server announcing it is a PROTOCOL_ERROR (§6.5.2).
    if (this.role === 'client' && entries.some(([k, v]) => k === SettingId.ENABLE_PUSH && v === 1))
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH 1 from a server');
    const delta = applySettings(this.remote, entries);
    this.encoder.setMaxTableSize(Math.min(this.remote.headerTableSize, PROTOCOL_DEFAULTS.headerTableSize));
    this.control(FrameType.SETTINGS, Flag.ACK, 0);
    this.events.onRemoteSettings?.();
    if (delta) {
      for (const s of this.streams.values()) {
        s.sendWindow += delta;
        if (s.sendWindow > MAX_WINDOW) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow by SETTINGS');
      }
      if (delta > 0) this.pumpAll();
    }
  }

  private onPing(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
    if (end - start !== 8) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING length');
    if (!(flags & Flag.ACK)) this.control(FrameType.PING, Flag.ACK, 0, buf, start, end);
  }

  private onGoaway(id: number, buf: Buffer, start: number, end: number): void {
    if (id) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (end - start < 8) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY length');
    const last = buf.readUInt32BE(start) & 0x7fffffff;
    const code = buf.readUInt32BE(start + 4);
    this.goawayReceived = true;
    this.peerLastStreamId = Math.min(this.peerLastStreamId, last);
    // Our streams above `last` were never processed: reset as retryable; those below finish.
    for (const s of [...this.streams.values()])
      if (s.id > last && (s.id % 2 === 1) === (this.role === 'client')) {
        this.closeStream(s);
        s.handlers.onReset?.(s, ErrorCode.REFUSED_STREAM, true, false);
      }
    this.events.onGoaway?.(last, code);
    this.endIfDone();
  }
}

/** A padded payload's content range (§6.1): the pad length byte, then the content, then the padding. */
function unpad(buf: Buffer, start: number, end: number): [number, number] {
  if (end === start) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'padded frame without pad length');
  const pad = buf[start];
  if (pad >= end - start) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'padding longer than the payload');
  return [start + 1, end - pad];
}
