/**
 * Frames on the wire: the reader finds the same frames however the bytes are cut into reads,
 * and holds no more than one frame's bytes; the writer gathers a turn's frames into one write;
 * SETTINGS values are checked as RFC 9113 §6.5.2 says.
 */
import { H2ConnectionError } from '../../../../../runtime/proxy/h2/codec/errors';
import { FrameReader } from '../../../../../runtime/proxy/h2/codec/frame-reader';
import { FrameWriter } from '../../../../../runtime/proxy/h2/codec/frame-writer';
import { ErrorCode, FrameType, SettingId } from '../../../../../runtime/proxy/h2/codec/frames';
import { applySettings, parseSettings, PROTOCOL_DEFAULTS } from '../../../../../runtime/proxy/h2/codec/settings';
import { frame, frames } from './wire';

function read(chunks: Buffer[], max = 16384): string[] {
  const got: string[] = [];
  const reader = new FrameReader(
    { frame: (type, flags, id, buf, start, end) => void got.push(`${type}/${flags}/${id}/${buf.toString('hex', start, end)}`) },
    max,
  );
  for (const c of chunks) reader.push(c);
  return got;
}

describe('FrameReader', () => {
  const bytes = Buffer.concat([
    frame(FrameType.PING, 0, 0, Buffer.from('12345678')),
    frame(FrameType.DATA, 1, 3, Buffer.alloc(300, 7)),
    frame(FrameType.SETTINGS, 1, 0),
  ]);
  const whole = read([bytes]);

  it('reads whole frames from one buffer', () => {
    expect(whole.map((f) => f.split('/').slice(0, 3).join('/'))).toEqual(['6/0/0', '0/1/3', '4/1/0']);
  });

  it('finds the same frames cut at every byte', () => {
    for (let cut = 1; cut < bytes.length; cut++) expect(read([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(whole);
    expect(read([...bytes].map((b) => Buffer.from([b])))).toEqual(whole);
  });

  it('joins a frame sent a byte per read once, not once per byte (no quadratic copying)', () => {
    const big = frame(FrameType.DATA, 0, 1, Buffer.alloc(4000, 9));
    const concat = jest.spyOn(Buffer, 'concat');
    try {
      const got = read([...big].map((b) => Buffer.from([b])));
      expect(got).toHaveLength(1);
      const copied = concat.mock.results.reduce((n, r) => n + (r.value as Buffer).length, 0);
      expect(copied).toBeLessThan(2 * big.length);
    } finally {
      concat.mockRestore();
    }
  });

  it('refuses a frame longer than its maximum from its header alone (FRAME_SIZE_ERROR)', () => {
    const header = frame(FrameType.DATA, 0, 1, Buffer.alloc(100)).subarray(0, 9);
    expect(() => read([header], 99)).toThrow(H2ConnectionError);
    try {
      read([header], 99);
    } catch (err) {
      expect((err as H2ConnectionError).errorCode).toBe(ErrorCode.FRAME_SIZE_ERROR);
    }
  });
});

describe('FrameWriter', () => {
  function sink() {
    const writes: Buffer[][] = [];
    let corked: Buffer[] | undefined;
    return {
      writes,
      write: (b: Buffer) => {
        if (corked) corked.push(Buffer.from(b));
        else writes.push([Buffer.from(b)]);
        return true;
      },
      cork: () => void (corked = []),
      uncork: () => {
        if (corked) writes.push(corked);
        corked = undefined;
      },
    };
  }

  it('gathers the frames of one turn into one write', async () => {
    const s = sink();
    const w = new FrameWriter(s);
    for (let i = 0; i < 50; i++) w.frame(FrameType.PING, 0, 0, Buffer.alloc(8));
    expect(s.writes).toHaveLength(0);
    await Promise.resolve();
    expect(s.writes).toHaveLength(1);
    expect(frames(s.writes[0][0])).toHaveLength(50);
  });

  it('sends a large DATA payload by reference, in the same corked write as the frames around it', async () => {
    const s = sink();
    const w = new FrameWriter(s);
    const big = Buffer.alloc(20000, 1);
    w.frame(FrameType.HEADERS, 4, 1, Buffer.from([0x88]));
    w.data(1, 1, big);
    await Promise.resolve();
    expect(s.writes).toHaveLength(1);
    const all = Buffer.concat(s.writes[0]);
    expect(frames(all).map((f) => [f.type, f.payload.length])).toEqual([
      [FrameType.HEADERS, 1],
      [FrameType.DATA, 20000],
    ]);
  });
});

describe('SETTINGS', () => {
  const entry = (id: number, v: number) => {
    const b = Buffer.alloc(6);
    b.writeUInt16BE(id, 0);
    b.writeUInt32BE(v, 2);
    return b;
  };
  const apply = (...b: Buffer[]) => {
    const buf = Buffer.concat(b);
    return applySettings({ ...PROTOCOL_DEFAULTS }, parseSettings(buf, 0, buf.length));
  };
  const codeOf = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return (err as H2ConnectionError).errorCode;
    }
    return undefined;
  };

  it.each([
    ['SETTINGS_ENABLE_PUSH 2', () => apply(entry(SettingId.ENABLE_PUSH, 2)), ErrorCode.PROTOCOL_ERROR],
    ['SETTINGS_INITIAL_WINDOW_SIZE 2^31', () => apply(entry(SettingId.INITIAL_WINDOW_SIZE, 2 ** 31)), ErrorCode.FLOW_CONTROL_ERROR],
    ['SETTINGS_MAX_FRAME_SIZE 16383', () => apply(entry(SettingId.MAX_FRAME_SIZE, 16383)), ErrorCode.PROTOCOL_ERROR],
    ['SETTINGS_MAX_FRAME_SIZE 2^24', () => apply(entry(SettingId.MAX_FRAME_SIZE, 2 ** 24)), ErrorCode.PROTOCOL_ERROR],
    ['a length not a multiple of 6', () => parseSettings(Buffer.alloc(7), 0, 7), ErrorCode.FRAME_SIZE_ERROR],
  ])('refuses %s', (_what, f, code) => {
    expect(codeOf(f)).toBe(code);
  });

  it('ignores identifiers it does not know and returns the initial window’s change', () => {
    expect(apply(entry(0x99, 5), entry(SettingId.INITIAL_WINDOW_SIZE, 65535 + 100))).toBe(100);
  });
});
