/**
 * One HTTP/2 connection, either role (RFC 9113): the preface, frames read and dispatched, header
 * blocks gathered across CONTINUATION and decoded, stream states and identifiers, SETTINGS, PING,
 * GOAWAY and RST_STREAM, flow control both ways, and the flood defences of limits.ts. Frames out go
 * through one FrameWriter (one write per turn). A connection error sends GOAWAY and closes; a
 * stream error resets that stream only; nothing a peer sends throws out of here.
 */
import type * as net from 'node:net';
import { H2ConnectionError, H2StreamError } from './errors';
import { FrameReader, type FrameSink } from './frame-reader';
import { FrameWriter } from './frame-writer';
import { CLIENT_PREFACE, DEFAULT_WINDOW, ErrorCode, Flag, FrameType, MAX_WINDOW } from './frames';
import { HpackDecoder } from './hpack-decoder';
import { HpackEncoder } from './hpack-encoder';
import { HeaderListTooLarge } from './hpack-errors';
import { type CodecLimits, DEFAULT_CODEC_LIMITS } from './limits';
import { checkRequest, checkResponse, checkTrailers } from './messages';
import { applySettings, parseSettings, PROTOCOL_DEFAULTS, type Settings, settingsPayload } from './settings';
import { H2Stream } from './stream';

export type Role = 'server' | 'client';

export interface SessionEvents {
  /** Server: a new request stream with its head. Set `s.handlers` before returning to get its body. */
  onStream?(s: H2Stream, flat: string[], endStream: boolean): void;
  /** The peer's GOAWAY: streams above `lastStreamId` were already reset as retryable. */
  onGoaway?(lastStreamId: number, code: number): void;
  /** The connection is closed; `error`: the connection error that closed it, if any. */
  onClose?(error?: H2ConnectionError): void;
}

const EMPTY = Buffer.alloc(0);

export class H2Session implements FrameSink {
  readonly limits: CodecLimits;
  readonly streams = new Map<number, H2Stream>();
  readonly local: Settings;
  readonly remote: Settings = { ...PROTOCOL_DEFAULTS };
  private readonly reader: FrameReader;
  readonly writer: FrameWriter;
  private readonly decoder: HpackDecoder;
  private readonly encoder: HpackEncoder;
  /** Bytes of the client preface still expected (server). */
  private prefaceLeft: number;
  /** The highest stream id the peer opened, and the next one we open. */
  lastPeerStreamId = 0;
  private nextStreamId: number;
  /** Streams the peer opened that are not closed (the concurrency bound counts these). */
  private peerOpen = 0;
  private localOpen = 0;
  /** The connection's windows: what we may send, what the peer may send, consumed not yet given back. */
  sendWindow = DEFAULT_WINDOW;
  private recvWindow: number;
  private unacked = 0;
  /** A header block being gathered: its stream, first frame's flags, fragments, size, CONTINUATION count. */
  private blockStream = 0;
  private blockFlags = 0;
  private blockParts: Buffer[] = [];
  private blockBytes = 0;
  private continuations = 0;
  private emptyInRow = 0;
  /** Control frames answered while the socket still held unwritten bytes. */
  private controlQueued = 0;
  private closedStreams = 0;
  private prematureResets = 0;
  /** Streams we reset lately: frames the peer sent before it saw the reset are dropped, not errors (§5.1 closed). */
  private readonly recentlyReset = new Set<number>();
  /** Streams with body queued for want of window. */
  private readonly blocked = new Set<H2Stream>();
  goawaySent = false;
  goawayReceived = false;
  /** The peer's GOAWAY last-stream-id (our streams above it were never processed). */
  peerLastStreamId = MAX_WINDOW;
  closed = false;

  constructor(
    readonly socket: net.Socket,
    readonly role: Role,
    readonly events: SessionEvents = {},
    limits: Partial<CodecLimits> = {},
  ) {
    this.limits = { ...DEFAULT_CODEC_LIMITS, ...limits };
    const l = this.limits;
    this.local = {
      headerTableSize: l.headerTableSize,
      enablePush: false,
      maxConcurrentStreams: l.maxConcurrentStreams,
      initialWindowSize: l.initialStreamWindowSize,
      maxFrameSize: l.maxFrameSize,
      maxHeaderListSize: l.maxHeaderListSize,
    };
    this.recvWindow = l.initialConnectionWindowSize;
    this.prefaceLeft = role === 'server' ? CLIENT_PREFACE.length : 0;
    this.nextStreamId = role === 'client' ? 1 : 2;
    this.reader = new FrameReader(this, l.maxFrameSize);
    this.writer = new FrameWriter(socket, () => this.afterFlush());
    this.decoder = new HpackDecoder({ maxTableSize: l.headerTableSize, maxHeaderListSize: l.maxHeaderListSize });
    this.encoder = new HpackEncoder({ maxTableSize: PROTOCOL_DEFAULTS.headerTableSize });
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.read(d));
    socket.on('drain', () => this.pumpAll());
    socket.on('error', () => undefined);
    socket.on('close', () => this.onSocketClose());
  }

  /** Sends our preface (client: the magic first) and SETTINGS; `first`: bytes already read from the socket. */
  start(first?: Buffer): this {
    if (this.role === 'client') this.socket.write(CLIENT_PREFACE);
    this.writer.frame(FrameType.SETTINGS, 0, 0, settingsPayload(this.local));
    const extra = this.limits.initialConnectionWindowSize - DEFAULT_WINDOW;
    if (extra > 0) this.writer.frame32(FrameType.WINDOW_UPDATE, 0, 0, extra);
    if (first?.length) this.read(first);
    return this;
  }

  private read(chunk: Buffer): void {
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
      if (!(err instanceof H2StreamError)) throw err;
      const s = this.streams.get(err.streamId);
      if (s) this.resetStream(s, err.errorCode, true);
      else this.rst(err.streamId, err.errorCode);
    }
  }

  // --- header blocks -------------------------------------------------------------------------

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
      if (this.recentlyReset.has(id)) return; // trailers in flight when we reset it
      throw new H2ConnectionError(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${id}`);
    }
    this.lastPeerStreamId = id;
    if (this.goawaySent) return;
    if (selfDependent) return this.rst(id, ErrorCode.PROTOCOL_ERROR);
    if (!flat) {
      // Too large a header list: answered as a server answers an HTTP/1.1 head too large.
      this.writeBlock(id, Flag.END_STREAM, [':status', '431']);
      if (!endStream) this.rst(id, ErrorCode.NO_ERROR);
      return;
    }
    if (this.peerOpen >= this.local.maxConcurrentStreams) return this.rst(id, ErrorCode.REFUSED_STREAM);
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
        if (endStream) throw new H2StreamError(s.id, ErrorCode.PROTOCOL_ERROR, 'informational head ends the stream');
        s.handlers.onHeaders?.(s, flat, false, false);
        return;
      }
      s.headReceived = true;
      s.expected = s.noBody || head.status === 204 || head.status === 304 ? -1 : head.contentLength;
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

  // --- DATA and flow control (in) ------------------------------------------------------------

  private onDataFrame(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (!id) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    const length = end - start;
    this.recvWindow -= length;
    if (this.recvWindow < 0) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window exceeded');
    const s = this.streams.get(id);
    if (!s || s.remoteEnded) {
      this.consumedConnection(length);
      if (this.isIdle(id)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      if (s || !this.recentlyReset.has(id)) throw new H2StreamError(id, ErrorCode.STREAM_CLOSED, 'DATA on a closed stream');
      return; // a stream we reset: its window is given back, its bytes dropped
    }
    s.recvWindow -= length;
    if (s.recvWindow < 0) {
      this.consumedConnection(length);
      throw new H2StreamError(id, ErrorCode.FLOW_CONTROL_ERROR, 'stream window exceeded');
    }
    if (flags & Flag.PADDED) {
      [start, end] = unpad(buf, start, end);
      if (length - (end - start)) this.consumed(s, length - (end - start));
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    this.countEmpty(end === start && !endStream);
    s.received += end - start;
    if (s.expected >= 0 && s.received > s.expected)
      throw new H2StreamError(id, ErrorCode.PROTOCOL_ERROR, 'body longer than content-length');
    if (endStream) this.remoteEnd(s);
    if (s.handlers.onData) s.handlers.onData(s, end > start ? buf.subarray(start, end) : EMPTY, endStream);
    else if (end > start) this.consumed(s, end - start);
    if (endStream) this.maybeClose(s);
  }

  /** A stream id the peer could not have used yet (§5.1 idle). */
  private isIdle(id: number): boolean {
    return (id % 2 === 1) === (this.role === 'server') ? id > this.lastPeerStreamId : id >= this.nextStreamId;
  }

  /** `n` bytes of `s` were consumed: windows given back once half of them is used (fewer WINDOW_UPDATEs). */
  consumed(s: H2Stream, n: number): void {
    if (n <= 0 || this.closed) return;
    this.consumedConnection(n);
    if (s.closed || s.remoteEnded) return;
    s.unacked += n;
    if (s.unacked >= this.local.initialWindowSize >> 1) {
      this.writer.frame32(FrameType.WINDOW_UPDATE, 0, s.id, s.unacked);
      s.recvWindow += s.unacked;
      s.unacked = 0;
    }
  }

  private consumedConnection(n: number): void {
    this.unacked += n;
    if (this.unacked >= this.limits.initialConnectionWindowSize >> 1) {
      this.writer.frame32(FrameType.WINDOW_UPDATE, 0, 0, this.unacked);
      this.recvWindow += this.unacked;
      this.unacked = 0;
    }
  }

  private onWindowUpdate(id: number, buf: Buffer, start: number, end: number): void {
    if (end - start !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
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

  // --- control frames ------------------------------------------------------------------------

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
    const delta = applySettings(this.remote, parseSettings(buf, start, end));
    this.encoder.setMaxTableSize(Math.min(this.remote.headerTableSize, PROTOCOL_DEFAULTS.headerTableSize));
    this.control(FrameType.SETTINGS, Flag.ACK, 0);
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

  /** A control frame answering the peer; too many while the peer does not read ends the connection. */
  private control(type: number, flags: number, id: number, buf?: Buffer, start?: number, end?: number): void {
    this.countControl();
    this.writer.frame(type, flags, id, buf, start, end);
  }

  private countControl(): void {
    if (++this.controlQueued > this.limits.maxOutboundControlFrames)
      throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'outbound control frames not read (flood)');
  }

  private afterFlush(): void {
    if (this.socket.writableLength === 0) this.controlQueued = 0;
  }

  private rst(id: number, code: number): void {
    this.recentlyReset.add(id);
    if (this.recentlyReset.size > 256) this.recentlyReset.delete(this.recentlyReset.values().next().value as number);
    this.countControl();
    this.writer.frame32(FrameType.RST_STREAM, 0, id, code);
  }

  // --- sending -------------------------------------------------------------------------------

  /** Client: opens a stream with a request head. Throws when the connection cannot take one (see canRequest). */
  request(flat: readonly string[], endStream = false): H2Stream {
    if (!this.canRequest()) throw new H2StreamError(this.nextStreamId, ErrorCode.REFUSED_STREAM, 'connection cannot open a stream');
    const s = new H2Stream(this, this.nextStreamId, this.local.initialWindowSize, this.remote.initialWindowSize);
    this.nextStreamId += 2;
    this.streams.set(s.id, s);
    this.localOpen++;
    this.sendHeaders(s, flat, endStream);
    return s;
  }

  /** Client: a new stream may be opened now (not going away, under the peer's concurrency, ids left). */
  canRequest(): boolean {
    return (
      !this.closed &&
      !this.goawayReceived &&
      !this.goawaySent &&
      this.localOpen < this.remote.maxConcurrentStreams &&
      this.nextStreamId < MAX_WINDOW
    );
  }

  /** Streams this side opened that are not closed (a pool's accounting). */
  get activeRequests(): number {
    return this.localOpen;
  }

  sendHeaders(s: H2Stream, flat: readonly string[], endStream: boolean): void {
    if (s.closed || s.localEnded) return;
    // An informational (1xx) response is not the answer the rapid-reset rule waits for.
    if (!(this.role === 'server' && flat[0] === ':status' && flat[1].startsWith('1'))) s.headSent = true;
    this.writeBlock(s.id, endStream ? Flag.END_STREAM : 0, flat);
    if (endStream) {
      s.localEnded = true;
      this.maybeClose(s);
    }
  }

  /** A header block as HEADERS and as many CONTINUATION as the peer's frame size needs, with nothing between. */
  private writeBlock(id: number, flags: number, flat: readonly string[]): void {
    const block = this.encoder.encode(flat);
    const max = this.remote.maxFrameSize;
    if (block.length <= max) return this.writer.frame(FrameType.HEADERS, flags | Flag.END_HEADERS, id, block);
    this.writer.frame(FrameType.HEADERS, flags, id, block, 0, max);
    for (let at = max; at < block.length; at += max) {
      const last = at + max >= block.length;
      this.writer.frame(FrameType.CONTINUATION, last ? Flag.END_HEADERS : 0, id, block, at, Math.min(at + max, block.length));
    }
  }

  sendData(s: H2Stream, chunk: Buffer | undefined, endStream: boolean): boolean {
    if (s.closed || s.localEnded || s.endQueued) return false;
    if (chunk?.length) {
      s.queue.push(chunk);
      s.queued += chunk.length;
    }
    if (endStream) s.endQueued = true;
    this.pump(s);
    return s.queued < this.limits.streamHighWaterMark;
  }

  sendTrailers(s: H2Stream, flat: readonly string[]): void {
    if (s.closed || s.localEnded || s.endQueued) return;
    s.trailersQueued = [...flat];
    s.endQueued = true;
    this.pump(s);
  }

  /** Moves what `s` holds into DATA frames as far as the windows, the frame size and the socket allow. */
  private pump(s: H2Stream): void {
    const max = this.remote.maxFrameSize;
    let sent = 0;
    while (s.queued > 0) {
      const room = Math.min(s.sendWindow, this.sendWindow, max);
      if (room <= 0 || this.socket.writableLength > this.limits.initialConnectionWindowSize) break;
      const head = s.queue[0];
      let piece: Buffer;
      if (head.length <= room) {
        piece = head;
        s.queue.shift();
      } else {
        piece = head.subarray(0, room);
        s.queue[0] = head.subarray(room);
      }
      s.queued -= piece.length;
      s.sendWindow -= piece.length;
      this.sendWindow -= piece.length;
      const last = s.queued === 0 && s.endQueued && !s.trailersQueued;
      this.writer.data(last ? Flag.END_STREAM : 0, s.id, piece);
      sent += piece.length;
      if (last) s.localEnded = true;
    }
    if (s.queued > 0) this.blocked.add(s);
    else {
      this.blocked.delete(s);
      if (s.endQueued && !s.localEnded) {
        if (s.trailersQueued) this.writeBlock(s.id, Flag.END_STREAM, s.trailersQueued);
        else this.writer.frame(FrameType.DATA, Flag.END_STREAM, s.id);
        s.localEnded = true;
      }
    }
    if (sent) s.handlers.onSent?.(s, sent);
    if (s.localEnded) this.maybeClose(s);
  }

  private pumpAll(): void {
    for (const s of this.blocked) {
      if (this.sendWindow <= 0) return;
      this.pump(s);
    }
  }

  // --- closing -------------------------------------------------------------------------------

  /** RST_STREAM `code` for `s`; `local`: a stream error found here, told to the stream's handlers. */
  resetStream(s: H2Stream, code: number, local: boolean): void {
    if (s.closed) return;
    this.rst(s.id, code);
    this.closeStream(s);
    if (local) s.handlers.onReset?.(s, code, false, true);
  }

  private maybeClose(s: H2Stream): void {
    if (s.localEnded && s.remoteEnded && !s.closed) this.closeStream(s);
  }

  private closeStream(s: H2Stream): void {
    if (s.closed) return;
    s.closed = true;
    this.streams.delete(s.id);
    this.blocked.delete(s);
    s.queue.length = 0;
    s.queued = 0;
    if ((s.id % 2 === 1) === (this.role === 'server')) this.peerOpen--;
    else this.localOpen--;
    this.closedStreams++;
    // What the peer sent but was not consumed is the connection's again.
    s.handlers.onClose?.(s);
    this.endIfDone();
  }

  /**
   * Graceful GOAWAY: streams the peer opened so far finish, newer ones are ignored (the peer
   * retries them elsewhere); the connection ends when the last one closes.
   */
  goAway(code: number = ErrorCode.NO_ERROR): void {
    if (this.goawaySent || this.closed) return;
    this.goawaySent = true;
    const payload = Buffer.allocUnsafe(8);
    payload.writeUInt32BE(this.lastPeerStreamId, 0);
    payload.writeUInt32BE(code, 4);
    this.writer.frame(FrameType.GOAWAY, 0, 0, payload);
    this.endIfDone();
  }

  private endIfDone(): void {
    if ((this.goawaySent || this.goawayReceived) && this.streams.size === 0 && !this.closed) {
      this.writer.flush();
      this.socket.end();
    }
  }

  /** A connection error: GOAWAY with its code, then the socket closed. */
  fail(err: H2ConnectionError): void {
    if (this.closed) return;
    if (!this.goawaySent) {
      this.goawaySent = true;
      const payload = Buffer.allocUnsafe(8);
      payload.writeUInt32BE(this.lastPeerStreamId, 0);
      payload.writeUInt32BE(err.errorCode, 4);
      this.writer.frame(FrameType.GOAWAY, 0, 0, payload);
    }
    this.writer.flush();
    this.socket.end();
    this.socket.destroySoon();
    this.onSocketClose(err);
  }

  private onSocketClose(err?: H2ConnectionError): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.streams.values()]) {
      this.closeStream(s);
      const retryable = s.id > this.peerLastStreamId && (s.id % 2 === 1) === (this.role === 'client');
      s.handlers.onReset?.(s, err?.errorCode ?? ErrorCode.CANCEL, retryable, false);
    }
    this.events.onClose?.(err);
  }

  /** Closes the connection at once (no GOAWAY). */
  destroy(): void {
    this.socket.destroy();
    this.onSocketClose();
  }
}

/** A padded payload's content range (§6.1): the pad length byte, then the content, then the padding. */
function unpad(buf: Buffer, start: number, end: number): [number, number] {
  if (end === start) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'padded frame without pad length');
  const pad = buf[start];
  if (pad >= end - start) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'padding longer than the payload');
  return [start + 1, end - pad];
}
