/**
 * A try over HTTP/2: a stream on a pooled session (upstream-pool.ts) for the request, the response
 * head, body and trailers handed to the exchange as they come, flow control both ways (a full
 * client pauses the stream, whose window then stops the server). How a stream ends without a
 * response names Envoy's flags: refused by the server (REFUSED_STREAM, retryable as
 * `refused-stream`), reset (UR), its connection gone (UC), no connection at all (UF).
 */
import type * as http2 from 'node:http2';
import { CANCEL, FLAG_END_STREAM, INTERNAL_ERROR, REFUSED_STREAM } from './lazy-http2';
import { containedError } from '../contain';
import { failureReason } from '../failure-reason';
import { endStreamReceived, watchEndStream } from './end-stream';
import type { Cluster, Endpoint } from '../upstream/cluster';
import { h2RequestHeaders, type HeaderList, pairsOf, toObject, type UpstreamRequest } from './headers';
import { trailerFields } from './upstream-h1';
import { h2Pool, type H2Pool, type PooledSession } from './upstream-pool';
import type { TryOwner, UpstreamTry } from './upstream-try';

export class H2Try implements UpstreamTry {
  onDrain?: () => void;
  private stream?: http2.ClientHttp2Stream;
  private pooled?: PooledSession;
  private done = false;
  private responded = false;
  /** The stream's error, when it failed (its session's, for a connection that never came up: %UPSTREAM_TRANSPORT_FAILURE_REASON%). */
  streamError?: Error;
  /** The client's request trailers, sent when the body's last DATA has gone. */
  private trailers?: HeaderList;
  /**
   * DATA that came before the head it follows. Node emits a stream's 'response' a tick after it
   * decodes the HEADERS (process.nextTick) but pushes DATA decoded in the same pass at once: under
   * load 'data' can come first. Written to the client then, it made Node send an implicit head
   * (`:status: 200` alone) and end the stream without the upstream's trailers: the bench's gRPC
   * calls that came back HTTP 200 without grpc-status.
   */
  private early?: Buffer[];

  constructor(
    private readonly cluster: Cluster,
    private readonly endpoint: Endpoint,
    private readonly owner: TryOwner,
    private readonly req: UpstreamRequest,
    private readonly hasBody: boolean,
    /** The stream ends with the client's trailers, if it sends some; false: with the body's last DATA frame (the client's request is complete without any). */
    private readonly trailersMayFollow = hasBody,
  ) {}

  get endpointKey(): string {
    return this.endpoint.key;
  }

  /**
   * A stream on a pooled session: at once, or when one frees if the cluster is at its connection
   * limit (upstream-pool.ts); `refused` when the pending requests are already at their bound (UO).
   */
  start(tries: { refused(flag: 'UO'): void }): void {
    const pool = h2Pool(this.cluster, this.endpoint);
    // A session with room (the usual case): no wait, nothing to give up.
    const now = pool.available();
    if (now) return this.open(pool, now);
    let granted = false;
    const stop = pool.acquire((grant) => {
      granted = true;
      this.stopWaiting = undefined;
      if (grant === 'overflow') {
        this.done = true;
        return tries.refused('UO');
      }
      // The endpoint left the config while the request waited: as a refused stream, it may be tried again.
      if (grant === 'closed') return this.fail('UC', 503, 'refused-stream');
      this.open(pool, grant);
    });
    // Granted at once (past the pending bound): there is no wait to give up.
    if (!granted) this.stopWaiting = stop;
  }

  /** While the try waits for a stream: how to give up the wait. */
  private stopWaiting?: () => void;

  private open(pool: H2Pool, pooled: PooledSession): void {
    this.pooled = pooled;
    const r = this.req;
    const headers = h2RequestHeaders(r, { ':method': r.method, ':path': r.path, ':authority': r.authority });
    if (r.teTrailers) headers.te = 'trailers';
    let stream: http2.ClientHttp2Stream;
    try {
      // With a body that trailers may follow, the stream waits for them: the client's, if it sends some (none: the stream just ends).
      stream = pooled.session.request(headers, { endStream: !this.hasBody, waitForTrailers: this.trailersMayFollow });
    } catch {
      // The session went away between the pick and the request (GOAWAY, closed): as a refused stream, it may be tried again.
      pooled.retired = true;
      return this.fail('UC', 503, 'refused-stream');
    }
    this.stream = stream;
    watchEndStream(stream);
    pool.began(pooled);
    this.endpoint.active++;
    this.endpoint.requests++;
    // The listeners are the module's functions, the try found on the stream: a request makes no closures for them.
    (stream as TryStream)[TRY] = this;
    stream.on('response', onResponse);
    stream.on('data', onData);
    stream.on('trailers', onTrailers);
    stream.on('end', onEnd);
    if (this.trailersMayFollow) stream.on('wantTrailers', onWantTrailers);
    stream.on('error', onStreamError);
    stream.on('close', onClose);
    this.owner.ready();
  }

  /** The server's final head (1xx ones are not passed on), then any DATA that came before it, if the exchange took the head. */
  response(stream: http2.ClientHttp2Stream, h: http2.IncomingHttpHeaders, flags: number): void {
    const status = Number(h[':status']);
    if (status < 200) return;
    this.responded = true;
    const end = (flags & FLAG_END_STREAM) !== 0;
    const owner = this.owner;
    const taken = owner.receivedHead ? owner.receivedHead(status, h, end) : owner.head(status, pairsOf(h), end);
    const early = this.early;
    this.early = undefined;
    if (taken && early) for (const chunk of early) this.data(stream, chunk);
  }

  data(stream: http2.ClientHttp2Stream, chunk: Buffer): void {
    if (this.done) return;
    if (!this.responded) (this.early ??= []).push(chunk);
    else if (!this.owner.data(chunk)) stream.pause();
  }

  trailersIn(t: http2.IncomingHttpHeaders): void {
    if (this.done) return;
    const owner = this.owner;
    if (owner.receivedTrailers) owner.receivedTrailers(t);
    else owner.trailers(pairsOf(t));
  }

  ended(stream: http2.ClientHttp2Stream): void {
    if (this.done) return;
    // Node ends the readable side of a stream whose connection went mid-response too, or that the
    // server reset with NO_ERROR before END_STREAM (end-stream.ts): a response broken off, not its
    // end (gRPC calls came back a 200 without grpc-status that way, their trailers never sent).
    if (!endStreamReceived(stream)) return this.closedEarly(stream, this.pooled!);
    this.release();
    this.owner.end();
  }

  /** The request's body has gone: the client's trailers, if it sent some (none: the stream just ends). */
  sendTrailers(stream: http2.ClientHttp2Stream): void {
    try {
      stream.sendTrailers(toObject(trailerFields(this.trailers ?? [])));
    } catch {
      // A field the codec refuses (a connection-specific one): this stream is reset, not the session.
      resetStream(stream);
    }
  }

  closed(stream: http2.ClientHttp2Stream): void {
    if (!this.done) this.closedEarly(stream, this.pooled!);
  }

  write(chunk: Buffer): boolean {
    const stream = this.stream!;
    if (stream.write(chunk)) return true;
    // The first full window: from now on the stream's 'drain' resumes the client (most requests never get here).
    if (!this.drainHooked) {
      this.drainHooked = true;
      stream.on('drain', () => this.onDrain?.());
    }
    return false;
  }

  private drainHooked = false;

  endBody(trailers?: HeaderList): void {
    this.trailers = trailers;
    if (this.stream && !this.stream.writableEnded) this.stream.end();
  }

  resume(): void {
    this.stream?.resume();
  }

  cancel(): void {
    if (this.done) return;
    if (this.stopWaiting) {
      // Still waiting for a stream: nothing was counted on the endpoint or a session yet.
      this.stopWaiting();
      this.stopWaiting = undefined;
      this.done = true;
      return;
    }
    const stream = this.stream;
    this.release();
    if (stream && !stream.closed) stream.close(CANCEL);
  }

  /**
   * The stream closed without the server ending it: refused, reset by the server (UR, whatever its
   * RST_STREAM code: NO_ERROR too, as Envoy's codec reports any reset as a remote reset), or its
   * connection gone (UC).
   */
  private closedEarly(stream: http2.ClientHttp2Stream, pooled: PooledSession): void {
    const code = stream.rstCode;
    this.release();
    if (!pooled.connected) return this.owner.failed('UF', 503, 'connect-failure', this.streamError && failureReason(this.streamError));
    if (code === REFUSED_STREAM) return this.owner.failed('UR', 503, 'refused-stream');
    this.owner.failed(pooled.session.destroyed ? 'UC' : 'UR', 503, 'reset');
  }

  private fail(flag: 'UC', status: number, reason: 'refused-stream'): void {
    this.done = true;
    this.owner.failed(flag, status, reason);
  }

  private release(): void {
    if (this.done) return;
    this.done = true;
    this.endpoint.active--;
    if (this.pooled) h2Pool(this.cluster, this.endpoint).ended(this.pooled);
  }

  /** The try got a response head (a failure after it breaks off a response under way). */
  get answered(): boolean {
    return this.responded;
  }
}

const TRY = Symbol('mast.h2Try');
type TryStream = http2.ClientHttp2Stream & { [TRY]: H2Try };

const resetStream = (stream: http2.ClientHttp2Stream): void => {
  if (!stream.closed) stream.close(INTERNAL_ERROR);
};
/** Kept for the log's transport failure reason; the stream's 'close' decides what the failure means. */
function onStreamError(this: TryStream, err: Error): void {
  this[TRY].streamError = err;
}

// What the server sent reaches the try inside these: a throw resets that stream, not the process (contain.ts).
function onResponse(this: TryStream, h: http2.IncomingHttpHeaders, flags: number): void {
  try {
    this[TRY].response(this, h, flags);
  } catch (error) {
    containedError('upstream', () => resetStream(this), error);
  }
}
function onData(this: TryStream, chunk: Buffer): void {
  try {
    this[TRY].data(this, chunk);
  } catch (error) {
    containedError('upstream', () => resetStream(this), error);
  }
}
function onTrailers(this: TryStream, t: http2.IncomingHttpHeaders): void {
  try {
    this[TRY].trailersIn(t);
  } catch (error) {
    containedError('upstream', () => resetStream(this), error);
  }
}
function onEnd(this: TryStream): void {
  try {
    this[TRY].ended(this);
  } catch (error) {
    containedError('upstream', () => resetStream(this), error);
  }
}
function onWantTrailers(this: TryStream): void {
  this[TRY].sendTrailers(this);
}
function onClose(this: TryStream): void {
  this[TRY].closed(this);
}
