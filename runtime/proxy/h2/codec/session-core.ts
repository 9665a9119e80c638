/**
 * What an HTTP/2 connection of either role holds and sends (RFC 9113): its streams and their
 * states, identifiers and windows, both sides' settings, the HPACK encoder, header blocks and DATA
 * out (as far as the peer's windows and the socket allow, one write per turn through FrameWriter),
 * windows given back as the application consumes, stream and connection closing, and GOAWAY.
 * Reading the peer's frames is session.ts's, on top of this.
 */
import type * as net from 'node:net';
import { H2ConnectionError, H2StreamError } from './errors';
import { FrameWriter } from './frame-writer';
import { CLIENT_PREFACE, DEFAULT_WINDOW, ErrorCode, Flag, FrameType, MAX_WINDOW } from './frames';
import { HpackEncoder } from './hpack-encoder';
import { type CodecLimits, DEFAULT_CODEC_LIMITS } from './limits';
import { outgoingProblem } from './messages';
import { PROTOCOL_DEFAULTS, type Settings, settingsPayload } from './settings';
import { H2Stream } from './stream';

export type Role = 'server' | 'client';

export interface SessionEvents {
  /** Server: a new request stream with its head. Set `s.handlers` before returning to get its body. */
  onStream?(s: H2Stream, flat: string[], endStream: boolean): void;
  /** The peer's SETTINGS were applied (a pool learns the peer's stream limit from `session.remote`). */
  onRemoteSettings?(): void;
  /** The peer's GOAWAY: streams above `lastStreamId` were already reset as retryable. */
  onGoaway?(lastStreamId: number, code: number): void;
  /** The connection is closed; `error`: the connection error that closed it, if any. */
  onClose?(error?: H2ConnectionError): void;
}

export abstract class H2SessionCore {
  readonly limits: CodecLimits;
  readonly streams = new Map<number, H2Stream>();
  readonly local: Settings;
  readonly remote: Settings = { ...PROTOCOL_DEFAULTS };
  readonly writer: FrameWriter;
  protected readonly encoder: HpackEncoder;
  /** The highest stream id the peer opened, and the next one we open. */
  lastPeerStreamId = 0;
  protected nextStreamId: number;
  /** Streams the peer opened that are not closed (the concurrency bound counts these), and ours. */
  protected peerOpen = 0;
  protected localOpen = 0;
  /** The connection's windows: what we may send, what the peer may send, consumed not yet given back. */
  sendWindow = DEFAULT_WINDOW;
  protected recvWindow: number;
  private unacked = 0;
  /** Control frames answered while the socket still held unwritten bytes. */
  private controlQueued = 0;
  protected closedStreams = 0;
  /** Streams opened by either side, and DATA frames sent (the flood bounds of session.ts scale with them). */
  protected openedStreams = 0;
  protected dataFramesSent = 0;
  /** Streams we reset lately: frames the peer sent before it saw the reset are dropped, not errors (§5.1 closed). */
  protected readonly recentlyReset = new Set<number>();
  /** Streams with body queued for want of window. */
  private readonly blocked = new Set<H2Stream>();
  goawaySent = false;
  /** The last-stream-id of the GOAWAY we sent: peer streams above it are ignored. */
  goawayLastId = MAX_WINDOW;
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
    this.nextStreamId = role === 'client' ? 1 : 2;
    this.writer = new FrameWriter(socket, () => this.afterFlush());
    this.encoder = new HpackEncoder({ maxTableSize: PROTOCOL_DEFAULTS.headerTableSize });
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.read(d));
    socket.on('drain', () => this.pumpAll());
    socket.on('error', () => undefined);
    socket.on('close', () => this.onSocketClose());
  }

  /** The peer's bytes (session.ts). */
  protected abstract read(chunk: Buffer): void;

  /** Sends our preface (client: the magic first) and SETTINGS; `first`: bytes already read from the socket. */
  start(first?: Buffer): this {
    if (this.role === 'client') this.socket.write(CLIENT_PREFACE);
    this.writer.frame(FrameType.SETTINGS, 0, 0, settingsPayload(this.local));
    const extra = this.limits.initialConnectionWindowSize - DEFAULT_WINDOW;
    if (extra > 0) this.writer.frame32(FrameType.WINDOW_UPDATE, 0, 0, extra);
    if (first?.length) this.read(first);
    return this;
  }

  /** `n` bytes of `s` were consumed: windows given back once half of them is used (fewer WINDOW_UPDATEs). */
  consumed(s: H2Stream, n: number): void {
    // A closed stream gave its bytes back to the connection when it closed.
    if (n <= 0 || this.closed || s.closed) return;
    n = Math.min(n, s.unconsumed);
    s.unconsumed -= n;
    this.consumedConnection(n);
    if (s.remoteEnded) return;
    s.unacked += n;
    if (s.unacked >= this.local.initialWindowSize >> 1) {
      this.writer.frame32(FrameType.WINDOW_UPDATE, 0, s.id, s.unacked);
      s.recvWindow += s.unacked;
      s.unacked = 0;
    }
  }

  protected consumedConnection(n: number): void {
    this.unacked += n;
    if (this.unacked >= this.limits.initialConnectionWindowSize >> 1) {
      this.writer.frame32(FrameType.WINDOW_UPDATE, 0, 0, this.unacked);
      this.recvWindow += this.unacked;
      this.unacked = 0;
    }
  }

  /** A control frame answering the peer; too many while the peer does not read ends the connection. */
  protected control(type: number, flags: number, id: number, buf?: Buffer, start?: number, end?: number): void {
    this.countControl();
    this.writer.frame(type, flags, id, buf, start, end);
  }

  protected countControl(): void {
    if (++this.controlQueued > this.limits.maxOutboundControlFrames)
      throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'outbound control frames not read (flood)');
  }

  protected afterFlush(): void {
    if (this.socket.writableLength === 0) this.controlQueued = 0;
  }

  protected rst(id: number, code: number): void {
    this.recentlyReset.add(id);
    if (this.recentlyReset.size > 256) this.recentlyReset.delete(this.recentlyReset.values().next().value as number);
    this.countControl();
    this.writer.frame32(FrameType.RST_STREAM, 0, id, code);
  }

  /** Client: opens a stream with a request head. Throws when the connection cannot take one (see canRequest). */
  request(flat: readonly string[], endStream = false): H2Stream {
    if (!this.canRequest()) throw new H2StreamError(this.nextStreamId, ErrorCode.REFUSED_STREAM, 'connection cannot open a stream');
    const why = outgoingProblem(flat);
    if (why) throw new H2StreamError(this.nextStreamId, ErrorCode.INTERNAL_ERROR, why);
    const s = new H2Stream(this, this.nextStreamId, this.local.initialWindowSize, this.remote.initialWindowSize);
    this.nextStreamId += 2;
    this.openedStreams++;
    // A response to HEAD has no body whatever its content-length says (RFC 9110 §9.3.2).
    for (let i = 0; i < flat.length; i += 2) if (flat[i] === ':method') s.noBody = flat[i + 1] === 'HEAD';
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

  /** A head (or 1xx); a block that cannot go on the wire (messages.ts outgoingProblem) resets the stream with INTERNAL_ERROR instead. */
  sendHeaders(s: H2Stream, flat: readonly string[], endStream: boolean): void {
    if (s.closed || s.localEnded) return;
    if (outgoingProblem(flat)) return this.resetStream(s, ErrorCode.INTERNAL_ERROR, true);
    // An informational (1xx) response is not the answer the rapid-reset rule waits for.
    if (!(this.role === 'server' && flat[0] === ':status' && flat[1].startsWith('1'))) s.headSent = true;
    this.writeBlock(s.id, endStream ? Flag.END_STREAM : 0, flat);
    if (endStream) {
      s.localEnded = true;
      this.maybeClose(s);
    }
  }

  /** A header block as HEADERS and as many CONTINUATION as the peer's frame size needs, with nothing between. */
  protected writeBlock(id: number, flags: number, flat: readonly string[]): void {
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
    if (outgoingProblem(flat) || flat[0]?.charCodeAt(0) === 0x3a) return this.resetStream(s, ErrorCode.INTERNAL_ERROR, true);
    s.trailersQueued = [...flat];
    s.endQueued = true;
    this.pump(s);
  }

  /** Moves what `s` holds into DATA frames as far as the windows, the frame size and the socket allow. */
  protected pump(s: H2Stream): void {
    const max = this.remote.maxFrameSize;
    const full = s.queued >= this.limits.streamHighWaterMark;
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
      this.dataFramesSent++;
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
    if (full && s.queued < this.limits.streamHighWaterMark) s.handlers.onDrain?.(s);
    if (s.localEnded) this.maybeClose(s);
  }

  protected pumpAll(): void {
    for (const s of this.blocked) {
      if (this.sendWindow <= 0) return;
      this.pump(s);
    }
  }

  /** RST_STREAM `code` for `s`; `local`: a stream error found here, told to the stream's handlers. */
  resetStream(s: H2Stream, code: number, local: boolean): void {
    if (s.closed) return;
    try {
      this.rst(s.id, code);
    } catch (err) {
      // Too many resets queued to a peer that does not read: this connection ends, not the caller's.
      if (!(err instanceof H2ConnectionError)) throw err;
      return this.fail(err);
    }
    this.closeStream(s);
    if (local) s.handlers.onReset?.(s, code, false, true);
  }

  protected maybeClose(s: H2Stream): void {
    if (s.localEnded && s.remoteEnded && !s.closed) this.closeStream(s);
  }

  protected closeStream(s: H2Stream): void {
    if (s.closed) return;
    s.closed = true;
    this.streams.delete(s.id);
    this.blocked.delete(s);
    s.queue.length = 0;
    s.queued = 0;
    if ((s.id % 2 === 1) === (this.role === 'server')) this.peerOpen--;
    else this.localOpen--;
    this.closedStreams++;
    // What the peer sent but was not consumed is the connection's again (a reset must not shrink
    // the connection's window for good).
    if (s.unconsumed && !this.closed) this.consumedConnection(s.unconsumed);
    s.unconsumed = 0;
    s.handlers.onClose?.(s);
    this.endIfDone();
  }

  /**
   * Graceful GOAWAY: streams the peer opened up to `lastStreamId` finish, newer ones are ignored
   * (the peer retries them elsewhere); the connection ends when the last one closes. A drain sends
   * 2^31-1 first (streams already in flight are still taken), then the final one (goaway.ts's two steps).
   */
  goAway(code: number = ErrorCode.NO_ERROR, lastStreamId = this.lastPeerStreamId): void {
    if (this.closed || (this.goawaySent && lastStreamId >= this.goawayLastId)) return;
    this.goawaySent = true;
    this.goawayLastId = lastStreamId;
    const payload = Buffer.allocUnsafe(8);
    payload.writeUInt32BE(lastStreamId, 0);
    payload.writeUInt32BE(code, 4);
    this.writer.frame(FrameType.GOAWAY, 0, 0, payload);
    this.endIfDone();
  }

  protected endIfDone(): void {
    const final = this.goawayReceived || (this.goawaySent && this.goawayLastId <= this.lastPeerStreamId);
    if (final && this.streams.size === 0 && !this.closed) {
      this.writer.flush();
      this.socket.end();
    }
  }

  /** A connection error: GOAWAY with its code, then the socket closed. */
  fail(err: H2ConnectionError): void {
    if (this.closed) return;
    this.goawaySent = true;
    const payload = Buffer.allocUnsafe(8);
    // Never above a GOAWAY already sent: the streams it left out stay unprocessed (§6.8).
    payload.writeUInt32BE(Math.min(this.lastPeerStreamId, this.goawayLastId), 0);
    payload.writeUInt32BE(err.errorCode, 4);
    this.writer.frame(FrameType.GOAWAY, 0, 0, payload);
    this.writer.flush();
    this.socket.end();
    this.socket.destroySoon();
    this.onSocketClose(err);
  }

  protected onSocketClose(err?: H2ConnectionError): void {
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
