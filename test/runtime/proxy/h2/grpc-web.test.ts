/**
 * gRPC-Web as Envoy's grpc_web filter translates it: which requests are gRPC-Web, the request as
 * gRPC, the `-text` body decoded as it streams, the response frames (base64 one by one for
 * `-text`), the trailers as a frame flagged 0x80, a non-gRPC response as a gRPC status.
 */
import {
  Base64Body,
  GrpcWebBodyError,
  grpcWebCall,
  grpcWebCallOn,
  grpcWebLocalReply,
  grpcWebRequestHeaders,
  GrpcWebResponse,
} from '../../../../runtime/proxy/h2/grpc-web';

/** A gRPC length-prefixed message frame. */
const frame = (text: string, flag = 0) => {
  const body = Buffer.from(text);
  const f = Buffer.alloc(5 + body.length);
  f[0] = flag;
  f.writeUInt32BE(body.length, 1);
  body.copy(f, 5);
  return f;
};

test.each([
  ['application/grpc-web', undefined, { textRequest: false, textResponse: false }],
  ['application/grpc-web+proto', 'application/grpc-web', { textRequest: false, textResponse: false }],
  ['application/grpc-web-text', 'application/grpc-web-text', { textRequest: true, textResponse: true }],
  ['application/grpc-web-text+proto', '*/*', { textRequest: true, textResponse: false }],
  ['application/grpc', undefined, undefined],
  ['application/grpc-web+json', undefined, undefined],
  ['application/grpc-web; charset=utf-8', undefined, undefined],
  [undefined, undefined, undefined],
])('content-type %s, accept %s: %o', (type, accept, call) => {
  expect(grpcWebCall(type, accept)).toEqual(call);
});

test('a listener translates every request (true) or those sent to its listed ports (a pod inbound)', () => {
  const type = 'application/grpc-web';
  expect(grpcWebCallOn({ grpcWeb: true }, undefined, type, undefined)).toBeDefined();
  expect(grpcWebCallOn({ grpcWeb: [8080] }, 8080, type, undefined)).toBeDefined();
  expect(grpcWebCallOn({ grpcWeb: [8080] }, 9090, type, undefined)).toBeUndefined();
  expect(grpcWebCallOn({}, 8080, type, undefined)).toBeUndefined();
});

test('the request goes as gRPC: content-type application/grpc, no content-length, grpc-accept-encoding identity unless given', () => {
  expect(
    grpcWebRequestHeaders([
      ['content-type', 'application/grpc-web-text'],
      ['content-length', '24'],
      ['x-grpc-web', '1'],
    ]),
  ).toEqual([
    ['x-grpc-web', '1'],
    ['content-type', 'application/grpc'],
    ['grpc-accept-encoding', 'identity'],
  ]);
  expect(grpcWebRequestHeaders([['grpc-accept-encoding', 'gzip']])).toContainEqual(['grpc-accept-encoding', 'gzip']);
});

test('a -text body decodes across chunk boundaries, padding between messages included', () => {
  const one = frame('hello').toString('base64');
  const two = frame('hi').toString('base64');
  const text = one + two;
  const body = new Base64Body();
  const parts: Buffer[] = [];
  // Split at awkward places: inside a group, right after padding.
  for (const [a, b] of [
    [0, 3],
    [3, one.length + 1],
    [one.length + 1, text.length],
  ])
    parts.push(body.take(Buffer.from(text.slice(a, b))));
  body.end();
  expect(Buffer.concat(parts)).toEqual(Buffer.concat([frame('hello'), frame('hi')]));
});

test("a -text body that is not base64 is Envoy's 400: bad symbols, or a partial group at the end", () => {
  expect(() => new Base64Body().take(Buffer.from('AAA*'))).toThrow(GrpcWebBodyError);
  const cut = new Base64Body();
  cut.take(Buffer.from('AAAAAA'));
  let error: unknown;
  try {
    cut.end();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(GrpcWebBodyError);
  expect((error as GrpcWebBodyError).details).toBe('grpc_base_64_decode_failed_bad_size');
  expect((error as GrpcWebBodyError).message).toBe('Bad gRPC-web request, invalid base64 data.');
});

test('binary: frames pass through, the trailers become the last frame (flag 0x80, name:value lines)', () => {
  const r = new GrpcWebResponse(false);
  const head = r.head(
    200,
    [
      ['content-type', 'application/grpc'],
      ['content-length', '99'],
      ['x-app', 'a'],
    ],
    false,
  );
  expect(head).toEqual({
    status: 200,
    headers: [
      ['x-app', 'a'],
      ['content-type', 'application/grpc-web+proto'],
    ],
  });
  expect(r.data(frame('msg'))).toEqual(frame('msg'));
  const { body } = r.end([
    ['grpc-status', '0'],
    ['grpc-message', 'ok'],
  ]);
  expect(body).toEqual(frame('grpc-status:0\r\ngrpc-message:ok\r\n', 0x80));
});

test('-text: each whole frame is base64 on its own, however the frames arrive; the trailers frame too', () => {
  const r = new GrpcWebResponse(true);
  expect(r.head(200, [['content-type', 'application/grpc']], false)?.headers).toContainEqual([
    'content-type',
    'application/grpc-web-text+proto',
  ]);
  const both = Buffer.concat([frame('first'), frame('second')]);
  const a = r.data(both.subarray(0, 7));
  const b = r.data(both.subarray(7));
  expect(a.toString()).toBe('');
  expect(b.toString()).toBe(frame('first').toString('base64') + frame('second').toString('base64'));
  expect(r.end([['grpc-status', '0']]).body.toString()).toBe(frame('grpc-status:0\r\n', 0x80).toString('base64'));
});

test('a trailers-only response keeps its status in the head', () => {
  const r = new GrpcWebResponse(false);
  expect(
    r.head(
      200,
      [
        ['content-type', 'application/grpc'],
        ['grpc-status', '14'],
      ],
      true,
    )?.headers,
  ).toEqual([
    ['grpc-status', '14'],
    ['content-type', 'application/grpc-web+proto'],
  ]);
});

test('a response that is not gRPC becomes a gRPC status: the HTTP status mapped, its body (16 KiB at most) the grpc-message', () => {
  const r = new GrpcWebResponse(false);
  expect(r.head(503, [['content-type', 'text/plain']], false)).toBeUndefined();
  expect(r.data(Buffer.from('over capacity\n'))).toHaveLength(0);
  expect(r.data(Buffer.alloc(20000, 'x'))).toHaveLength(0);
  const { head, body } = r.end(undefined);
  expect(body).toHaveLength(0);
  expect(head?.status).toBe(503);
  const h = Object.fromEntries(head!.headers);
  expect(h).toMatchObject({ 'content-type': 'application/grpc-web+proto', 'grpc-status': '14', 'content-length': '0' });
  expect(h['grpc-message']).toBe(`over capacity%0A${'x'.repeat(16384 - 14)}`);
});

test("a local reply keeps its HTTP status, maps it to a gRPC status, and gives a fault's grpcStatus with 200", () => {
  const call = { textRequest: true, textResponse: true };
  expect(grpcWebLocalReply(call, 404, 'route not found\n')).toEqual({
    status: 404,
    headers: [
      ['content-type', 'application/grpc-web-text+proto'],
      ['grpc-status', '12'],
      ['grpc-message', 'route not found'],
      ['content-length', '0'],
    ],
  });
  expect(grpcWebLocalReply({ textRequest: false, textResponse: false }, 503, 'fault filter abort', 8).status).toBe(200);
});
