/**
 * Random frames (seeded, so every run draws the same) into a session of either role: nothing a
 * peer sends throws inside the codec (it would end the connection with INTERNAL_ERROR), a session
 * that gives up says why with GOAWAY, and what it
 * holds stays within its limits. Mixed in: well-formed requests and responses, so the random
 * frames meet open streams and half-gathered header blocks, not only an idle connection.
 */
import { ErrorCode, FrameType } from '../../../../../runtime/proxy/h2/codec/frames';
import type { Role } from '../../../../../runtime/proxy/h2/codec/session';
import { seededRandom } from '../../../../support/seeded-random';
import { type Frame, frame, GET, literalBlock, session } from './wire';

function randomFrames(random: () => number, role: Role, n: number): Buffer[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const bytes = (len: number) => Buffer.from(Array.from({ length: len }, () => Math.floor(random() * 256)));
  const ids = [0, 1, 2, 3, 5, 7, 9, 0x7fffffff];
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const r = random();
    if (r < 0.2) {
      const block = literalBlock(role === 'server' ? GET : [':status', '200']);
      out.push(frame(FrameType.HEADERS, pick([0x4, 0x5, 0x0, 0x1, 0x25, 0x2d]), pick(ids), block));
    } else {
      const type = pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x42]);
      const len = pick([0, 1, 4, 5, 6, 8, 9, 12, Math.floor(random() * 64)]);
      out.push(frame(type, Math.floor(random() * 256), pick(ids), bytes(len)));
    }
  }
  return out;
}

describe.each(['server', 'client'] as const)('random frames into a %s session', (role) => {
  it('never throw out of the codec; a closed session sent GOAWAY; streams stay within the limit', () => {
    const random = seededRandom(role === 'server' ? 7 : 11);
    let closedWithGoaway = 0;
    for (let run = 0; run < 400; run++) {
      const t = session(role, { onStream: (s) => void (s.handlers = { onData: (x, c) => x.consumed(c.length) }) });
      if (role === 'client') for (let i = 0; i < 3; i++) t.s.request(GET, i === 0);
      const written: Frame[] = [];
      for (const f of randomFrames(random, role, 30)) {
        written.push(...t.feed(f));
        if (t.s.closed) break;
      }
      expect(t.s.streams.size).toBeLessThanOrEqual(100);
      if (t.s.closed) {
        const goaway = written.find((f) => f.type === FrameType.GOAWAY);
        // INTERNAL_ERROR is what a throw inside the codec becomes: a bug, never a peer's fault.
        expect(goaway?.payload.readUInt32BE(4)).not.toBe(ErrorCode.INTERNAL_ERROR);
        expect(goaway).toBeDefined();
        closedWithGoaway++;
      }
    }
    // Random bytes are mostly protocol errors: most runs end that way, with the reason sent.
    expect(closedWithGoaway).toBeGreaterThan(200);
  });
});
