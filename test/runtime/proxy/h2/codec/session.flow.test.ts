/**
 * Flow control both ways (RFC 9113 §5.2, §6.9): a sender stops at a zero window and resumes on
 * WINDOW_UPDATE; SETTINGS_INITIAL_WINDOW_SIZE changes open streams' windows; overflows are
 * FLOW_CONTROL_ERROR; what the peer may send is given back only as the application consumes it.
 */
import { ErrorCode, Flag, FrameType, SettingId } from '../../../../../runtime/proxy/h2/codec/frames';
import type { H2Stream } from '../../../../../runtime/proxy/h2/codec/stream';
import { type Frame, frame, GET, literalBlock, session, u32 } from './wire';

const H = FrameType.HEADERS;
const setting = (id: number, value: number) => {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(id, 0);
  b.writeUInt32BE(value, 2);
  return frame(FrameType.SETTINGS, 0, 0, b);
};
const dataBytes = (fs: Frame[], id: number) =>
  fs.filter((f) => f.type === FrameType.DATA && f.id === id).reduce((n, f) => n + f.payload.length, 0);
const updates = (fs: Frame[]) => fs.filter((f) => f.type === FrameType.WINDOW_UPDATE).map((f) => [f.id, f.payload.readUInt32BE(0)]);

/** A server with one open request stream, the client's initial stream window `window`. */
function open(window = 65535) {
  let stream: H2Stream | undefined;
  const t = session('server', { onStream: (s) => void (stream = s) });
  t.feed(setting(SettingId.INITIAL_WINDOW_SIZE, window), frame(H, Flag.END_HEADERS, 1, literalBlock(GET)));
  if (!stream) throw new Error('no stream');
  stream.sendHeaders([':status', '200']);
  t.feed();
  return { ...t, stream };
}

describe('sending: the peer’s windows', () => {
  it('stops at a zero stream window, holds the rest, and resumes on WINDOW_UPDATE', () => {
    const { feed, stream } = open(100);
    const sent: number[] = [];
    stream.handlers.onSent = (_s, n) => void sent.push(n);
    expect(stream.sendData(Buffer.alloc(250), true)).toBe(true);
    const fs = feed();
    expect(dataBytes(fs, 1)).toBe(100);
    expect(fs.some((f) => f.flags & Flag.END_STREAM)).toBe(false);
    expect(stream.queued).toBe(150);
    const more = feed(frame(FrameType.WINDOW_UPDATE, 0, 1, u32(200)));
    expect(dataBytes(more, 1)).toBe(150);
    expect(more.at(-1)?.flags).toBe(Flag.END_STREAM);
    expect(sent).toEqual([100, 150]);
  });

  it('stops at a zero connection window across streams', () => {
    const { feed, stream, s } = open(1 << 20);
    stream.sendData(Buffer.alloc(70000));
    expect(dataBytes(feed(), 1)).toBe(65535);
    expect(s.sendWindow).toBe(0);
    expect(dataBytes(feed(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(1000))), 1)).toBe(1000);
  });

  it('never sends a DATA frame larger than the peer’s SETTINGS_MAX_FRAME_SIZE', () => {
    const { feed, stream } = open(1 << 20);
    feed(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(1 << 20)));
    stream.sendData(Buffer.alloc(40000), true);
    expect(
      feed()
        .filter((f) => f.type === FrameType.DATA)
        .map((f) => f.payload.length),
    ).toEqual([16384, 16384, 7232]);
  });

  it('applies a new SETTINGS_INITIAL_WINDOW_SIZE to open streams, even below zero (§6.9.2)', () => {
    const { feed, stream } = open(100);
    stream.sendData(Buffer.alloc(300));
    expect(dataBytes(feed(), 1)).toBe(100);
    // 100 sent with a window of 100; the window now 50: 50 - 100 = -50, nothing may go.
    expect(dataBytes(feed(setting(SettingId.INITIAL_WINDOW_SIZE, 50)), 1)).toBe(0);
    expect(stream.sendWindow).toBe(-50);
    expect(dataBytes(feed(setting(SettingId.INITIAL_WINDOW_SIZE, 250)), 1)).toBe(150);
  });

  it('a stream WINDOW_UPDATE past 2^31-1 resets the stream with FLOW_CONTROL_ERROR', () => {
    const { feed } = open(100);
    const fs = feed(frame(FrameType.WINDOW_UPDATE, 0, 1, u32(0x7fffffff)));
    expect(fs.find((f) => f.type === FrameType.RST_STREAM)?.payload.readUInt32BE(0)).toBe(ErrorCode.FLOW_CONTROL_ERROR);
  });

  it('a connection WINDOW_UPDATE past 2^31-1 ends the connection with FLOW_CONTROL_ERROR', () => {
    const { feed } = open(100);
    const fs = feed(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff)));
    expect(fs.find((f) => f.type === FrameType.GOAWAY)?.payload.readUInt32BE(4)).toBe(ErrorCode.FLOW_CONTROL_ERROR);
  });

  it('a WINDOW_UPDATE of 0 is a PROTOCOL_ERROR (stream: reset; connection: GOAWAY)', () => {
    const { feed } = open(100);
    expect(
      feed(frame(FrameType.WINDOW_UPDATE, 0, 1, u32(0)))
        .find((f) => f.type === FrameType.RST_STREAM)
        ?.payload.readUInt32BE(0),
    ).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(
      feed(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0)))
        .find((f) => f.type === FrameType.GOAWAY)
        ?.payload.readUInt32BE(4),
    ).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  it('says to wait when more than the high-water mark is held, and memory stays that bounded while the peer reads nothing', () => {
    const { feed, stream } = open(0);
    let accepted = 0;
    // A well-behaved producer: it stops when sendData says so.
    for (let i = 0; i < 1000 && stream.sendData(Buffer.alloc(16384)); i++) accepted++;
    feed();
    expect(stream.queued).toBeLessThanOrEqual(65536 + 16384);
    expect(accepted).toBeLessThan(5);
    let drained = 0;
    stream.handlers.onDrain = () => void drained++;
    expect(stream.queued).toBe(65536);
    feed(frame(FrameType.WINDOW_UPDATE, 0, 1, u32(1)));
    expect(drained).toBe(1); // one byte out: below the mark, the producer may go on
    feed(frame(FrameType.WINDOW_UPDATE, 0, 1, u32(1)));
    expect(drained).toBe(1); // told once per crossing
  });
});

describe('receiving: our windows', () => {
  it('gives the window back only for bytes the application consumed, in batches of half a window', () => {
    const t = session('server', {
      onStream: (s) => {
        s.handlers.onData = (_s, c) => void got.push(c.length);
        streams.push(s);
      },
    });
    const got: number[] = [];
    const streams: H2Stream[] = [];
    t.feed(frame(H, Flag.END_HEADERS, 1, literalBlock([':method', 'POST', ':scheme', 'http', ':path', '/'])));
    expect(updates(t.feed(frame(FrameType.DATA, 0, 1, Buffer.alloc(16384)), frame(FrameType.DATA, 0, 1, Buffer.alloc(16384))))).toEqual([]);
    streams[0].consumed(16384);
    expect(updates(t.feed())).toEqual([]);
    streams[0].consumed(16384);
    expect(updates(t.feed())).toEqual([[1, 32768]]);
    expect(got).toEqual([16384, 16384]);
  });

  it('resets a stream whose peer sends past its window (FLOW_CONTROL_ERROR), other streams unharmed', () => {
    const streams: H2Stream[] = [];
    const t = session('server', { onStream: (s) => void streams.push(s) }, { initialStreamWindowSize: 16384 });
    const post = literalBlock([':method', 'POST', ':scheme', 'http', ':path', '/']);
    t.feed(frame(H, Flag.END_HEADERS, 1, post), frame(H, Flag.END_HEADERS, 3, post));
    for (const s of streams) s.handlers.onData = () => undefined; // never consumed
    const fs = t.feed(
      frame(FrameType.DATA, 0, 1, Buffer.alloc(16384)),
      frame(FrameType.DATA, 0, 1, Buffer.alloc(1)),
      frame(FrameType.DATA, 0, 3, Buffer.alloc(10)),
    );
    expect(fs.find((f) => f.type === FrameType.RST_STREAM && f.id === 1)?.payload.readUInt32BE(0)).toBe(ErrorCode.FLOW_CONTROL_ERROR);
    expect(streams[1].received).toBe(10);
    expect(t.s.closed).toBe(false);
  });

  it('ends the connection when the peer sends past the connection window', () => {
    const streams: H2Stream[] = [];
    const t = session(
      'server',
      { onStream: (s) => void streams.push(s) },
      { initialConnectionWindowSize: 65535, initialStreamWindowSize: 65535 },
    );
    const post = literalBlock([':method', 'POST', ':scheme', 'http', ':path', '/']);
    t.feed(frame(H, Flag.END_HEADERS, 1, post), frame(H, Flag.END_HEADERS, 3, post));
    for (const s of streams) s.handlers.onData = () => undefined;
    const big = Buffer.alloc(16384);
    const fs = t.feed(...[1, 1, 1, 3, 3].map((id) => frame(FrameType.DATA, 0, id, big)));
    expect(fs.find((f) => f.type === FrameType.GOAWAY)?.payload.readUInt32BE(4)).toBe(ErrorCode.FLOW_CONTROL_ERROR);
  });

  it('gives the connection window back for what a reset stream had received and nobody consumed', () => {
    const t = session(
      'server',
      { onStream: (s) => void (s.handlers = { onData: () => undefined }) },
      { initialConnectionWindowSize: 65535 },
    );
    const post = literalBlock([':method', 'POST', ':scheme', 'http', ':path', '/']);
    const chunk = Buffer.alloc(16000);
    // Ten streams of 16000 bytes each, never consumed, each reset by the client: 160000 bytes through a 65535-byte window.
    for (let i = 0; i < 10; i++) {
      const id = 2 * i + 1;
      const fs = t.feed(
        frame(H, Flag.END_HEADERS, id, post),
        frame(FrameType.DATA, 0, id, chunk),
        frame(FrameType.RST_STREAM, 0, id, u32(ErrorCode.CANCEL)),
      );
      expect(fs.find((f) => f.type === FrameType.GOAWAY)).toBeUndefined();
    }
    expect(t.s.closed).toBe(false);
  });
});
