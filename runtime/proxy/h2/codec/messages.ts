/**
 * Is a decoded header list a well-formed HTTP/2 message (RFC 9113 §8.1.1, §8.2, §8.3)? Each check
 * returns why not (a malformed message is a stream PROTOCOL_ERROR), or undefined. Header lists
 * are flat: [name, value, name, value, …].
 */

/** Connection-specific fields, never in HTTP/2 (§8.2.2); `te` is allowed with `trailers` only. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
/**
 * A name's characters: RFC 9110's token, lower-case (§8.2.1 forbids upper case; nghttp2, which
 * node:http2 uses, refuses non-token bytes too, and an HTTP/1.1 hop could not carry them).
 */
const LOWER_TOKEN = (() => {
  const t = new Uint8Array(128);
  for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") t[c.charCodeAt(0)] = 1;
  return t;
})();
/** A value with a control character other than tab (NUL, CR and LF among them, §8.2.1), or starting or ending with a space or tab. */
function badValue(v: string): boolean {
  if (v.length && (v[0] === ' ' || v[0] === '\t' || v[v.length - 1] === ' ' || v[v.length - 1] === '\t')) return true;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}
const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);

/** Field-name and field-value checks shared by every kind of block; `pseudo` says which pseudo-headers may appear. */
function fieldsProblem(flat: readonly string[], pseudo: ReadonlySet<string>, seen: Map<string, string>): string | undefined {
  let regular = false;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i];
    const value = flat[i + 1];
    if (name.length === 0) return 'empty field name';
    if (name.charCodeAt(0) === 0x3a /* ':' */) {
      if (regular) return `pseudo-header ${name} after a regular field`;
      if (!pseudo.has(name)) return `pseudo-header ${name} not allowed here`;
      if (seen.has(name)) return `duplicate ${name}`;
      seen.set(name, value);
      continue;
    }
    regular = true;
    for (let c = 0; c < name.length; c++) {
      const ch = name.charCodeAt(c);
      if (ch > 0x7f || !LOWER_TOKEN[ch]) return `field name ${JSON.stringify(name)} not lower-case token`;
    }
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name}`;
    // A transfer coding's name is case-insensitive (RFC 9110 §10.1.4): `TE: Trailers` is as good (nghttp2 takes it too).
    if (name === 'te' && value.toLowerCase() !== 'trailers') return `te: ${value}`;
    if (badValue(value)) return `bad value of ${name}`;
    if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) return `content-length ${JSON.stringify(value)}`;
      const before = seen.get('content-length');
      if (before !== undefined && before !== value) return 'conflicting content-length';
      seen.set('content-length', value);
    }
  }
  return undefined;
}

export interface RequestHead {
  readonly method: string;
  /** The declared body length, or -1. */
  readonly contentLength: number;
}

/**
 * A request head's problem (§8.3.1), or its method and content-length. `extendedConnect`: we
 * announced SETTINGS_ENABLE_CONNECT_PROTOCOL, so CONNECT may carry `:protocol` (RFC 8441 §4);
 * without it, `:protocol` makes a request malformed.
 */
export function checkRequest(flat: readonly string[], extendedConnect = false): string | RequestHead {
  const seen = new Map<string, string>();
  const why = fieldsProblem(flat, REQUEST_PSEUDO, seen);
  if (why) return why;
  const method = seen.get(':method');
  if (!method) return 'missing :method';
  const protocol = seen.has(':protocol');
  if (protocol && (!extendedConnect || method !== 'CONNECT')) return ':protocol not allowed';
  if (method === 'CONNECT' && !protocol) {
    if (seen.has(':scheme') || seen.has(':path')) return 'CONNECT with :scheme or :path';
    if (!seen.has(':authority')) return 'CONNECT without :authority';
  } else {
    const scheme = seen.get(':scheme');
    if (!scheme) return 'missing :scheme';
    const path = seen.get(':path');
    if (!path) return 'missing or empty :path';
    // An http(s) target is origin-form, or asterisk-form for OPTIONS (§8.3.1; nghttp2 refuses the same).
    if ((scheme === 'http' || scheme === 'https') && path[0] !== '/' && !(path === '*' && method === 'OPTIONS'))
      return `:path ${JSON.stringify(path)} neither absolute nor * for OPTIONS`;
  }
  const cl = seen.get('content-length');
  return { method, contentLength: cl === undefined ? -1 : Number(cl) };
}

const RESPONSE_PSEUDO = new Set([':status']);

/** A response head's problem (§8.3.2), or its status and content-length. */
export function checkResponse(flat: readonly string[]): string | { status: number; contentLength: number } {
  const seen = new Map<string, string>();
  const why = fieldsProblem(flat, RESPONSE_PSEUDO, seen);
  if (why) return why;
  const s = seen.get(':status');
  if (!s || !/^\d{3}$/.test(s)) return `missing or bad :status ${s ?? ''}`;
  const cl = seen.get('content-length');
  return { status: Number(s), contentLength: cl === undefined ? -1 : Number(cl) };
}

const NONE = new Set<string>();

/**
 * Why a block this side is about to send could not go on the wire, or undefined: a name that is
 * empty, upper-case or connection-specific, `te` other than `trailers`, a pseudo-header after a
 * regular field. The application's mistake, never the peer's: node:http2 throws for the same.
 */
export function outgoingProblem(flat: readonly string[]): string | undefined {
  let regular = false;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i];
    if (!name) return 'empty field name';
    if (name.charCodeAt(0) === 0x3a) {
      if (regular) return `pseudo-header ${name} after a regular field`;
      continue;
    }
    regular = true;
    if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && flat[i + 1].toLowerCase() !== 'trailers'))
      return `connection-specific field ${name}`;
    if (name !== name.toLowerCase()) return `upper-case field name ${name}`;
  }
  return undefined;
}

/** A trailer block's problem: no pseudo-headers (§8.1). */
export function checkTrailers(flat: readonly string[]): string | undefined {
  return fieldsProblem(flat, NONE, new Map());
}
