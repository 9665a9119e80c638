/** gRPC messages counted across any split of their length prefixes and bodies (Envoy's grpc_stats counts). */
import { GrpcMessageCounter } from '../../../runtime/proxy/grpc-messages';

const message = (length: number, flag = 0) => {
  const b = Buffer.alloc(5 + length, 7);
  b[0] = flag;
  b.writeUInt32BE(length, 1);
  return b;
};

test('whole messages in one chunk, empty ones, a compressed one', () => {
  const c = new GrpcMessageCounter();
  c.push(Buffer.concat([message(3), message(0), message(300, 1)]));
  expect(c.count).toBe(3);
});

test('the same bytes split at every offset count the same', () => {
  const bytes = Buffer.concat([message(10), message(0), message(70_000), message(1)]);
  for (let cut = 1; cut < 40; cut++) {
    const c = new GrpcMessageCounter();
    for (let i = 0; i < bytes.length; i += cut) c.push(bytes.subarray(i, i + cut));
    expect(c.count).toBe(4);
  }
  const byByte = new GrpcMessageCounter();
  for (const b of message(300)) byByte.push(Uint8Array.of(b));
  expect(byByte.count).toBe(1);
});

test('a message is counted as soon as its prefix starts, its body still to come (a stream cut short counts what began)', () => {
  const c = new GrpcMessageCounter();
  c.push(message(1000).subarray(0, 3));
  expect(c.count).toBe(1);
});
