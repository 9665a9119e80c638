/**
 * An HTTP/2 try hands its exchange the response in the protocol's order, head → body → trailers
 * → end, whatever order Node's events come in. Node emits a client stream's 'response' a tick
 * after it decodes the HEADERS but pushes the DATA decoded with it at once, so under load 'data'
 * can come first (seen in the bench: a gRPC call's body written before its head made Node send an
 * implicit `:status: 200` head and drop the trailers). The stream here is a stand-in emitting
 * the events in that order; no socket is opened.
 */
import { EventEmitter } from 'node:events';
import type * as http2 from 'node:http2';
import type { Cluster } from '../../../../runtime/proxy/upstream/cluster';
import { Endpoint } from '../../../../runtime/proxy/upstream/cluster';
import type { HeaderList } from '../../../../runtime/proxy/h2/headers';
import { H2Try } from '../../../../runtime/proxy/h2/upstream-h2';
import type { TryOwner } from '../../../../runtime/proxy/h2/upstream-try';

/** Enough of a ClientHttp2Stream for a try: its events, and the calls a try makes on it. */
class StandInStream extends EventEmitter {
  closed = false;
  rstCode = 0;
  writableEnded = false;
  paused = false;
  push(_chunk: unknown): boolean {
    return true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  write(): boolean {
    return true;
  }
  end(): void {
    this.writableEnded = true;
  }
  close(code: number): void {
    this.closed = true;
    this.rstCode = code;
  }
  /** The server's END_STREAM: Node pushes the end while the stream is open, then emits 'end'. */
  endStream(): void {
    this.push(null);
    this.emit('end');
    this.closed = true;
    this.emit('close');
  }
}

/** A ClientHttp2Session's stand-in, made by the stubbed `http2.connect`: each request gets the stream `next` holds. */
class StandInSession extends EventEmitter {
  closed = false;
  destroyed = false;
  next?: StandInStream;
  request(): StandInStream {
    return this.next!;
  }
  setTimeout(): void {}
  close(): void {
    this.closed = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

const session = new StandInSession();
const http2Module: Record<string, unknown> = require('node:http2');
const realConnect = http2Module.connect;
// The pool's connect and idle timers are the fake clock's: none outlives the file.
beforeAll(() => {
  jest.useFakeTimers();
  http2Module.connect = () => session;
});
afterAll(() => {
  jest.useRealTimers();
  http2Module.connect = realConnect;
});

/** The stubbed pool grants a session at once: no refusal can come. */
const NEVER_REFUSED = {
  refused: () => {
    throw new Error('refused');
  },
};

/** A try on a stand-in stream (the real pool over a stand-in session), its owner writing down what it is told; `takesHead`: what the owner answers a head. */
function tryOnStandIn(takesHead = true) {
  const stream = (session.next = new StandInStream());
  const endpoint = new Endpoint({ address: '127.0.0.1', port: 1 } as never);
  const config = { name: 'c', endpoints: [], idleTimeoutMs: 60_000, connectTimeoutMs: 60_000 };
  const cluster = { config, endpoints: [endpoint], connect: () => undefined } as unknown as Cluster;
  const told: string[] = [];
  const owner: TryOwner = {
    head: (status: number, headers: HeaderList, end: boolean) => {
      told.push(`head ${status} ${headers.find(([n]) => n === 'content-type')?.[1]}${end ? ' end' : ''}`);
      // A head the exchange turns down (it retries) cancels the try, as Tries.retry does.
      if (!takesHead) t.cancel();
      return takesHead;
    },
    data: (chunk: Buffer) => (told.push(`data ${chunk}`), true),
    trailers: (headers: HeaderList) => told.push(`trailers ${headers.map(([n, v]) => `${n}=${v}`).join(' ')}`),
    end: () => told.push('end'),
    failed: (flag) => told.push(`failed ${flag}`),
    ready: () => undefined,
  };
  const request = { method: 'POST', path: '/echo.Echo/Unary', authority: 'echo', headers: [], teTrailers: true };
  const t = new H2Try(cluster, endpoint, owner, request as never, true);
  t.start(NEVER_REFUSED);
  return { stream, told };
}

/** A response head as Node hands it over (`:status` a number). */
const head = (status: number, more: Record<string, string> = {}) =>
  ({ ':status': status, ...more }) as unknown as http2.IncomingHttpHeaders;
const GRPC_HEAD = head(200, { 'content-type': 'application/grpc' });

describe('an HTTP/2 try passes the response on in order', () => {
  it('DATA that Node emits before the head it follows waits for the head, then the trailers and the end follow', () => {
    const { stream, told } = tryOnStandIn();
    stream.emit('data', Buffer.from('message'));
    expect(told).toEqual([]);
    stream.emit('response', GRPC_HEAD, 4);
    stream.emit('data', Buffer.from('more'));
    stream.emit('trailers', { 'grpc-status': '0' }, 5);
    stream.endStream();
    expect(told).toEqual(['head 200 application/grpc', 'data message', 'data more', 'trailers grpc-status=0', 'end']);
  });

  it('DATA in the usual order goes straight on', () => {
    const { stream, told } = tryOnStandIn();
    stream.emit('response', GRPC_HEAD, 4);
    stream.emit('data', Buffer.from('message'));
    expect(told).toEqual(['head 200 application/grpc', 'data message']);
  });

  it('early DATA of a head the exchange does not take (a retry follows) is not passed on', () => {
    const { stream, told } = tryOnStandIn(false);
    stream.emit('data', Buffer.from('message'));
    stream.emit('response', head(503), 4);
    stream.emit('data', Buffer.from('late'));
    expect(told).toEqual(['head 503 undefined']);
  });
});
