/**
 * Path normalization as Istio configures Envoy through the mesh-wide `pathNormalization`:
 *
 * - NONE: the path as received.
 * - BASE (Istio's default; Envoy `normalize_path`): RFC 3986 §6 — percent-encoded unreserved
 *   characters decoded (`%61` → `a`, `%2e` → `.`), backslashes made slashes, dot segments
 *   removed (§5.2.4). Other escapes stay exactly as sent, hex case included (`%2F`, `%2f`,
 *   `%5C`): Istio sets `path_with_escaped_slashes_action: KEEP_UNCHANGED`.
 * - MERGE_SLASHES: BASE, then runs of slashes merged into one.
 * - DECODE_AND_MERGE_SLASHES: `%2F`/`%5C` decoded first (Envoy's UNESCAPE_AND_FORWARD), then MERGE_SLASHES.
 *
 * `%00` in the path is refused under every mode, NONE included, as Istio documents (a NUL
 * reaching an app written in C ends the path early there, and nowhere else). The query is
 * never touched. Pure; the one normalized path feeds routing, authorization and the upstream
 * request alike. (Istio's table of these: its "Authorization Policy Normalization" page.)
 */
import { HttpError } from './head';
import type { PathNormalization } from '../../contract/proxy-config';

const PERCENT = 0x25;
const DOT = 0x2e;
const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const QUESTION = 0x3f;

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~" (these escapes are decoded). */
const UNRESERVED = new Uint8Array(128);
for (let b = 0; b < 128; b++) UNRESERVED[b] = /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? 1 : 0;

const nulInPath = () => new HttpError(400, 'bad_path', 'NUL (%00) in the request path');

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

/**
 * The target (origin form: path, then `?query` if any) under `mode`; the very same string when
 * nothing changes (the usual case, found in one pass over the path with no allocation).
 * Throws HttpError 400 `bad_path` for a `%00`.
 */
export function normalizePath(target: string, mode: PathNormalization): string {
  if (mode === 'NONE') {
    const nul = target.indexOf('%00');
    if (nul >= 0 && !(target.lastIndexOf('?', nul) >= 0)) throw nulInPath();
    return target;
  }
  const merge = mode !== 'BASE';
  // Fast path: a path with no escape, no backslash, no segment starting with a dot (and, when
  // merging, no empty segment) is already normal. `/.well-known` takes the slow path: correct, rare.
  const n = target.length;
  let end = n;
  let prev = SLASH;
  let i = 0;
  for (; i < n; i++) {
    const c = target.charCodeAt(i);
    if (c === QUESTION) {
      end = i;
      break;
    }
    if (c === PERCENT || c === BACKSLASH || (c === DOT && prev === SLASH) || (merge && c === SLASH && prev === SLASH && i > 0))
      return slow(target, mode);
    prev = c;
  }
  if (target.charCodeAt(0) !== SLASH && end > 0) return slow(target, mode);
  return target;
}

function slow(target: string, mode: PathNormalization): string {
  const q = target.indexOf('?');
  const query = q < 0 ? '' : target.slice(q);
  let path = decode(q < 0 ? target : target.slice(0, q), mode === 'DECODE_AND_MERGE_SLASHES');
  path = removeDotSegments(path.replace(/\\/g, '/'));
  if (mode !== 'BASE') path = path.replace(/\/{2,}/g, '/');
  const out = path + query;
  // Keep the caller's string when the result is the same (e.g. `/.well-known`): it tells "unchanged" by identity.
  return out === target ? target : out;
}

/** One pass over the escapes: unreserved ones decoded (and, with `slashes`, %2F and %5C), others kept as sent. */
function decode(path: string, slashes: boolean): string {
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i >= 0 && i + 2 < path.length; i = path.indexOf('%', i + 1)) {
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) continue; // not an escape: the `%` stays as sent (as Envoy)
    const v = hi * 16 + lo;
    if (v === 0) throw nulInPath();
    if ((v < 128 && UNRESERVED[v] === 1) || (slashes && (v === SLASH || v === BACKSLASH))) {
      out += path.slice(from, i) + String.fromCharCode(v);
      from = i + 3;
      i += 2;
    }
  }
  return from === 0 ? path : out + path.slice(from);
}

/** RFC 3986 §5.2.4; a path not starting with `/` is made to (as Envoy does). */
function removeDotSegments(path: string): string {
  const segments = (path.charCodeAt(0) === SLASH ? path : `/${path}`).split('/');
  const out: string[] = [];
  // segments[0] is the empty string before the first slash.
  for (let k = 1; k < segments.length; k++) {
    const s = segments[k];
    if (s === '.' || s === '..') {
      if (s === '..') out.pop();
      // A trailing dot segment leaves its directory with a trailing slash: `/a/b/..` → `/a/`.
      if (k === segments.length - 1) out.push('');
      continue;
    }
    out.push(s);
  }
  return `/${out.join('/')}`;
}
