/**
 * The flood and exhaustion defences of a codec connection, with Envoy's edge defaults
 * (limits.ts): each ends or bounds the offending connection (or stream) only.
 */
import { ErrorCode, Flag, FrameType } from '../../../../../runtime/proxy/h2/codec/frames';
import type { H2Stream } from '../../../../../runtime/proxy/h2/codec/stream';
import { type Frame, frame, GET, literalBlock, session, u32 } from './wire';

const H = FrameType.HEADERS;
const END = Flag.END_STREAM | Flag.END_HEADERS;
const goawayCode = (fs: Frame[]) => fs.find((f) => f.type === FrameType.GOAWAY)?.payload.readUInt32BE(4);

function server(limits = {}) {
  const streams: H2Stream[] = [];
  const t = session('server', { onStream: (s) => void streams.push(s) }, limits);
  return { ...t, streams };
}

describe('defences', () => {
  it('refuses the 101st concurrent stream (REFUSED_STREAM) and takes new ones once others close', () => {
    const { feed, streams } = server();
    const block = literalBlock(GET);
    const fs = feed(...Array.from({ length: 101 }, (_, i) => frame(H, END, 2 * i + 1, block)));
    expect(streams).toHaveLength(100);
    expect(fs.find((f) => f.type === FrameType.RST_STREAM)?.id).toBe(201);
    streams[0].sendHeaders([':status', '204'], true);
    feed(frame(H, END, 203, block));
    expect(streams.at(-1)?.id).toBe(203);
  });

  it('ends a CONTINUATION flood of empty frames (ENHANCE_YOUR_CALM) before it holds anything', () => {
    const { feed, s } = server();
    const fs = feed(
      frame(H, 0, 1, literalBlock(GET).subarray(0, 3)),
      ...Array.from({ length: 50 }, () => frame(FrameType.CONTINUATION, 0, 1)),
    );
    expect(goawayCode(fs)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(s.closed).toBe(true);
  });

  it('ends a CONTINUATION flood of tiny frames past 32 in one block', () => {
    const { feed } = server();
    const block = literalBlock(GET);
    const fs = feed(frame(H, 0, 1, block.subarray(0, 1)), ...Array.from({ length: 40 }, () => frame(FrameType.CONTINUATION, 0, 1, [0])));
    expect(goawayCode(fs)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('ends a header block that grows past the header-list bound across CONTINUATIONs', () => {
    const { feed } = server();
    const chunk = Buffer.alloc(16384, 0x61);
    const fs = feed(frame(H, 0, 1, chunk), ...Array.from({ length: 5 }, () => frame(FrameType.CONTINUATION, 0, 1, chunk)));
    expect(goawayCode(fs)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('answers a header list over SETTINGS_MAX_HEADER_LIST_SIZE with 431 and keeps the connection (HPACK state kept)', () => {
    const { feed, streams, s } = server({ maxHeaderListSize: 200 });
    const big = [...GET, 'x-a', 'a'.repeat(100), 'x-b', 'b'.repeat(100)];
    const fs = feed(frame(H, END, 1, literalBlock(big)));
    expect(fs.map((f) => [f.type, f.id])).toEqual([[H, 1]]);
    expect(streams).toHaveLength(0);
    feed(frame(H, END, 3, literalBlock(GET)));
    expect(streams.map((x) => x.id)).toEqual([3]);
    expect(s.closed).toBe(false);
  });

  it('ends a PING flood the peer does not read (1000 queued acks, as Envoy’s max outbound control frames)', () => {
    const { feed, sock } = server();
    sock.writableLength = 1 << 20; // the peer reads nothing
    const ping = frame(FrameType.PING, 0, 0, Buffer.alloc(8));
    expect(goawayCode(feed(...Array.from({ length: 1001 }, () => ping)))).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('ends a SETTINGS flood the same way', () => {
    const { feed, sock } = server();
    sock.writableLength = 1 << 20;
    const settings = frame(FrameType.SETTINGS, 0, 0);
    expect(goawayCode(feed(...Array.from({ length: 1001 }, () => settings)))).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('keeps answering PINGs a peer that reads sends over time', () => {
    const { feed, s } = server();
    const ping = frame(FrameType.PING, 0, 0, Buffer.alloc(8));
    for (let i = 0; i < 10; i++) expect(feed(...Array.from({ length: 500 }, () => ping))).toHaveLength(500);
    expect(s.closed).toBe(false);
  });

  it('ends a flood of empty DATA frames (more than one in a row)', () => {
    const { feed } = server();
    feed(frame(H, Flag.END_HEADERS, 1, literalBlock([':method', 'POST', ':scheme', 'http', ':path', '/'])));
    const empty = frame(FrameType.DATA, 0, 1);
    expect(goawayCode(feed(empty))).toBeUndefined();
    expect(goawayCode(feed(empty))).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('ends a rapid-reset connection (CVE-2023-44487): 500 streams closed, at least half reset before their response', () => {
    const { feed, s } = server();
    const block = literalBlock(GET);
    let fs: Frame[] = [];
    for (let i = 0; i < 500 && !s.closed; i++)
      fs = feed(frame(H, Flag.END_HEADERS, 2 * i + 1, block), frame(FrameType.RST_STREAM, 0, 2 * i + 1, u32(ErrorCode.CANCEL)));
    expect(goawayCode(fs)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('counts streams the client makes us reset before their response as premature too ("MadeYouReset", CVE-2025-8671)', () => {
    const { feed, s } = server();
    const block = literalBlock(GET);
    let fs: Frame[] = [];
    // Each request reaches the application, then a WINDOW_UPDATE of 0 makes the server reset it (a stream error).
    for (let i = 0; i < 500 && !s.closed; i++)
      fs = feed(frame(H, Flag.END_HEADERS, 2 * i + 1, block), frame(FrameType.WINDOW_UPDATE, 0, 2 * i + 1, u32(0)));
    expect(goawayCode(fs)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('keeps a connection whose streams are answered before the client cancels them', () => {
    const { feed, s, streams } = server();
    const block = literalBlock(GET);
    for (let i = 0; i < 1000; i++) {
      feed(frame(H, Flag.END_HEADERS, 2 * i + 1, block));
      streams[i].sendHeaders([':status', '200']);
      feed(frame(FrameType.RST_STREAM, 0, 2 * i + 1, u32(ErrorCode.CANCEL)));
    }
    expect(s.closed).toBe(false);
  });

  it('ends a PRIORITY flood: more than 100 per stream opened (Envoy’s bound)', () => {
    const { feed } = server();
    feed(frame(H, END, 1, literalBlock(GET)));
    const priority = (i: number) => frame(FrameType.PRIORITY, 0, 3 + 2 * (i % 50), [0, 0, 0, 1, 16]);
    expect(goawayCode(feed(...Array.from({ length: 200 }, (_, i) => priority(i))))).toBeUndefined();
    expect(goawayCode(feed(priority(0)))).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('ends a WINDOW_UPDATE flood: more than 5 + 2 × (streams + 10 per DATA frame sent)', () => {
    const { feed, streams } = server();
    feed(frame(H, END, 1, literalBlock(GET)));
    streams[0].sendHeaders([':status', '200']);
    streams[0].sendData(Buffer.alloc(10), true);
    feed();
    // 1 stream, 1 DATA frame sent: 5 + 2 × (1 + 10) = 27 allowed.
    const update = frame(FrameType.WINDOW_UPDATE, 0, 0, u32(1));
    expect(goawayCode(feed(...Array.from({ length: 27 }, () => update)))).toBeUndefined();
    expect(goawayCode(feed(update))).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('ends a connection whose client keeps opening streams past the limit (100 refused)', () => {
    const { feed } = server();
    const block = literalBlock(GET);
    const open = Array.from({ length: 100 }, (_, i) => frame(H, Flag.END_HEADERS, 2 * i + 1, block));
    expect(goawayCode(feed(...open))).toBeUndefined();
    const extra = (n: number) => Array.from({ length: n }, (_, i) => frame(H, Flag.END_HEADERS, 201 + 2 * i, block));
    const fs = feed(...extra(101));
    expect(fs.filter((f) => f.type === FrameType.RST_STREAM)).toHaveLength(100);
    expect(goawayCode(fs)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('ends a connection sent a SETTINGS frame of more than 32 entries', () => {
    const { feed } = server();
    expect(goawayCode(feed(frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(6 * 32))))).toBeUndefined();
    expect(goawayCode(feed(frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(6 * 33))))).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });
});
