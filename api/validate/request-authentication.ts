/**
 * RequestAuthentication's rules local to one resource, as Istio's webhook checks `jwtRules`: one
 * key source per rule (inline `jwks` or `jwksUri`), a JWKS that parses, a URI mastd can fetch, and
 * no empty token location, audience or output header (each would match or write nothing).
 */
import { finding, type Finding } from '../findings';
import type { RequestAuthentication } from '../resources';

/** Inline JWKS text: JSON with a `keys` array of objects, each with a `kty`. */
export function jwksProblem(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  const keys = (doc as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) return 'no "keys" array with at least one key';
  const bad = keys.findIndex((k) => typeof k !== 'object' || k === null || typeof (k as { kty?: unknown }).kty !== 'string');
  return bad >= 0 ? `keys[${bad}] has no "kty"` : undefined;
}

/** A jwksUri mastd can fetch: an absolute http or https URL (Istio accepts both schemes). */
export function jwksUriProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'not an absolute URL';
  }
  return url.protocol === 'https:' || url.protocol === 'http:' ? undefined : `scheme ${url.protocol} (http or https only)`;
}

export function checkRequestAuthentication(ra: RequestAuthentication): Finding[] {
  const out: Finding[] = [];
  ra.spec.jwtRules?.forEach((rule, i) => {
    const at = `spec.jwtRules[${i}]`;
    if (rule.jwks !== undefined && rule.jwksUri !== undefined)
      out.push(finding('MAST0121', ra, `${at}.jwks`, 'set jwks or jwksUri, not both (which keys verify the token would be ambiguous)'));
    const jwks = rule.jwks !== undefined ? jwksProblem(rule.jwks) : undefined;
    if (jwks) out.push(finding('MAST0122', ra, `${at}.jwks`, `jwks: ${jwks}`));
    const uri = rule.jwksUri !== undefined ? jwksUriProblem(rule.jwksUri) : undefined;
    if (uri) out.push(finding('MAST0123', ra, `${at}.jwksUri`, `"${rule.jwksUri}": ${uri}`));
    const empty = (path: string, what: string) => out.push(finding('MAST0124', ra, `${at}.${path}`, `${what} is empty`));
    rule.audiences?.forEach((a, j) => a === '' && empty(`audiences[${j}]`, 'audience'));
    rule.fromHeaders?.forEach((h, j) => h.name === '' && empty(`fromHeaders[${j}].name`, 'header name'));
    rule.fromParams?.forEach((p, j) => p === '' && empty(`fromParams[${j}]`, 'query parameter name'));
    rule.fromCookies?.forEach((c, j) => c === '' && empty(`fromCookies[${j}]`, 'cookie name'));
    if (rule.outputPayloadToHeader === '') empty('outputPayloadToHeader', 'output header');
    rule.outputClaimToHeaders?.forEach((o, j) => {
      if (o.header === '') empty(`outputClaimToHeaders[${j}].header`, 'output header');
      if (o.claim === '') empty(`outputClaimToHeaders[${j}].claim`, 'claim name');
    });
  });
  return out;
}
