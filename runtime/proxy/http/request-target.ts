/**
 * The request target's form (RFC 9112 §3.2): origin form (`/path?query`, nearly every request,
 * handled by the caller without a call here), absolute form (`http://host/path`: its authority
 * replaces Host, §3.2.2, as Envoy does), asterisk form (`*`, OPTIONS only). Anything else —
 * authority form (CONNECT, which mast does not tunnel), another scheme, a userinfo, a
 * relative path — is refused rather than guessed at. A `#fragment` never gets here: the head
 * parser refuses it (a client never sends one; a proxy that kept it would route on one path
 * and send another).
 */
import { HttpError } from './head';

export interface NonOriginTarget {
  /** The path and query to route on and send upstream (`*` for OPTIONS *). */
  readonly path: string;
  /** Absolute form: the authority that replaces Host. */
  readonly authority?: string;
}

const ABSOLUTE = /^https?:\/\/([^/?]*)(.*)$/i;
/** RFC 3986 authority without userinfo: an IP literal or a reg-name (unreserved, sub-delims, escapes), then an optional port. */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]*)?$/;

const badTarget = (why: string) => new HttpError(400, 'bad_target', why);

/** A target that does not start with `/`. */
export function nonOriginTarget(method: string, target: string): NonOriginTarget {
  if (target === '*') {
    if (method !== 'OPTIONS') throw badTarget('the asterisk form is for OPTIONS only');
    return { path: '*' };
  }
  const m = ABSOLUTE.exec(target);
  if (!m) throw badTarget('request target is neither a path nor an http(s) URL');
  const authority = m[1];
  if (!authority) throw badTarget('absolute URL without a host');
  // RFC 9110 §4.2.4: userinfo in an http(s) URI is deprecated; a sender must not send it.
  if (authority.includes('@')) throw badTarget('userinfo in the request target');
  if (!AUTHORITY.test(authority)) throw badTarget('bad authority in the request target');
  const rest = m[2];
  return { authority, path: rest === '' ? '/' : rest.charCodeAt(0) === 0x3f /* ? */ ? `/${rest}` : rest };
}
