/**
 * The codec's server role on bytes (RFC 9113): requests in, responses out, framing and
 * stream-identifier rules, malformed requests reset as §8.1.1 says. Header blocks are literal
 * (no Huffman, no table), as the test builds them by hand.
 */
import { CLIENT_PREFACE, ErrorCode, Flag, FrameType } from '../../../../../runtime/proxy/h2/codec/frames';
import type { H2Stream } from '../../../../../runtime/proxy/h2/codec/stream';
import type * as net from 'node:net';
import { H2StreamError } from '../../../../../runtime/proxy/h2/codec/errors';
import { H2Session } from '../../../../../runtime/proxy/h2/codec/session';
import { FakeSocket, type Frame, frame, frames, GET, literalBlock, session, u32 } from './wire';

const H = FrameType.HEADERS;
const END = Flag.END_STREAM | Flag.END_HEADERS;

function server() {
  const got: Array<{ s: H2Stream; head: string[]; end: boolean }> = [];
  const t = session('server', { onStream: (s, head, end) => void got.push({ s, head, end }) });
  return { ...t, got };
}

const goaway = (fs: Frame[]) => {
  const g = fs.find((f) => f.type === FrameType.GOAWAY);
  return g && { last: g.payload.readUInt32BE(0), code: g.payload.readUInt32BE(4) };
};
const rst = (fs: Frame[], id: number) => {
  const r = fs.find((f) => f.type === FrameType.RST_STREAM && f.id === id);
  return r?.payload.readUInt32BE(0);
};

describe('server role', () => {
  it('announces its settings and a 1 MiB connection window, and acknowledges the peer’s SETTINGS', () => {
    const sock = new FakeSocket();
    new H2Session(sock as unknown as net.Socket, 'server').start().writer.flush();
    const [settings, update] = frames(sock.take());
    expect(settings.type).toBe(FrameType.SETTINGS);
    const entries = new Map(
      Array.from({ length: settings.payload.length / 6 }, (_, i) => [
        settings.payload.readUInt16BE(i * 6),
        settings.payload.readUInt32BE(i * 6 + 2),
      ]),
    );
    expect(Object.fromEntries(entries)).toEqual({ 1: 4096, 2: 0, 3: 100, 4: 65536, 5: 16384, 6: 61440 });
    expect([update.type, update.id, update.payload.readUInt32BE(0)]).toEqual([FrameType.WINDOW_UPDATE, 0, (1 << 20) - 65535]);
    const t = session('server');
    const fs = t.feed(frame(FrameType.SETTINGS, 0, 0, [0, 4, 0, 0, 0x40, 0]));
    expect(fs.map((f) => [f.type, f.flags])).toEqual([[FrameType.SETTINGS, Flag.ACK]]);
  });

  it.each([
    ['a PING', frame(FrameType.PING, 0, 0, Buffer.alloc(8))],
    ['a request', frame(H, END, 1, literalBlock(GET))],
    ['a SETTINGS ACK', frame(FrameType.SETTINGS, Flag.ACK, 0)],
  ])('ends the connection when the preface is followed by %s instead of SETTINGS (§3.4)', (_what, first) => {
    const sock = new FakeSocket();
    const got: H2Stream[] = [];
    const s = new H2Session(sock as unknown as net.Socket, 'server', { onStream: (st) => void got.push(st) }).start();
    sock.emit('data', Buffer.concat([CLIENT_PREFACE, first]));
    s.writer.flush();
    expect(goaway(frames(sock.take()))?.code).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(got).toHaveLength(0);
  });

  it('never takes a stream error the application throws in a handler for one of its own (no RST_STREAM on an idle id)', () => {
    const t = session('server', {
      // e.g. request() on an upstream session refusing its stream 7
      onStream: () => {
        throw new H2StreamError(7, ErrorCode.REFUSED_STREAM, 'upstream cannot open a stream');
      },
    });
    const fs = t.feed(frame(H, END, 1, literalBlock(GET)));
    expect(fs.filter((f) => f.type === FrameType.RST_STREAM && f.id === 7)).toEqual([]);
    expect(goaway(fs)?.code).toBe(ErrorCode.INTERNAL_ERROR);
  });

  it('delivers a request head and writes the response as HEADERS then DATA with END_STREAM', () => {
    const { feed, got } = server();
    feed(frame(H, END, 1, literalBlock(GET)));
    expect(got).toHaveLength(1);
    expect(got[0].head).toEqual(GET);
    expect(got[0].end).toBe(true);
    got[0].s.sendHeaders([':status', '200', 'content-type', 'text/plain']);
    got[0].s.sendData(Buffer.from('hello'), true);
    const fs = feed();
    expect(fs.map((f) => [f.type, f.flags, f.id])).toEqual([
      [H, Flag.END_HEADERS, 1],
      [FrameType.DATA, Flag.END_STREAM, 1],
    ]);
    expect(fs[1].payload.toString()).toBe('hello');
    expect(got[0].s.closed).toBe(true);
  });

  it('gathers HEADERS and CONTINUATION into one block', () => {
    const { feed, got } = server();
    const block = literalBlock(GET);
    feed(frame(H, Flag.END_STREAM, 1, block.subarray(0, 5)), frame(FrameType.CONTINUATION, 0, 1, block.subarray(5, 20)));
    expect(got).toHaveLength(0);
    feed(frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(20)));
    expect(got[0].head).toEqual(GET);
  });

  it('ends the connection when any frame comes between HEADERS and its CONTINUATION', () => {
    const { feed } = server();
    const block = literalBlock(GET);
    const fs = feed(frame(H, Flag.END_STREAM, 1, block.subarray(0, 5)), frame(FrameType.PING, 0, 0, Buffer.alloc(8)));
    expect(goaway(fs)?.code).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  it('ends the connection on a CONTINUATION of another stream', () => {
    const { feed } = server();
    const block = literalBlock(GET);
    const fs = feed(
      frame(H, Flag.END_STREAM, 1, block.subarray(0, 5)),
      frame(FrameType.CONTINUATION, Flag.END_HEADERS, 3, block.subarray(5)),
    );
    expect(goaway(fs)?.code).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  it('takes padded HEADERS and DATA, the padding given back to the window', () => {
    const { feed, got } = server();
    const block = literalBlock([':method', 'POST', ':scheme', 'http', ':path', '/p', ':authority', 'a']);
    feed(frame(H, Flag.END_HEADERS | Flag.PADDED, 1, Buffer.concat([Buffer.from([3]), block, Buffer.alloc(3)])));
    const chunks: string[] = [];
    got[0].s.handlers.onData = (_s, c, end) => void chunks.push(`${c.toString()}${end ? '|end' : ''}`);
    feed(frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, Buffer.concat([Buffer.from([4]), Buffer.from('abc'), Buffer.alloc(4)])));
    expect(chunks).toEqual(['abc|end']);
  });

  it('ends the connection when the padding is longer than the frame', () => {
    const { feed } = server();
    const fs = feed(frame(H, END | Flag.PADDED, 1, Buffer.from([9, 0, 0])));
    expect(goaway(fs)?.code).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  it('parses PRIORITY (alone or in HEADERS) and ignores it; a stream depending on itself is reset', () => {
    const { feed, got } = server();
    expect(feed(frame(FrameType.PRIORITY, 0, 3, [0, 0, 0, 1, 16]))).toEqual([]);
    feed(frame(H, END | Flag.PRIORITY, 5, Buffer.concat([Buffer.from([0, 0, 0, 3, 255]), literalBlock(GET)])));
    expect(got.map((g) => g.s.id)).toEqual([5]);
    expect(rst(feed(frame(FrameType.PRIORITY, 0, 7, [0, 0, 0, 7, 16])), 7)).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(rst(feed(frame(FrameType.PRIORITY, 0, 9, [0, 0, 0, 1])), 9)).toBe(ErrorCode.FRAME_SIZE_ERROR);
  });

  it('ignores frames of an unknown type', () => {
    const { feed, got } = server();
    expect(feed(frame(0x42, 0xff, 0, [1, 2, 3]), frame(H, END, 1, literalBlock(GET)))).toEqual([]);
    expect(got).toHaveLength(1);
  });

  it('answers PING with an ACK carrying the same 8 bytes, and ignores a PING ACK', () => {
    const { feed } = server();
    const fs = feed(frame(FrameType.PING, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]), frame(FrameType.PING, Flag.ACK, 0, Buffer.alloc(8)));
    expect(fs).toHaveLength(1);
    expect([fs[0].type, fs[0].flags, [...fs[0].payload]]).toEqual([FrameType.PING, Flag.ACK, [1, 2, 3, 4, 5, 6, 7, 8]]);
    expect(goaway(feed(frame(FrameType.PING, 0, 0, [1])))?.code).toBe(ErrorCode.FRAME_SIZE_ERROR);
  });

  it('refuses frames larger than its SETTINGS_MAX_FRAME_SIZE', () => {
    const { feed } = server();
    expect(goaway(feed(frame(FrameType.DATA, 0, 1, Buffer.alloc(16385))))?.code).toBe(ErrorCode.FRAME_SIZE_ERROR);
  });

  it.each([
    ['an even stream id', 2],
    ['stream 0', 0],
  ])('ends the connection on a request with %s', (_what, id) => {
    const { feed } = server();
    expect(goaway(feed(frame(H, END, id, literalBlock(GET))))?.code).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  it('ends the connection when a client reuses a lower stream id', () => {
    const { feed, got } = server();
    feed(frame(H, END, 5, literalBlock(GET)));
    got[0].s.sendHeaders([':status', '204'], true);
    expect(goaway(feed(frame(H, END, 3, literalBlock(GET))))?.code).toBe(ErrorCode.STREAM_CLOSED);
  });

  it('ends the connection on DATA for a stream never opened', () => {
    const { feed } = server();
    expect(goaway(feed(frame(FrameType.DATA, 0, 1, [1])))?.code).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  it('drops what a client sent on a stream it had not yet seen reset, and gives its window back', () => {
    const { feed, got, s } = server();
    feed(frame(H, Flag.END_HEADERS, 1, literalBlock(GET)));
    got[0].s.reset(ErrorCode.CANCEL);
    expect(rst(feed(), 1)).toBe(ErrorCode.CANCEL);
    expect(feed(frame(FrameType.DATA, 0, 1, Buffer.alloc(100)), frame(H, END, 1, literalBlock(['x-t', '1'])))).toEqual([]);
    expect(s.closed).toBe(false);
  });

  it('surfaces the peer’s RST_STREAM code to the stream', () => {
    const { feed, got } = server();
    feed(frame(H, Flag.END_HEADERS, 1, literalBlock(GET)));
    const codes: number[] = [];
    got[0].s.handlers.onReset = (_s, code) => void codes.push(code);
    feed(frame(FrameType.RST_STREAM, 0, 1, u32(ErrorCode.CANCEL)));
    expect(codes).toEqual([ErrorCode.CANCEL]);
    expect(got[0].s.closed).toBe(true);
  });

  it('passes trailers, which must end the stream', () => {
    const { feed, got } = server();
    feed(frame(H, Flag.END_HEADERS, 1, literalBlock(GET)), frame(H, Flag.END_HEADERS, 3, literalBlock(GET)));
    const seen: Array<[string[], boolean]> = [];
    got[0].s.handlers.onHeaders = (_s, flat, _end, trailers) => void seen.push([flat, trailers]);
    feed(frame(H, END, 1, literalBlock(['grpc-status', '0'])));
    expect(seen).toEqual([[['grpc-status', '0'], true]]);
    expect(rst(feed(frame(H, Flag.END_HEADERS, 3, literalBlock(['x', 'y']))), 3)).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  describe('malformed requests are reset with PROTOCOL_ERROR (§8.1.1), the connection kept', () => {
    const cases: Array<[string, string[]]> = [
      ['no :path', [':method', 'GET', ':scheme', 'http', ':authority', 'a']],
      ['no :method', [':scheme', 'http', ':path', '/']],
      ['a duplicate :method', [...GET, ':method', 'GET']],
      ['a pseudo-header after a regular field', [':method', 'GET', 'x-a', '1', ':scheme', 'http', ':path', '/']],
      ['an unknown pseudo-header', [...GET, ':status', '200']],
      ['an upper-case name', [...GET, 'X-Upper', '1']],
      ['a connection header', [...GET, 'connection', 'keep-alive']],
      ['transfer-encoding', [...GET, 'transfer-encoding', 'chunked']],
      ['te other than trailers', [...GET, 'te', 'gzip']],
      ['a bad content-length', [...GET, 'content-length', '1x']],
      ['a body announced but END_STREAM on the head', [...GET, 'content-length', '3']],
      ['a value ending in a space', [...GET, 'x-a', 'v ']],
      ['a value ending in a tab', [...GET, 'x-a', 'v\t']],
      ['a value with a control character', [...GET, 'x-a', 'a\x01b']],
      ['a value with DEL', [...GET, 'x-a', 'a\x7fb']],
      ['a name that is not a token', [...GET, 'x(a)', '1']],
      [':protocol without CONNECT', [...GET, ':protocol', 'websocket']],
      [
        'extended CONNECT, which this codec does not announce (RFC 8441 §4)',
        [':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'https', ':path', '/chat', ':authority', 'a'],
      ],
      ['a :path that is neither absolute nor *', [':method', 'GET', ':scheme', 'http', ':authority', 'a', ':path', 'x/y']],
      ['a :path of * for another method than OPTIONS', [':method', 'GET', ':scheme', 'http', ':authority', 'a', ':path', '*']],
    ];
    it.each(cases)('%s', (_what, head) => {
      const { feed, got, s } = server();
      expect(rst(feed(frame(H, END, 1, literalBlock(head))), 1)).toBe(ErrorCode.PROTOCOL_ERROR);
      expect(got).toHaveLength(0);
      feed(frame(H, END, 3, literalBlock(GET)));
      expect(got.map((g) => g.s.id)).toEqual([3]);
      expect(s.closed).toBe(false);
    });

    it('but CONNECT with :authority alone, OPTIONS * and te: Trailers in any case are well-formed', () => {
      const { feed, got } = server();
      feed(
        frame(H, Flag.END_HEADERS, 1, literalBlock([':method', 'CONNECT', ':authority', 'a:443'])),
        frame(H, END, 3, literalBlock([':method', 'OPTIONS', ':scheme', 'http', ':authority', 'a', ':path', '*'])),
        frame(H, END, 5, literalBlock([...GET, 'te', 'Trailers'])),
      );
      expect(got.map((g) => g.s.id)).toEqual([1, 3, 5]);
    });

    it('a body longer or shorter than its content-length', () => {
      const { feed, got } = server();
      const post = [':method', 'POST', ':scheme', 'http', ':path', '/', 'content-length', '3'];
      feed(frame(H, Flag.END_HEADERS, 1, literalBlock(post)), frame(H, Flag.END_HEADERS, 3, literalBlock(post)));
      expect(rst(feed(frame(FrameType.DATA, 0, 1, Buffer.from('abcd'))), 1)).toBe(ErrorCode.PROTOCOL_ERROR);
      expect(rst(feed(frame(FrameType.DATA, Flag.END_STREAM, 3, Buffer.from('ab'))), 3)).toBe(ErrorCode.PROTOCOL_ERROR);
      expect(got.every((g) => g.s.closed)).toBe(true);
    });
  });

  it('a graceful GOAWAY names the last stream taken; streams opened after it are ignored, those before finish', () => {
    const { feed, got, s, sock } = server();
    feed(frame(H, Flag.END_HEADERS, 1, literalBlock(GET)));
    s.goAway();
    expect(goaway(feed())).toEqual({ last: 1, code: ErrorCode.NO_ERROR });
    feed(frame(H, END, 3, literalBlock(GET)));
    expect(got).toHaveLength(1);
    got[0].s.sendHeaders([':status', '200'], true);
    expect(sock.ended).toBe(false);
    feed(frame(FrameType.DATA, Flag.END_STREAM, 1));
    expect(sock.ended).toBe(true);
  });

  it('after its GOAWAY, ignores the later frames of streams above the last id, trailers too, and finishes the others', () => {
    const { feed, got, s, sock } = server();
    feed(frame(H, Flag.END_HEADERS, 1, literalBlock(GET)));
    s.goAway();
    feed();
    const fs = feed(
      frame(H, Flag.END_HEADERS, 3, literalBlock(GET)),
      frame(H, END, 3, literalBlock(['x-trailer', '1'])),
      frame(H, Flag.END_HEADERS, 5, literalBlock(GET)),
      frame(FrameType.DATA, Flag.END_STREAM, 5, Buffer.from('abc')),
    );
    expect(fs).toEqual([]);
    expect(s.closed).toBe(false);
    got[0].s.sendHeaders([':status', '200'], true);
    feed(frame(FrameType.DATA, Flag.END_STREAM, 1));
    expect(sock.ended).toBe(true);
  });

  it('a connection error after a graceful GOAWAY names the same last stream, never a higher one (§6.8)', () => {
    const { feed, s } = server();
    feed(frame(H, Flag.END_HEADERS, 1, literalBlock(GET)));
    s.goAway();
    expect(goaway(feed())).toEqual({ last: 1, code: ErrorCode.NO_ERROR });
    expect(goaway(feed(frame(H, END, 3, literalBlock(GET)), frame(FrameType.PING, 0, 1, Buffer.alloc(8))))).toEqual({
      last: 1,
      code: ErrorCode.PROTOCOL_ERROR,
    });
  });

  it('drains in two steps: GOAWAY 2^31-1 still takes streams in flight, the final one names the last taken', () => {
    const { feed, got, s, sock } = server();
    feed(frame(H, Flag.END_HEADERS, 1, literalBlock(GET)));
    s.goAway(ErrorCode.NO_ERROR, 0x7fffffff);
    expect(goaway(feed())).toEqual({ last: 0x7fffffff, code: ErrorCode.NO_ERROR });
    feed(frame(H, Flag.END_HEADERS, 3, literalBlock(GET)));
    expect(got.map((g) => g.s.id)).toEqual([1, 3]);
    s.goAway();
    expect(goaway(feed())).toEqual({ last: 3, code: ErrorCode.NO_ERROR });
    feed(frame(H, END, 5, literalBlock(GET)));
    expect(got).toHaveLength(2);
    for (const g of got) g.s.sendHeaders([':status', '200'], true);
    feed(frame(FrameType.DATA, Flag.END_STREAM, 1), frame(FrameType.DATA, Flag.END_STREAM, 3));
    expect(sock.ended).toBe(true);
  });

  it.each([
    ['WINDOW_UPDATE', frame(FrameType.WINDOW_UPDATE, 0, 7, u32(1))],
    ['RST_STREAM', frame(FrameType.RST_STREAM, 0, 7, u32(0))],
  ])('ends the connection on %s for an idle stream', (_what, f) => {
    expect(goaway(server().feed(f))?.code).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  it('resets a stream that sends HEADERS after its END_STREAM (STREAM_CLOSED)', () => {
    const { feed } = server();
    feed(frame(H, END, 1, literalBlock(GET)));
    expect(rst(feed(frame(H, END, 1, literalBlock(['x-a', '1']))), 1)).toBe(ErrorCode.STREAM_CLOSED);
  });

  it.each([
    ['SETTINGS on a stream', frame(FrameType.SETTINGS, 0, 1), ErrorCode.PROTOCOL_ERROR],
    ['SETTINGS ACK with a payload', frame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(6)), ErrorCode.FRAME_SIZE_ERROR],
    ['PING on a stream', frame(FrameType.PING, 0, 1, Buffer.alloc(8)), ErrorCode.PROTOCOL_ERROR],
    ['GOAWAY on a stream', frame(FrameType.GOAWAY, 0, 1, Buffer.alloc(8)), ErrorCode.PROTOCOL_ERROR],
    ['a PUSH_PROMISE from a client', frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, u32(2)), ErrorCode.PROTOCOL_ERROR],
  ])('ends the connection on %s', (_what, f, code) => {
    expect(goaway(server().feed(f))?.code).toBe(code);
  });

  it.each([
    ['a connection-specific field', [':status', '200', 'connection', 'close']],
    ['an upper-case name', [':status', '200', 'X-A', '1']],
    ['a pseudo-header after a regular field', ['x-a', '1', ':status', '200']],
  ])('resets its own stream (INTERNAL_ERROR) rather than send a head with %s', (_what, head) => {
    const { feed, got } = server();
    feed(frame(H, END, 1, literalBlock(GET)));
    const codes: string[] = [];
    got[0].s.handlers.onReset = (_s, code, _r, local) => void codes.push(`${code} ${local}`);
    got[0].s.sendHeaders(head, true);
    const fs = feed();
    expect(fs.map((f) => f.type)).toEqual([FrameType.RST_STREAM]);
    expect(codes).toEqual([`${ErrorCode.INTERNAL_ERROR} true`]);
  });
});
