/**
 * The push protocol's reading side as pure tables: lines split from a byte stream, and each line
 * turned into a typed message or a typed error with a stable code (docs/push-protocol.md).
 */
import {
  LineReader,
  ProtocolError,
  type PushErrorCode,
  encode,
  parseHello,
  parseProxyMessage,
  parseServerMessage,
} from '../../../runtime/contract/push-protocol';

const HELLO = { type: 'hello', id: 'gw-1', identity: { mode: 'gateway', namespace: 'mast-system', labels: { istio: 'ingressgateway' } } };
const line = (v: unknown) => JSON.stringify(v);
const codeOf = (r: { ok: true } | { ok: false; error: ProtocolError }) => (r.ok ? 'ok' : r.error.code);

describe('push stream line reader', () => {
  test('a message split anywhere, even inside a UTF-8 character, arrives whole; blank lines are skipped', () => {
    const bytes = Buffer.from('{"name":"café ☕"}\n\n{"n":2}\n');
    const got: unknown[] = [];
    const reader = new LineReader();
    for (let i = 0; i < bytes.length; i += 3) reader.push(bytes.subarray(i, i + 3), (l) => got.push(JSON.parse(l)));
    expect(got).toEqual([{ name: 'café ☕' }, { n: 2 }]);
  });

  test('a megabyte line in 16 KB chunks arrives whole; a line over the limit is MAST_PUSH_TOO_LONG', () => {
    const bytes = Buffer.from(`${JSON.stringify({ pad: 'x'.repeat(4_000_000) })}\n`);
    const reader = new LineReader();
    let got = 0;
    for (let i = 0; i < bytes.length; i += 16384) reader.push(bytes.subarray(i, i + 16384), () => got++);
    expect(got).toBe(1);
    const small = new LineReader(1000);
    expect(() => small.push(Buffer.alloc(2000, 'a'), () => undefined)).toThrow(expect.objectContaining({ code: 'MAST_PUSH_TOO_LONG' }));
  });
});

describe('a line from a proxy (read by mastd)', () => {
  const cases: [string, string, PushErrorCode | 'ok'][] = [
    ['a hello', line(HELLO), 'ok'],
    ['a hello that takes deltas', line({ ...HELLO, features: ['delta'] }), 'ok'],
    ['an ACK', line({ type: 'ack', version: 'v7' }), 'ok'],
    ['a NACK with its reason', line({ type: 'nack', version: 'v7', error: 'EADDRINUSE' }), 'ok'],
    ['a NACK without a reason', line({ type: 'nack', version: 'v7' }), 'ok'],
    ['a certificate request', line({ type: 'csr', csr: '-----BEGIN CERTIFICATE REQUEST-----' }), 'ok'],
    ['not JSON', 'this is not json', 'MAST_PUSH_NOT_JSON'],
    ['JSON that is not an object', '[1,2]', 'MAST_PUSH_UNKNOWN_TYPE'],
    ['an object without a type', line({ version: 'v1' }), 'MAST_PUSH_UNKNOWN_TYPE'],
    ['a type proxies do not send', line({ type: 'config', version: 'v1', config: {} }), 'MAST_PUSH_UNKNOWN_TYPE'],
    ['an ACK without a version', line({ type: 'ack' }), 'MAST_PUSH_BAD_FIELD'],
    ['an ACK whose version is a number', line({ type: 'ack', version: 7 }), 'MAST_PUSH_BAD_FIELD'],
    ['a NACK whose reason is an object', line({ type: 'nack', version: 'v1', error: { no: 1 } }), 'MAST_PUSH_BAD_FIELD'],
    ['a CSR that is not text', line({ type: 'csr', csr: null }), 'MAST_PUSH_BAD_FIELD'],
    ['a hello whose id is not a name', line({ ...HELLO, id: 'a b' }), 'MAST_PUSH_BAD_HELLO'],
    ['a hello of another mode', line({ ...HELLO, identity: { ...HELLO.identity, mode: 'waypoint' } }), 'MAST_PUSH_BAD_HELLO'],
    ['a hello without a namespace', line({ ...HELLO, identity: { ...HELLO.identity, namespace: '' } }), 'MAST_PUSH_BAD_HELLO'],
    ['a hello with a label that is not text', line({ ...HELLO, identity: { ...HELLO.identity, labels: { v: 2 } } }), 'MAST_PUSH_BAD_HELLO'],
    ['a hello whose features are not strings', line({ ...HELLO, features: [1] }), 'MAST_PUSH_BAD_HELLO'],
    [
      'a hello whose locality is not text',
      line({ ...HELLO, identity: { ...HELLO.identity, locality: ['region1'] } }),
      'MAST_PUSH_BAD_HELLO',
    ],
  ];
  test.each(cases)('%s: %s → %s', (_what, text, code) => {
    expect(codeOf(parseProxyMessage(text))).toBe(code);
  });

  test('the message read is typed and holds only its own fields', () => {
    expect(parseProxyMessage(line({ type: 'nack', version: 'v3', extra: 1 }))).toEqual({
      ok: true,
      message: { type: 'nack', version: 'v3', error: '' },
    });
    const hello = parseHello(line({ ...HELLO, features: ['delta'], stray: true }));
    expect(hello).toEqual({ ok: true, message: { ...HELLO, features: ['delta'] } });
  });

  test('the first line must be a hello: anything else, however valid, is MAST_PUSH_BAD_HELLO', () => {
    expect(codeOf(parseHello(line({ type: 'ack', version: 'v1' })))).toBe('MAST_PUSH_BAD_HELLO');
    expect(codeOf(parseHello('{'))).toBe('MAST_PUSH_NOT_JSON');
    expect(codeOf(parseHello(line(HELLO)))).toBe('ok');
  });
});

describe('a line from mastd (read by the proxy)', () => {
  const cases: [string, string, PushErrorCode | 'ok'][] = [
    ['a config', line({ type: 'config', version: 'v1', config: { version: 'v1', listeners: [], clusters: [] } }), 'ok'],
    ['a delta', line({ type: 'delta', version: 'v2', delta: { base: 'v1', listeners: [] } }), 'ok'],
    ['a certificate', line({ type: 'certificate', certificate: 'C', root: 'R', expiresAt: '2026-12-08T00:00:00Z' }), 'ok'],
    ['an error', line({ type: 'error', error: 'MAST_PUSH_OVER_CAP: ...' }), 'ok'],
    ['a type a newer mastd might send', line({ type: 'goaway' }), 'MAST_PUSH_UNKNOWN_TYPE'],
    ['a config without its config', line({ type: 'config', version: 'v1' }), 'MAST_PUSH_BAD_FIELD'],
    ['a delta without a version', line({ type: 'delta', delta: {} }), 'MAST_PUSH_BAD_FIELD'],
    ['a certificate without its root', line({ type: 'certificate', certificate: 'C', expiresAt: 'x' }), 'MAST_PUSH_BAD_FIELD'],
    ['not JSON', '{"type":', 'MAST_PUSH_NOT_JSON'],
  ];
  test.each(cases)('%s: %s → %s', (_what, text, code) => {
    expect(codeOf(parseServerMessage(text))).toBe(code);
  });

  test('what encode writes, the parser reads back as the same message (the wire format both sides share)', () => {
    const msgs = [
      { type: 'ack', version: 'v9' },
      { type: 'nack', version: 'v9', error: 'bad' },
      { type: 'csr', csr: 'PEM' },
    ] as const;
    for (const m of msgs) expect(parseProxyMessage(encode(m).trimEnd())).toEqual({ ok: true, message: m });
    const cert = { type: 'certificate', certificate: 'C', root: 'R', expiresAt: 'T' } as const;
    expect(parseServerMessage(encode(cert).trimEnd())).toEqual({ ok: true, message: cert });
  });

  test('errors are ProtocolErrors carrying their code', () => {
    const r = parseServerMessage('nope');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBeInstanceOf(ProtocolError);
  });
});
