/**
 * Path normalization as a pure table, mode by mode. The expectations are Envoy's (its
 * path_utility tests and the behaviour Istio's modes configure), not re-derived from our code.
 */
import { HttpError } from '../../../../runtime/proxy/http/head';
import { normalizePath } from '../../../../runtime/proxy/http/normalize-path';
import type { PathNormalization } from '../../../../runtime/contract/proxy-config';

describe('normalizePath BASE (RFC 3986 §6, Istio default)', () => {
  test.each([
    // Already normal: unchanged.
    ['/xyz', '/xyz'],
    ['/x/y/z', '/x/y/z'],
    ['/', '/'],
    ['/A/B/C', '/A/B/C'], // case is never changed
    ['/a/b?x=1', '/a/b?x=1'],
    // Dot segments.
    ['/a/b/../c', '/a/c'],
    ['/a/b/./c', '/a/b/c'],
    ['/a/b/../../../../c', '/c'],
    ['/../a/b', '/a/b'],
    ['/./a/b', '/a/b'],
    ['/a/..', '/'],
    ['/a/b/..', '/a/'],
    ['/a/.', '/a/'],
    ['/a/...', '/a/...'], // not a dot segment
    ['/.well-known/x', '/.well-known/x'],
    ['/a/.b/c', '/a/.b/c'],
    // Backslash is a slash.
    ['/a/..\\c', '/c'],
    ['\\admin', '/admin'],
    // Escaped dots are dots; escaped unreserved characters are decoded.
    ['/a/b/%2E%2E/c', '/a/c'],
    ['/a/b/%2e%2e/c', '/a/c'],
    ['/a/b/%2E./c', '/a/c'],
    ['/a/b/%2E/c', '/a/b/c'],
    ['/%61dmin', '/admin'],
    ['/%41%7e%2D%5f%30', '/A~-_0'],
    // Reserved and other escapes stay as sent, hex case included (%2F is not made %2f).
    ['/a/%2F%2f/c', '/a/%2F%2f/c'],
    ['/%5c%25', '/%5c%25'],
    ['/%c0%af', '/%c0%af'],
    ['/a%2F..%2Fadmin', '/a%2F..%2Fadmin'],
    // Not escapes: the % stays.
    ['/a%zz/b', '/a%zz/b'],
    ['/a%', '/a%'],
    ['/a%4', '/a%4'],
    // No double decoding: %25 is '%'.
    ['/%252e%252e/admin', '/%252e%252e/admin'],
    // Slashes are not merged under BASE.
    ['/a//b', '/a//b'],
    // The query is never touched.
    ['/a/../b?p=/x/../y&q=%61', '/b?p=/x/../y&q=%61'],
    ['/a?', '/a?'],
    ['/./a?b/../c', '/a?b/../c'],
  ])('%s → %s', (input, out) => {
    expect(normalizePath(input, 'BASE')).toBe(out);
  });

  test('an ordinary path comes back as the same string', () => {
    const t = '/api/v1/users?id=7';
    expect(normalizePath(t, 'BASE')).toBe(t);
  });

  test.each(['/xyz/.%00../abc', '/xyz/%00.%00./abc', '/xyz/AAAAA%%0000/abc', '/a%00'])('%s is refused (400 bad_path)', (input) => {
    expect(() => normalizePath(input, 'BASE')).toThrow(HttpError);
    try {
      normalizePath(input, 'BASE');
    } catch (err) {
      expect((err as HttpError).status).toBe(400);
      expect((err as HttpError).code).toBe('bad_path');
    }
  });

  test('%00 in the query is not the path', () => {
    expect(normalizePath('/a?x=%00', 'BASE')).toBe('/a?x=%00');
    expect(normalizePath('/a?x=%00', 'NONE')).toBe('/a?x=%00');
  });

  test.each(['NONE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const)('%%00 is refused under %s too (Istio: always 400)', (mode) => {
    expect(() => normalizePath('/a/%00/b', mode)).toThrow(HttpError);
  });
});

describe('normalizePath: the other modes', () => {
  test.each<[PathNormalization, string, string]>([
    ['NONE', '/a/../b', '/a/../b'],
    ['NONE', '/%61', '/%61'],
    ['MERGE_SLASHES', '//a/b/c', '/a/b/c'],
    ['MERGE_SLASHES', '/a///b/c/', '/a/b/c/'],
    ['MERGE_SLASHES', '/a//b?a=///c', '/a/b?a=///c'],
    ['MERGE_SLASHES', '/a/%2F/b', '/a/%2F/b'],
    ['MERGE_SLASHES', '/a/..//b', '/b'],
    ['MERGE_SLASHES', '/a/b', '/a/b'],
    ['DECODE_AND_MERGE_SLASHES', '/a%2F..%2Fadmin', '/admin'],
    ['DECODE_AND_MERGE_SLASHES', '/a%2f%2fb', '/a/b'],
    ['DECODE_AND_MERGE_SLASHES', '/a%5C..%5cadmin', '/admin'],
    ['DECODE_AND_MERGE_SLASHES', '/public/%2e%2e/admin', '/admin'],
    ['DECODE_AND_MERGE_SLASHES', '/a?x=%2F', '/a?x=%2F'],
  ])('%s: %s → %s', (mode, input, out) => {
    expect(normalizePath(input, mode)).toBe(out);
  });
});
