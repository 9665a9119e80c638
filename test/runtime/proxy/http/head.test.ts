/**
 * The HTTP/1.1 head parser as a pure table: what a head means (framing, keep-alive, headers)
 * and which heads are refused, with which status and code. The proxy tests cover the same
 * refusals over sockets; these pin every branch of the parser itself.
 */
import {
  DEFAULT_LIMITS,
  headEnd,
  HttpError,
  parseRequestHead,
  parseResponseHead,
  SEEN_HOP_BY_HOP,
  SEEN_X_FORWARDED_FOR,
  SEEN_X_FORWARDED_PROTO,
  SEEN_X_REQUEST_ID,
  type Limits,
} from '../../../../runtime/proxy/http/head';

const bytes = (s: string) => Buffer.from(s, 'latin1');
const request = (s: string, limits: Limits = DEFAULT_LIMITS) => {
  const b = bytes(s);
  return parseRequestHead(b, 0, headEnd(b), limits);
};
const response = (s: string) => {
  const b = bytes(s);
  return parseResponseHead(b, 0, headEnd(b));
};
const refusal = (parse: () => unknown) => {
  try {
    parse();
  } catch (err) {
    if (err instanceof HttpError) return { status: err.status, code: err.code };
    throw err;
  }
  throw new Error('the head was accepted');
};

describe('headEnd', () => {
  test.each([
    ['GET / HTTP/1.1\r\nHost: a\r\n\r\n', 27],
    ['GET / HTTP/1.1\r\nHost: a\r\n\r\nbody', 27],
    ['GET / HTTP/1.1\r\nHost: a\r\n\r', -1],
    ['GET / HTTP/1.1\r\nHost: a\n\n', -1],
    ['', -1],
    ['\r\n\r\n', 4],
  ])('%j ends at %d', (head, end) => expect(headEnd(bytes(head))).toBe(end));

  test('finds the end of a head far into a large buffer, and from an offset', () => {
    const big = bytes(`GET / HTTP/1.1\r\nx-big: ${'a'.repeat(10_000)}\r\n\r\nnext`);
    expect(headEnd(big)).toBe(big.length - 4);
    const two = bytes('GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(headEnd(two, 28)).toBe(two.length);
  });

  test('agrees with a plain search for CRLFCRLF on bytes made mostly of CR, LF and one other', () => {
    // The scan skips bytes that cannot end the head; runs of CR and LF are where a skip could go wrong.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
    const alphabet = [13, 10, 13, 10, 97];
    for (let n = 0; n < 2000; n++) {
      const b = Buffer.from(Array.from({ length: next() % 40 }, () => alphabet[next() % alphabet.length]));
      const from = b.length > 0 ? next() % b.length : 0;
      const i = b.indexOf('\r\n\r\n', from, 'latin1');
      expect([b.toString('hex'), from, headEnd(b, from)]).toEqual([b.toString('hex'), from, i < 0 ? -1 : i + 4]);
    }
  });
});

describe('request heads', () => {
  test('request line, headers lowercased in order with values trimmed of spaces and tabs', () => {
    const h = request(
      'GET /api/v1/products?x=1 HTTP/1.1\r\nHost: alpha.example.com\r\nX-Request-ID:  req-1 \t\r\nEnd-User:jason\r\nx-empty:\r\n\r\n',
    );
    expect(h).toMatchObject({
      method: 'GET',
      target: '/api/v1/products?x=1',
      http10: false,
      keepAlive: true,
      contentLength: -1,
      chunked: false,
      upgrade: false,
      expectContinue: false,
    });
    expect(h.headers).toEqual(['host', 'alpha.example.com', 'x-request-id', 'req-1', 'end-user', 'jason', 'x-empty', '']);
  });

  test('a header by its lowercase name, whatever case it was sent in; the first of several; names alone, in order', () => {
    const h = request('GET / HTTP/1.1\r\nHOST: a\r\nX-Many: 1\r\nx-many: 2\r\nUser-Agent: t\r\nX-Custom-Thing: z\r\n\r\n');
    expect(h.header('host')).toBe('a');
    expect(h.header('x-many')).toBe('1');
    expect(h.header('x-custom-thing')).toBe('z');
    expect(h.header('missing')).toBeUndefined();
    expect(h.names).toEqual(['host', 'x-many', 'x-many', 'user-agent', 'x-custom-thing']);
  });

  test('the value a connection had last time, offered as likely, is taken only when the bytes are the same', () => {
    const b = bytes('GET /api/v2 HTTP/1.1\r\nHost:  Alpha.example.com \r\n\r\n');
    const likely = (target: string) => parseRequestHead(b, 0, headEnd(b), DEFAULT_LIMITS, target);
    expect(likely('/api/v2').target).toBe('/api/v2');
    // Same length, other bytes; other length; another case: the request's own target, not the hint.
    expect(likely('/api/v1').target).toBe('/api/v2');
    expect(likely('/api').target).toBe('/api/v2');
    expect(likely('/API/V2').target).toBe('/api/v2');
    const h = likely('/');
    expect(h.header('host', 'Alpha.example.com')).toBe('Alpha.example.com');
    expect(h.header('host', 'alpha.example.com')).toBe('Alpha.example.com');
    expect(h.header('host', 'Alpha.example.co')).toBe('Alpha.example.com');
    expect(h.header('host', 'Alpha.example.org')).toBe('Alpha.example.com');
    expect(h.header('missing', 'x')).toBeUndefined();
  });

  test.each([
    ['nothing a proxy adds to', 'GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n', 0],
    ['Connection', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n', SEEN_HOP_BY_HOP],
    ['Keep-Alive', 'GET / HTTP/1.1\r\nHost: a\r\nKeep-Alive: timeout=5\r\n\r\n', SEEN_HOP_BY_HOP],
    ['TE', 'GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n', SEEN_HOP_BY_HOP],
    ['Trailer', 'GET / HTTP/1.1\r\nHost: a\r\nTrailer: x\r\n\r\n', SEEN_HOP_BY_HOP],
    ['Upgrade', 'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n', SEEN_HOP_BY_HOP],
    ['Proxy-Connection', 'GET / HTTP/1.1\r\nHost: a\r\nProxy-Connection: close\r\n\r\n', SEEN_HOP_BY_HOP],
    [
      'the forwarding headers',
      'GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\nx-request-id: r\r\nX-Forwarded-Proto: https\r\n\r\n',
      SEEN_X_FORWARDED_FOR | SEEN_X_REQUEST_ID | SEEN_X_FORWARDED_PROTO,
    ],
  ])('seen: %s', (_what, head, seen) => expect(request(head).seen).toBe(seen));

  test.each([
    ['none', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', -1],
    ['one: where its value ends, trailing spaces left after', 'GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4  \r\n\r\n', 49],
    ['two lines', 'GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\nx-forwarded-for: 5.6.7.8\r\n\r\n', -1],
    ['an empty one', 'GET / HTTP/1.1\r\nX-Forwarded-For: \r\n\r\n', -1],
  ])('x-forwarded-for to extend in place: %s', (_what, head, end) => expect(request(head).forwardedForEnd).toBe(end));

  test.each([
    ['none', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', -1, -1],
    ['keep-alive: the whole line', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n', 25, 49],
    ['close, any case, in a list', 'GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n', 16, 47],
    ['a token naming a header', 'GET / HTTP/1.1\r\nConnection: keep-alive, x-secret\r\n\r\n', -1, -1],
    ['upgrade', 'GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n', -1, -1],
    ['with a Keep-Alive header', 'GET / HTTP/1.1\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n', -1, -1],
    ['two Connection lines', 'GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n', -1, -1],
    ['TE alone', 'GET / HTTP/1.1\r\nTE: trailers\r\n\r\n', -1, -1],
  ])('a Connection line to leave out in place: %s', (_what, head, start, end) => {
    const h = request(head);
    expect([h.connectionLineStart, h.connectionLineEnd]).toEqual([start, end]);
  });

  test.each([
    ['HTTP/1.1 by default', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', true],
    ['HTTP/1.1 with Connection: close', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', false],
    ['HTTP/1.1 with a close token in a list, any case', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: TE, Close\r\n\r\n', false],
    ['HTTP/1.0 by default', 'GET / HTTP/1.0\r\n\r\n', false],
    ['HTTP/1.0 with Connection: keep-alive', 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n', true],
  ])('keep-alive: %s', (_what, head, keepAlive) => expect(request(head).keepAlive).toBe(keepAlive));

  test('body framing: Content-Length, chunked; a repeated Content-Length is refused even when equal (as llhttp)', () => {
    expect(request('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n').contentLength).toBe(42);
    expect(request('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n').chunked).toBe(true);
    expect(refusal(() => request('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n'))).toEqual({
      status: 400,
      code: 'bad_content_length',
    });
  });

  test('Upgrade counts only with Connection: upgrade; Expect: 100-continue is seen', () => {
    expect(request('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n').upgrade).toBe(true);
    expect(request('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n').upgrade).toBe(false);
    // h2c is never an upgrade (as Envoy's HTTP/1 codec): the request is plain HTTP/1.1, its Upgrade and HTTP2-Settings hop-by-hop.
    const h2c = request(
      'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: H2C\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
    );
    expect(h2c.upgrade).toBe(false);
    expect(h2c.seen & SEEN_HOP_BY_HOP).toBe(SEEN_HOP_BY_HOP);
    expect(request('GET / HTTP/1.1\r\nHost: a\r\nHTTP2-Settings: x\r\n\r\n').seen & SEEN_HOP_BY_HOP).toBe(SEEN_HOP_BY_HOP);
    expect(request('PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-Continue\r\n\r\n').expectContinue).toBe(true);
  });

  test('a CONNECT parses, its target in authority form (the connection refuses it: no route takes it)', () => {
    expect(request('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n')).toMatchObject({ method: 'CONNECT', target: 'a:443' });
  });

  test('header values keep obs-text bytes and inner spaces', () => {
    expect(request('GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xe9 au lait\r\n\r\n').headers[3]).toBe('caf\xe9 au lait');
  });

  test('an unusual but valid header name is accepted as a token', () => {
    expect(request("GET / HTTP/1.1\r\nHost: a\r\nX-Odd!#$%&'*+.^_`|~9: v\r\n\r\n").headers[2]).toBe("x-odd!#$%&'*+.^_`|~9");
  });

  test.each([
    ['a request line without a target', 'GET\r\n\r\n', 400, 'bad_request_line'],
    ['a request line with one space', 'GET /\r\n\r\n', 400, 'bad_request_line'],
    ['a space inside the target', 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad_request_line'],
    ['a control character in the target', 'GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad_request_line'],
    ['a method that is not a token', 'G(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad_request_line'],
    ['a method neither llhttp nor Envoy knows', 'FOO / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'unknown_method'],
    ['a lowercase method', 'get / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'unknown_method'],
    ['a non-ASCII byte in the target', 'GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad_request_line'],
    [
      'a tab after a Content-Length value (llhttp refuses it)',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\t\r\n\r\n',
      400,
      'bad_content_length',
    ],
    [
      'a tab after a Transfer-Encoding value (llhttp refuses it)',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked \t\r\n\r\n',
      400,
      'bad_transfer_encoding',
    ],
    ['a fragment in the target', 'GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'fragment_in_target'],
    ['two Host headers', 'GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n', 400, 'duplicate_host'],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505, 'bad_version'],
    ['a version that is not HTTP', 'GET / FOO/1.1\r\nHost: a\r\n\r\n', 400, 'bad_version'],
    ['obs-fold with a space', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  folded\r\n\r\n', 400, 'obs_fold'],
    ['obs-fold with a tab', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tfolded\r\n\r\n', 400, 'obs_fold'],
    ['a line without a colon', 'GET / HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n', 400, 'bad_header'],
    ['an empty header name', 'GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n', 400, 'bad_header'],
    ['a space before the colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400, 'bad_header'],
    ['a name that is not a token', 'GET / HTTP/1.1\r\nHo(st: a\r\n\r\n', 400, 'bad_header'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n', 400, 'bad_header'],
    ['a bare LF in a value', 'GET / HTTP/1.1\r\nHost: a\nX-B: c\r\n\r\n', 400, 'bad_header'],
    ['a bare CR in a value', 'GET / HTTP/1.1\r\nHost: a\rX-B: c\r\n\r\n', 400, 'bad_header'],
    ['a vertical tab at the edge of a value', 'GET / HTTP/1.1\r\nHost: a\x0b\r\n\r\n', 400, 'bad_header'],
    ['DEL in a value', 'GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n', 400, 'bad_header'],
    ['a Content-Length that is not a number', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\n', 400, 'bad_content_length'],
    ['a negative Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', 400, 'bad_content_length'],
    ['a Content-Length of 16 digits', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1234567890123456\r\n\r\n', 400, 'bad_content_length'],
    ['a Content-Length list', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n', 400, 'bad_content_length'],
    [
      'two different Content-Lengths',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n',
      400,
      'bad_content_length',
    ],
    [
      'both Content-Length and Transfer-Encoding',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
      400,
      'smuggling',
    ],
    [
      'Transfer-Encoding before Content-Length',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n',
      400,
      'smuggling',
    ],
    ['a coding other than chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 501, 'bad_transfer_encoding'],
    ['chunked not last', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 501, 'bad_transfer_encoding'],
    [
      'chunked twice over two lines',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n',
      501,
      'bad_transfer_encoding',
    ],
  ])('refuses %s', (_what, head, status, code) => expect(refusal(() => request(head))).toEqual({ status, code }));

  test('header count and head size limits give 431', () => {
    const limits = { ...DEFAULT_LIMITS, maxHeaders: 3, maxHeadBytes: 200 };
    expect(request('GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n', limits).headers).toHaveLength(6);
    expect(refusal(() => request('GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n', limits))).toEqual({
      status: 431,
      code: 'too_many_headers',
    });
    expect(refusal(() => request(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'v'.repeat(200)}\r\n\r\n`, limits))).toEqual({
      status: 431,
      code: 'head_too_large',
    });
  });

  test('a head within a larger buffer is parsed from its offset', () => {
    const b = bytes('junkGET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y');
    const h = parseRequestHead(b, 4, headEnd(b, 4));
    expect(h.target).toBe('/x');
    expect(h.headers).toEqual(['host', 'a']);
  });
});

describe('response heads', () => {
  test("status, reason and an nginx response's headers", () => {
    const h = response(
      'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 23 Nov 2026 19:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 16\r\nConnection: keep-alive\r\n\r\n',
    );
    expect(h).toMatchObject({ status: 200, reason: 'OK', http10: false, keepAlive: true, contentLength: 16, chunked: false });
    expect(h.headers).toEqual([
      'server',
      'nginx/1.22.1',
      'date',
      'Mon, 23 Nov 2026 19:00:00 GMT',
      'content-type',
      'text/plain',
      'content-length',
      '16',
      'connection',
      'keep-alive',
    ]);
  });

  test.each([
    ['no reason', 'HTTP/1.1 204\r\n\r\n', 204, ''],
    ['an empty reason', 'HTTP/1.1 404 \r\n\r\n', 404, ''],
    ['a reason with spaces', 'HTTP/1.1 503 Service Unavailable\r\n\r\n', 503, 'Service Unavailable'],
  ])('a status line with %s', (_what, head, status, reason) => expect(response(head)).toMatchObject({ status, reason }));

  test('HTTP/1.0 responses are never kept alive; Connection: close ends a 1.1 one', () => {
    expect(response('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n').keepAlive).toBe(false);
    expect(response('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n').keepAlive).toBe(false);
  });

  test('a response may carry twice as many headers as a request', () => {
    const many = Array.from({ length: 150 }, (_, i) => `x-h${i}: v\r\n`).join('');
    expect(response(`HTTP/1.1 200 OK\r\n${many}\r\n`).headers).toHaveLength(300);
    expect(refusal(() => response(`HTTP/1.1 200 OK\r\n${many}${many}\r\n`))).toEqual({ status: 431, code: 'too_many_headers' });
  });

  test.each([
    ['HTTP/2', 'HTTP/2 200 OK\r\n\r\n', 502, 'bad_upstream_status'],
    ['a two-digit status', 'HTTP/1.1 20 OK\r\n\r\n', 502, 'bad_upstream_status'],
    ['a four-digit status', 'HTTP/1.1 2000 OK\r\n\r\n', 502, 'bad_upstream_status'],
    ['a status below 100 (llhttp reads 000 as a final response)', 'HTTP/1.1 000 Continue\r\n\r\n', 502, 'bad_upstream_status'],
    ['no space after the version', 'HTTP/1.1200 OK\r\n\r\n', 502, 'bad_upstream_status'],
    ['a bare CR in the reason', 'HTTP/1.1 200 O\rK\r\n\r\n', 502, 'bad_upstream_status'],
    [
      'both Content-Length and Transfer-Encoding',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
      400,
      'smuggling',
    ],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: b\r\n folded\r\n\r\n', 400, 'obs_fold'],
  ])('refuses %s', (_what, head, status, code) => expect(refusal(() => response(head))).toEqual({ status, code }));
});
