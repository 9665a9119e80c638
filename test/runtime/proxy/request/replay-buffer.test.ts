/**
 * The replay buffer's rules, as the three codec paths rely on them: a body within the bound can be
 * sent again whole; once more than the bound went upstream, or a try began before the body was
 * complete, a retry would send part of it; chunks held for a try to come stop the client past the bound.
 */
import { MAX_REPLAY_BYTES, ReplayBuffer } from '../../../../runtime/proxy/request/replay-buffer';

const bytes = (n: number, fill = 'x') => Buffer.alloc(n, fill);
const total = (chunks: readonly Buffer[]) => chunks.reduce((n, c) => n + c.length, 0);

test('held before a try, sent to it, and replayed whole to a retry', () => {
  const b = new ReplayBuffer();
  expect(b.add(bytes(10, 'a'), false, false)).toBe(false);
  expect(b.add(bytes(10, 'b'), true, false)).toBe(false);
  expect(Buffer.concat(b.replay()).toString()).toBe('a'.repeat(10) + 'b'.repeat(10));
  expect(b.sentPartially).toBe(false);
  expect(Buffer.concat(b.replay()).toString()).toBe('a'.repeat(10) + 'b'.repeat(10));
});

test('chunks a try takes as they come are kept for a retry while within the bound', () => {
  const b = new ReplayBuffer();
  expect(b.replay()).toEqual([]);
  b.add(bytes(MAX_REPLAY_BYTES / 2), false, true);
  // The body is not complete: a retry now would send part of it.
  expect(b.sentPartially).toBe(true);
  b.add(bytes(MAX_REPLAY_BYTES / 2), true, true);
  expect(b.sentPartially).toBe(false);
  expect(total(b.replay())).toBe(MAX_REPLAY_BYTES);
});

test('more than the bound sent upstream: nothing kept, no retry', () => {
  const b = new ReplayBuffer();
  b.add(bytes(MAX_REPLAY_BYTES), false, true);
  b.add(bytes(1), true, true);
  expect(b.sentPartially).toBe(true);
  expect(b.replay()).toEqual([]);
});

test('past the bound while no try is ready: all held, the client told to stop, sent once and then streamed', () => {
  const b = new ReplayBuffer();
  expect(b.add(bytes(MAX_REPLAY_BYTES), false, false)).toBe(false);
  expect(b.add(bytes(1), false, false)).toBe(true);
  expect(b.full).toBe(true);
  expect(total(b.replay())).toBe(MAX_REPLAY_BYTES + 1);
  expect(b.full).toBe(false);
  b.add(bytes(5), true, true);
  expect(b.sentPartially).toBe(true);
});

test('a request without a body: done from the start, nothing to send, retried freely', () => {
  const b = new ReplayBuffer(true);
  expect(b.hasBody).toBe(false);
  expect(b.replay()).toEqual([]);
  expect(b.sentPartially).toBe(false);
});

test('has a body while one may come, or once bytes came; an empty one that ended has none', () => {
  const b = new ReplayBuffer();
  expect(b.hasBody).toBe(true);
  b.end();
  expect(b.hasBody).toBe(false);
  const c = new ReplayBuffer();
  c.add(bytes(3), true, true);
  expect(c.hasBody).toBe(true);
});
