/**
 * The codec's client role on bytes: requests on odd, increasing stream ids; responses,
 * informational heads and trailers; RST_STREAM and GOAWAY told to each stream with whether it may
 * be retried elsewhere (§8.7); the peer's concurrency bound kept.
 */
import { ErrorCode, Flag, FrameType, SettingId } from '../../../../../runtime/proxy/h2/codec/frames';
import type { H2Stream } from '../../../../../runtime/proxy/h2/codec/stream';
import { CLIENT_PREFACE } from '../../../../../runtime/proxy/h2/codec/frames';
import type * as net from 'node:net';
import { H2Session } from '../../../../../runtime/proxy/h2/codec/session';
import { FakeSocket, frame, GET, literalBlock, session, u32 } from './wire';

const H = FrameType.HEADERS;
const END = Flag.END_STREAM | Flag.END_HEADERS;
const goawayFrame = (last: number, code: number) => frame(FrameType.GOAWAY, 0, 0, Buffer.concat([u32(last), u32(code)]));

function record(s: H2Stream) {
  const log: string[] = [];
  s.handlers = {
    onHeaders: (_s, flat, end, trailers) => void log.push(`${trailers ? 'trailers' : 'head'} ${flat.join(' ')}${end ? ' end' : ''}`),
    onData: (_s, c, end) => void log.push(`data ${c.toString()}${end ? ' end' : ''}`),
    onReset: (_s, code, retryable, local) => void log.push(`reset ${code}${retryable ? ' retryable' : ''}${local ? ' local' : ''}`),
    onClose: () => void log.push('close'),
  };
  return log;
}

describe('client role', () => {
  it('writes the preface, then its SETTINGS', () => {
    const sock = new FakeSocket();
    new H2Session(sock as unknown as net.Socket, 'client').start().writer.flush();
    const out = sock.take();
    expect(out.subarray(0, CLIENT_PREFACE.length).equals(CLIENT_PREFACE)).toBe(true);
    expect(out[CLIENT_PREFACE.length + 3]).toBe(FrameType.SETTINGS);
  });

  it('opens requests on odd, increasing stream ids', () => {
    const { s, feed } = session('client');
    const ids = [s.request(GET, true), s.request(GET, true), s.request(GET, true)].map((x) => x.id);
    expect(ids).toEqual([1, 3, 5]);
    expect(feed().map((f) => [f.type, f.id, f.flags])).toEqual([1, 3, 5].map((id) => [H, id, END]));
  });

  it('delivers an informational head, the response head, its body and trailers', () => {
    const { s, feed } = session('client');
    const r = s.request(GET, true);
    const log = record(r);
    feed(
      frame(H, Flag.END_HEADERS, 1, literalBlock([':status', '103', 'link', '</a>'])),
      frame(H, Flag.END_HEADERS, 1, literalBlock([':status', '200'])),
      frame(FrameType.DATA, 0, 1, Buffer.from('hi')),
      frame(H, END, 1, literalBlock(['grpc-status', '0'])),
    );
    expect(log).toEqual(['head :status 103 link </a>', 'head :status 200', 'data hi', 'trailers grpc-status 0 end', 'close']);
  });

  it('resets a response without :status (PROTOCOL_ERROR), telling the stream', () => {
    const { s, feed } = session('client');
    const log = record(s.request(GET, true));
    const fs = feed(frame(H, END, 1, literalBlock(['x-a', '1'])));
    expect(fs.find((f) => f.type === FrameType.RST_STREAM)?.payload.readUInt32BE(0)).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(log).toEqual(['close', `reset ${ErrorCode.PROTOCOL_ERROR} local`]);
  });

  it('resets a stream whose DATA comes before the final response head, after an informational one too (§8.1)', () => {
    const { s, feed } = session('client');
    const a = record(s.request(GET, true));
    const b = record(s.request(GET, true));
    const fs = feed(
      frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('body without a head')),
      frame(H, Flag.END_HEADERS, 3, literalBlock([':status', '103'])),
      frame(FrameType.DATA, 0, 3, Buffer.from('x')),
    );
    const resets = fs.filter((f) => f.type === FrameType.RST_STREAM).map((f) => [f.id, f.payload.readUInt32BE(0)]);
    expect(resets).toEqual([
      [1, ErrorCode.PROTOCOL_ERROR],
      [3, ErrorCode.PROTOCOL_ERROR],
    ]);
    expect(a).toEqual(['close', `reset ${ErrorCode.PROTOCOL_ERROR} local`]);
    expect(b).toEqual(['head :status 103', 'close', `reset ${ErrorCode.PROTOCOL_ERROR} local`]);
  });

  it('resets a 101 response: HTTP/2 has no Switching Protocols (§8.6)', () => {
    const { s, feed } = session('client');
    const log = record(s.request(GET, true));
    const fs = feed(frame(H, Flag.END_HEADERS, 1, literalBlock([':status', '101'])));
    expect(fs.find((f) => f.type === FrameType.RST_STREAM)?.payload.readUInt32BE(0)).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(log).toEqual(['close', `reset ${ErrorCode.PROTOCOL_ERROR} local`]);
  });

  it('surfaces RST_STREAM codes; REFUSED_STREAM is retryable', () => {
    const { s, feed } = session('client');
    const a = record(s.request(GET, true));
    const b = record(s.request(GET, true));
    feed(
      frame(FrameType.RST_STREAM, 0, 1, u32(ErrorCode.REFUSED_STREAM)),
      frame(FrameType.RST_STREAM, 0, 3, u32(ErrorCode.INTERNAL_ERROR)),
    );
    expect(a).toEqual(['close', `reset ${ErrorCode.REFUSED_STREAM} retryable`]);
    expect(b).toEqual(['close', `reset ${ErrorCode.INTERNAL_ERROR}`]);
  });

  it('on GOAWAY, streams above the last stream id are retryable, those at or below it finish, no new stream opens', () => {
    const { s, feed, sock } = session('client');
    const streams = [s.request(GET, true), s.request(GET, true), s.request(GET, true)];
    const logs = streams.map(record);
    const goaways: number[] = [];
    s.events.onGoaway = (last) => void goaways.push(last);
    feed(goawayFrame(3, ErrorCode.NO_ERROR));
    expect(goaways).toEqual([3]);
    expect(logs[2]).toEqual(['close', `reset ${ErrorCode.REFUSED_STREAM} retryable`]);
    expect(s.canRequest()).toBe(false);
    expect(() => s.request(GET)).toThrow(/REFUSED_STREAM/);
    feed(frame(H, END, 1, literalBlock([':status', '200'])));
    expect(sock.ended).toBe(false);
    feed(frame(H, END, 3, literalBlock([':status', '200'])));
    expect(logs[1]).toEqual(['head :status 200 end', 'close']);
    expect(sock.ended).toBe(true);
  });

  it('keeps to the peer’s SETTINGS_MAX_CONCURRENT_STREAMS', () => {
    const { s, feed } = session('client');
    const b = Buffer.alloc(6);
    b.writeUInt16BE(SettingId.MAX_CONCURRENT_STREAMS, 0);
    b.writeUInt32BE(2, 2);
    let told = 0;
    s.events.onRemoteSettings = () => void told++;
    feed(frame(FrameType.SETTINGS, 0, 0, b));
    expect(told).toBe(1);
    s.request(GET, true);
    s.request(GET, true);
    expect(s.canRequest()).toBe(false);
    expect(s.activeRequests).toBe(2);
    feed(frame(H, END, 1, literalBlock([':status', '204'])));
    expect(s.canRequest()).toBe(true);
  });

  it('ends the connection when a server announces SETTINGS_ENABLE_PUSH 1 (§6.5.2), and takes 0', () => {
    const push = (v: number) => frame(FrameType.SETTINGS, 0, 0, [0, SettingId.ENABLE_PUSH, 0, 0, 0, v]);
    const goaway = (t: ReturnType<typeof session>, v: number) => t.feed(push(v)).find((f) => f.type === FrameType.GOAWAY);
    expect(goaway(session('client'), 1)?.payload.readUInt32BE(4)).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(goaway(session('client'), 0)).toBeUndefined();
    expect(goaway(session('server'), 1)).toBeUndefined();
  });

  it('refuses a PUSH_PROMISE (push is off) and HEADERS on a stream it never opened', () => {
    expect(
      session('client')
        .feed(frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, [0, 0, 0, 2]))
        .find((f) => f.type === FrameType.GOAWAY)
        ?.payload.readUInt32BE(4),
    ).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(
      session('client')
        .feed(frame(H, END, 2, literalBlock([':status', '200'])))
        .find((f) => f.type === FrameType.GOAWAY)
        ?.payload.readUInt32BE(4),
    ).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  it('tells every open stream when the connection closes (CANCEL, not retryable: the peer took it)', () => {
    const { s, feed, sock } = session('client');
    const a = record(s.request(GET, true));
    feed(goawayFrame(1, ErrorCode.NO_ERROR));
    sock.emit('close');
    expect(a).toEqual(['close', `reset ${ErrorCode.CANCEL}`]);
  });

  it('checks a response body against its content-length, except after HEAD', () => {
    const { s, feed } = session('client');
    const get = record(s.request(GET, true));
    const head = record(s.request([':method', 'HEAD', ':scheme', 'http', ':authority', 'a', ':path', '/'], true));
    const fs = feed(
      frame(H, Flag.END_HEADERS, 1, literalBlock([':status', '200', 'content-length', '5'])),
      frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('abc')),
      frame(H, END, 3, literalBlock([':status', '200', 'content-length', '5'])),
    );
    expect(fs.find((f) => f.type === FrameType.RST_STREAM)?.id).toBe(1);
    expect(get.at(-1)).toBe(`reset ${ErrorCode.PROTOCOL_ERROR} local`);
    expect(head).toEqual(['head :status 200 content-length 5 end', 'close']);
  });

  it('resets a response to HEAD, a 204 or a 304 that carries a body (RFC 9110 §6.4.1)', () => {
    const { s, feed } = session('client');
    const head = record(s.request([':method', 'HEAD', ':scheme', 'http', ':authority', 'a', ':path', '/'], true));
    const noContent = record(s.request(GET, true));
    const notModified = record(s.request(GET, true));
    const fs = feed(
      frame(H, Flag.END_HEADERS, 1, literalBlock([':status', '200', 'content-length', '5'])),
      frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('hello')),
      frame(H, Flag.END_HEADERS, 3, literalBlock([':status', '204'])),
      frame(FrameType.DATA, Flag.END_STREAM, 3, Buffer.from('x')),
      frame(H, Flag.END_HEADERS, 5, literalBlock([':status', '304'])),
      frame(FrameType.DATA, Flag.END_STREAM, 5),
    );
    expect(fs.filter((f) => f.type === FrameType.RST_STREAM).map((f) => f.id)).toEqual([1, 3]);
    for (const log of [head, noContent]) expect(log.at(-1)).toBe(`reset ${ErrorCode.PROTOCOL_ERROR} local`);
    expect(notModified).toEqual(['head :status 304', 'data  end', 'close']);
  });

  it('refuses to open a request whose head cannot go on the wire, and opens no stream', () => {
    const { s, feed } = session('client');
    expect(() => s.request([...GET, 'transfer-encoding', 'chunked'])).toThrow(/transfer-encoding/);
    expect(feed()).toEqual([]);
    expect(s.request(GET, true).id).toBe(1);
  });
});
