/**
 * Where a request carries a JWT, by a rule's locations in Envoy's order: headers (with their
 * prefix, `Authorization: Bearer <token>` by default), then query parameters, then cookies.
 */
import type { JwtRuleConfig } from '../../contract/jwt';

/** The request as the verifier sees it: protocol-free. */
export interface JwtRequestView {
  /** A header's value by lowercase name (repeated headers joined as the codec joins them). */
  header(name: string): string | undefined;
  /** The request target's query, without `?` ('' when none). */
  readonly query: string;
  /** For the CORS preflight bypass; absent: not a preflight. */
  readonly method?: string;
}

export interface FoundToken {
  readonly token: string;
  /** The header it came in (lowercase), for removal upstream; absent for a parameter or cookie. */
  readonly header?: string;
}

function queryParam(query: string, name: string): string | undefined {
  if (query === '') return undefined;
  const v = new URLSearchParams(query).get(name);
  return v === null || v === '' ? undefined : v;
}

function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

/** The first token at one of the rule's locations, or undefined. */
export function locateToken(rule: JwtRuleConfig, req: JwtRequestView): FoundToken | undefined {
  for (const h of rule.fromHeaders) {
    const value = req.header(h.name)?.trim();
    if (!value) continue;
    if (!h.prefix) return { token: value, header: h.name };
    // Envoy compares the prefix as given (`Bearer `); a value without it is not this location's token.
    if (value.startsWith(h.prefix) && value.length > h.prefix.length) return { token: value.slice(h.prefix.length).trim(), header: h.name };
  }
  for (const p of rule.fromParams) {
    const token = queryParam(req.query, p);
    if (token) return { token };
  }
  if (rule.fromCookies.length) {
    const header = req.header('cookie');
    for (const c of rule.fromCookies) {
      const token = cookie(header, c);
      if (token) return { token };
    }
  }
  return undefined;
}
