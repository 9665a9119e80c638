/**
 * The codec's defences on loopback, through its relay: each attack ends or bounds its own
 * connection, and a well-behaved client on another connection is served meanwhile (and after).
 * Limits are the codec's defaults, Envoy's edge values.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { CLIENT_PREFACE, ErrorCode, Flag, FrameType, SettingId } from '../../../../runtime/proxy/h2/codec/frames';
import { HpackDecoder } from '../../../../runtime/proxy/h2/codec/hpack-decoder';
import { type Frame, frame, frames, GET, literalBlock, u32 } from './codec/wire';
import { type RunningRelay, startRelay } from './codec-relay';

jest.setTimeout(30_000);

let backend: http2.Http2Server;
let relay: RunningRelay;
/** Bytes the /big route handed to node:http2 so far. */
let streamed = 0;

beforeAll(async () => {
  backend = http2.createServer();
  backend.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    stream.respond({ ':status': 200 });
    if (headers[':path'] !== '/big') return void stream.end('ok');
    const chunk = Buffer.alloc(16384);
    streamed = 0;
    const more = () => {
      while (streamed < 64 * 1024 * 1024) {
        streamed += chunk.length;
        if (!stream.write(chunk)) return void stream.once('drain', more);
      }
      stream.end();
    };
    more();
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  relay = await startRelay((backend.address() as net.AddressInfo).port);
});

afterAll(async () => {
  await relay.close();
  await new Promise((r) => backend.close(r));
});

/** A well-behaved request on a connection of its own: its status. */
function served(): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${relay.port}`);
    client.on('error', reject);
    const req = client.request({ ':path': '/' });
    req.on('response', (h) => {
      resolve(Number(h[':status']));
      client.close();
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * An attacker's connection: the preface, empty SETTINGS, then `attack`'s bytes; what it got back
 * within `ms` (or until the relay closed it). `readAfter`: it reads nothing until it has sent everything.
 */
async function attack(
  bytes: Buffer[],
  ms = 1500,
  settings = frame(FrameType.SETTINGS, 0, 0),
): Promise<{ frames: Frame[]; closed: boolean; sock: net.Socket }> {
  const sock = net.connect(relay.port, '127.0.0.1');
  const got: Buffer[] = [];
  let closed = false;
  sock.on('data', (d) => got.push(d));
  sock.on('error', () => undefined);
  const done = new Promise<void>((r) => sock.on('close', () => ((closed = true), r())));
  await new Promise((r) => sock.once('connect', r));
  sock.write(Buffer.concat([CLIENT_PREFACE, settings, ...bytes]));
  await Promise.race([done, new Promise((r) => setTimeout(r, ms))]);
  return { frames: frames(Buffer.concat(got)), closed, sock };
}

const goaway = (fs: Frame[]) => fs.find((f) => f.type === FrameType.GOAWAY)?.payload.readUInt32BE(4);
const post = literalBlock([':method', 'POST', ':scheme', 'http', ':authority', 'a', ':path', '/']);

describe('attacks end or bound their own connection; other connections are served', () => {
  it('rapid reset (CVE-2023-44487): streams opened and reset at once', async () => {
    const block = literalBlock(GET);
    const bytes = Array.from({ length: 1000 }, (_, i) =>
      Buffer.concat([
        frame(FrameType.HEADERS, Flag.END_HEADERS, 2 * i + 1, block),
        frame(FrameType.RST_STREAM, 0, 2 * i + 1, u32(ErrorCode.CANCEL)),
      ]),
    );
    const [a, ok] = await Promise.all([attack(bytes), served()]);
    expect(goaway(a.frames)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(a.closed).toBe(true);
    expect(ok).toBe(200);
    expect(await served()).toBe(200);
  });

  it('CONTINUATION flood: a header block that never ends', async () => {
    const bytes = [
      frame(FrameType.HEADERS, 0, 1, literalBlock(GET).subarray(0, 4)),
      ...Array.from({ length: 10000 }, () => frame(FrameType.CONTINUATION, 0, 1, [0x40])),
    ];
    const [a, ok] = await Promise.all([attack(bytes), served()]);
    expect(goaway(a.frames)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(a.closed).toBe(true);
    expect(ok).toBe(200);
  });

  it('HPACK bomb: one 4000-byte table entry referenced 1000 times is a 431 on that stream; the connection goes on in sync', async () => {
    // Literal with incremental indexing, new name "x-b" (RFC 7541 §6.2.1), value 4000 bytes (integer 127 + 3873).
    const entry = Buffer.concat([Buffer.from([0x40, 3]), Buffer.from('x-b'), Buffer.from([0x7f, 0xa1, 0x1e]), Buffer.alloc(4000, 0x61)]);
    const bomb = Buffer.concat([literalBlock(GET), entry, Buffer.alloc(1000, 0x80 | 62)]);
    const after = Buffer.concat([literalBlock(GET), Buffer.from([0x80 | 62])]);
    const a = await attack([
      frame(FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, 1, bomb),
      frame(FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, 3, after),
    ]);
    const decoder = new HpackDecoder();
    const heads = a.frames.filter((f) => f.type === FrameType.HEADERS).map((f) => [f.id, decoder.decode(f.payload).slice(0, 2)]);
    expect(heads).toEqual([
      [1, [':status', '431']],
      [3, [':status', '200']],
    ]);
    expect(goaway(a.frames)).toBeUndefined();
    a.sock.destroy();
    expect(await served()).toBe(200);
  });

  it('PING flood from a peer that reads nothing back', async () => {
    const ping = frame(FrameType.PING, 0, 0, Buffer.alloc(8));
    const [a, ok] = await Promise.all([attack(Array.from({ length: 100_000 }, () => ping)), served()]);
    expect(goaway(a.frames)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(ok).toBe(200);
  });

  it('SETTINGS flood', async () => {
    const settings = frame(FrameType.SETTINGS, 0, 0);
    const [a, ok] = await Promise.all([attack(Array.from({ length: 100_000 }, () => settings)), served()]);
    expect(goaway(a.frames)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(ok).toBe(200);
  });

  it('empty DATA frames flood', async () => {
    const bytes = [
      frame(FrameType.HEADERS, Flag.END_HEADERS, 1, post),
      ...Array.from({ length: 10000 }, () => frame(FrameType.DATA, 0, 1)),
    ];
    const [a, ok] = await Promise.all([attack(bytes), served()]);
    expect(goaway(a.frames)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(ok).toBe(200);
  });

  it('more streams than SETTINGS_MAX_CONCURRENT_STREAMS: the extra ones refused', async () => {
    const bytes = Array.from({ length: 150 }, (_, i) => frame(FrameType.HEADERS, Flag.END_HEADERS, 2 * i + 1, post));
    const [a, ok] = await Promise.all([attack(bytes, 800), served()]);
    const refused = a.frames.filter((f) => f.type === FrameType.RST_STREAM && f.payload.readUInt32BE(0) === ErrorCode.REFUSED_STREAM);
    expect(refused).toHaveLength(50);
    expect(a.closed).toBe(false);
    a.sock.destroy();
    expect(ok).toBe(200);
  });

  it('zero-window stall: a client that never opens its window holds at most the windows upstream, not the 64 MB response', async () => {
    const zeroWindow = Buffer.alloc(6);
    zeroWindow.writeUInt16BE(SettingId.INITIAL_WINDOW_SIZE, 0);
    const big = literalBlock([':method', 'GET', ':scheme', 'http', ':authority', 'a', ':path', '/big']);
    const a = await attack(
      [frame(FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, 1, big)],
      1500,
      frame(FrameType.SETTINGS, 0, 0, zeroWindow),
    );
    expect(a.frames.filter((f) => f.type === FrameType.DATA && f.payload.length)).toHaveLength(0);
    expect(streamed).toBeGreaterThan(0);
    // The relay's upstream stream window (64 KiB) plus node:http2's and the sockets' buffers.
    expect(streamed).toBeLessThan(4 * 1024 * 1024);
    expect(await served()).toBe(200);
    a.sock.destroy();
  });
});
